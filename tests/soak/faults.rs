//! The faults: small filesystems that run out of space and get it back, collectors killed with
//! `kill -9` and restarted, ClickHouse stopped and restarted.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracewire_e2e::clickhouse_front::ClickHouseFront;
use tracewire_e2e::collector::Collector;

/// A directory on a tmpfs of a fixed size, unmounted when dropped; or a plain directory where
/// mounting is not allowed (not root), in which case it cannot be filled.
pub struct SmallDisk {
    path: PathBuf,
    mounted: bool,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (e.g. `1g`) on `path`, created as needed.
    pub fn mount(path: &Path, size: &str) -> io::Result<Self> {
        fs::create_dir_all(path)?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .stderr(std::process::Stdio::null())
            .status();
        Ok(Self {
            path: path.to_owned(),
            mounted: matches!(status, Ok(s) if s.success()),
        })
    }

    /// Whether it is a real small filesystem that can be filled.
    pub fn mounted(&self) -> bool {
        self.mounted
    }

    /// Its directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn filler(&self) -> PathBuf {
        self.path.join("filler")
    }

    /// Takes all free space: a file grows until the filesystem refuses more. Called again, it
    /// takes what was freed since (as a busy disk would).
    pub fn fill(&self) -> io::Result<u64> {
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.filler())?;
        let chunk = vec![0u8; 1 << 20];
        let mut written = 0u64;
        for size in [1 << 20, 64 << 10, 4 << 10] {
            loop {
                match file.write(&chunk[..size]) {
                    Ok(0) => break,
                    Ok(n) => written += n as u64,
                    Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(written)
    }

    /// Gives the space back.
    pub fn free(&self) -> io::Result<()> {
        match fs::remove_file(self.filler()) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(&self.path).status();
        }
    }
}

/// A collector shared by the fault schedule and the final checks.
pub type Shared = Arc<Mutex<Collector>>;

/// Locks a shared collector.
pub fn lock(collector: &Shared) -> std::sync::MutexGuard<'_, Collector> {
    collector.lock().unwrap_or_else(|e| e.into_inner())
}

/// Kills `collector` with SIGKILL and starts it again with the same arguments (same ports),
/// retrying a start that fails (it may, while its disk is full) every second; answers how
/// many starts failed.
pub fn kill_and_restart(collector: &Shared) -> u32 {
    let mut collector = lock(collector);
    collector.kill();
    let mut failures = 0;
    loop {
        match Collector::try_start_with_args(collector.args().to_vec()) {
            Ok(started) => {
                *collector = started;
                return failures;
            }
            Err(e) => {
                failures += 1;
                if failures == 1 {
                    eprintln!("soak: a collector did not start after kill -9: {e}");
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

/// What the fault schedule did.
#[derive(Debug, Default)]
pub struct Done {
    /// `kill -9` per collector (SQLite, ClickHouse).
    pub kills: [u32; 2],
    /// Starts after a kill that failed and were retried.
    pub failed_starts: u32,
    /// Bytes taken by fillers.
    pub filled: u64,
}

/// Runs the fault schedule against both collectors, the front and the disks until `end`.
pub fn run(
    settings: &crate::config::Settings,
    start: Instant,
    collectors: [Shared; 2],
    front: &mut ClickHouseFront,
    disks: &[SmallDisk],
) -> Done {
    let mut done = Done::default();
    let (ch_down, ch_up) = settings.clickhouse_outage();
    let (full, space) = settings.disk_full();
    let mut next_kill = [settings.kill_every / 2, settings.kill_every];
    let (mut ch_stopped, mut ch_restarted, mut filled, mut freed) = (false, false, false, false);
    while start.elapsed() < settings.duration {
        let now = start.elapsed();
        if !ch_stopped && now >= ch_down {
            front.stop().expect("ClickHouse front stops");
            ch_stopped = true;
        }
        if ch_stopped && !ch_restarted && now >= ch_up {
            front.restart().expect("ClickHouse front restarts");
            ch_restarted = true;
        }
        if now >= full && now < space {
            for disk in disks.iter().filter(|d| d.mounted()) {
                done.filled += disk.fill().expect("filler");
            }
            filled = true;
        }
        if filled && !freed && now >= space {
            for disk in disks {
                disk.free().expect("filler removed");
            }
            freed = true;
        }
        for (i, collector) in collectors.iter().enumerate() {
            if now >= next_kill[i] && now < settings.kills_until() {
                done.failed_starts += kill_and_restart(collector);
                done.kills[i] += 1;
                next_kill[i] += settings.kill_every;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if ch_stopped && !ch_restarted {
        front.restart().expect("ClickHouse front restarts");
    }
    for disk in disks {
        let _ = disk.free();
    }
    done
}
