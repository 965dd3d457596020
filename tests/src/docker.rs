//! Docker for the container test: whether an engine answers, a local Debian base image made with
//! `debootstrap` (public images cannot be pulled here), and `docker` commands with their output.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Set to `1` to make a missing Docker engine, `debootstrap` or release binary a failure rather
/// than a skip (the test suite sets it once it has started the engine itself).
pub const REQUIRE_ENV: &str = "TRACEWIRE_REQUIRE_DOCKER";
/// The local base image the test builds on.
pub const BASE_IMAGE: &str = "tracewire-test-base:bookworm";

/// Runs `docker` with `args`; its output, whatever the exit status.
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("docker {args:?} does not run: {e}"))
}

/// Runs `docker` with `args` and answers its trimmed stdout; panics with stderr on failure.
pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Why the container test cannot run here, if it cannot: no engine answering.
pub fn unavailable() -> Option<String> {
    match Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "the Docker engine does not answer ({}); install docker.io and start dockerd",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Some(format!(
            "there is no docker command ({e}); install docker.io"
        )),
    }
}

/// Whether skips must be failures ([`REQUIRE_ENV`]).
pub fn required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1")
}

/// Makes [`BASE_IMAGE`] unless the engine has it: `debootstrap --variant=minbase bookworm` into
/// a directory under `work`, imported with `docker import`. The image stays in the engine, so
/// this runs once per machine. An error says what is missing.
pub fn ensure_base_image(work: &Path) -> Result<(), String> {
    if docker(&["image", "inspect", BASE_IMAGE]).status.success() {
        return Ok(());
    }
    let root = work.join("rootfs");
    let status = Command::new("debootstrap")
        .args(["--variant=minbase", "bookworm"])
        .arg(&root)
        .arg("http://deb.debian.org/debian")
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("debootstrap does not run ({e}); apt-get install debootstrap"))?;
    if !status.success() {
        return Err(format!("debootstrap failed ({status})"));
    }
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("tar: {e}"))?;
    let imported = Command::new("docker")
        .args(["import", "-", BASE_IMAGE])
        .stdin(tar.stdout.ok_or("tar has no stdout")?)
        .output()
        .map_err(|e| format!("docker import: {e}"))?;
    let _ = std::fs::remove_dir_all(&root);
    if !imported.status.success() {
        return Err(format!(
            "docker import failed: {}",
            String::from_utf8_lossy(&imported.stderr)
        ));
    }
    Ok(())
}
