//! Builds the web UI in `../www` with npm and embeds it into the collector.
//!
//! `npm ci --omit=dev` runs when `www/node_modules` is missing or older than
//! `www/package-lock.json` (the test tools, vitest and playwright-core, are not needed); then
//! `npm run build` type-checks, bundles with Vite into `$OUT_DIR/ui` and writes a gzip copy of
//! each text asset. A generated `$OUT_DIR/ui_assets.rs` lists every file with `include_bytes!`,
//! so the one binary carries the UI. A lock file in `www/` keeps two cargo processes (say `check`
//! and `build` in different target directories) from running npm in the same folder at once.
//!
//! Set `TRACEWIRE_UI_DIST` to a directory that `npm run build` already produced to skip npm.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(
        env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| fail("CARGO_MANIFEST_DIR is not set")),
    );
    let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_else(|_| fail("OUT_DIR is not set")));
    let www = manifest.join("..").join("www");
    for input in [
        "src",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "tsconfig.json",
        "scripts",
    ] {
        println!("cargo:rerun-if-changed={}", www.join(input).display());
    }
    println!("cargo:rerun-if-env-changed=TRACEWIRE_UI_DIST");

    let dist = match env::var_os("TRACEWIRE_UI_DIST") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let dist = out.join("ui");
            build_ui(&www, &dist);
            dist
        }
    };
    if !dist.join("index.html").is_file() {
        fail(&format!(
            "{} has no index.html; the UI build did not produce one",
            dist.display()
        ));
    }
    let mut files = Vec::new();
    collect(&dist, &dist, &mut files);
    files.sort();
    fs::write(out.join("ui_assets.rs"), generate(&dist, &files))
        .unwrap_or_else(|e| fail(&format!("cannot write ui_assets.rs: {e}")));
}

/// Stops the build with a message cargo shows to the user.
fn fail(message: &str) -> ! {
    eprintln!("error: building the Tracewire web UI (www/): {message}");
    std::process::exit(1);
}

fn npm() -> Command {
    Command::new(if cfg!(windows) { "npm.cmd" } else { "npm" })
}

fn build_ui(www: &Path, dist: &Path) {
    if npm()
        .arg("--version")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        fail(
            "npm was not found. The collector embeds its web UI, which is built with Node.js \
             (version 20 or newer) and npm: install them (https://nodejs.org, or your package \
             manager's `nodejs` and `npm`) and build again. To embed a UI built elsewhere, set \
             TRACEWIRE_UI_DIST to the output directory of `npm run build` in www/.",
        );
    }
    let lock = fs::File::create(www.join(".build.lock"))
        .unwrap_or_else(|e| fail(&format!("cannot create www/.build.lock: {e}")));
    lock.lock()
        .unwrap_or_else(|e| fail(&format!("cannot lock www/.build.lock: {e}")));

    let lockfile = www.join("package-lock.json");
    let installed = www.join("node_modules").join(".package-lock.json");
    let stale = match (modified(&installed), modified(&lockfile)) {
        (Some(installed), Some(wanted)) => installed < wanted,
        _ => true,
    };
    if stale {
        run(
            npm()
                .args([
                    "ci",
                    "--omit=dev",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                ])
                .current_dir(www),
            "npm ci",
        );
    }
    run(
        npm()
            .args(["run", "build", "--silent"])
            .env("TRACEWIRE_UI_OUT_DIR", dist)
            .current_dir(www),
        "npm run build",
    );
    // Dropping the file releases the lock.
    drop(lock);
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn run(cmd: &mut Command, what: &str) {
    match cmd.status() {
        Ok(status) if status.success() => {}
        Ok(status) => fail(&format!(
            "`{what}` in www/ failed ({status}); its output is above"
        )),
        Err(e) => fail(&format!("cannot run `{what}`: {e}")),
    }
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", dir.display())));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.extension().is_none_or(|e| e != "gz") {
            files.push(
                path.strip_prefix(root)
                    .map(Path::to_path_buf)
                    .unwrap_or(path),
            );
        }
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" | "map" => "application/json",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn generate(dist: &Path, files: &[PathBuf]) -> String {
    let mut code =
        String::from("// Generated by collector/build.rs from the web UI build. Do not edit.\n\n");
    code.push_str("/// Every file of the web UI build.\npub(crate) static ASSETS: &[Asset] = &[\n");
    for rel in files {
        let url = format!("/{}", rel.to_string_lossy().replace('\\', "/"));
        let full = dist.join(rel);
        let gz = PathBuf::from(format!("{}.gz", full.display()));
        let gzip = if gz.is_file() {
            format!("Some(include_bytes!({:?}))", gz.display().to_string())
        } else {
            "None".to_owned()
        };
        let _ = writeln!(
            code,
            "    Asset {{ path: {url:?}, content_type: {:?}, body: include_bytes!({:?}), gzip: {gzip}, immutable: {} }},",
            content_type(rel),
            full.display().to_string(),
            url.starts_with("/assets/"),
        );
    }
    code.push_str("];\n");
    code
}
