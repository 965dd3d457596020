//! Starts `tracewire-collector` as a child process on free ports and reads the bound addresses
//! from its log. The binary comes from `TRACEWIRE_COLLECTOR_BIN`, or from the cargo target
//! directory these tests were built in (build it first: `cargo build -p tracewire-collector`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Environment variable naming the collector binary.
pub const COLLECTOR_BIN_ENV: &str = "TRACEWIRE_COLLECTOR_BIN";

/// How long a collector may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The collector binary to run.
pub fn binary() -> PathBuf {
    match std::env::var(COLLECTOR_BIN_ENV) {
        Ok(path) => PathBuf::from(path),
        Err(_) => crate::workspace_binary("tracewire-collector"),
    }
}

/// A running collector; killed when dropped.
pub struct Collector {
    child: Option<Child>,
    args: Vec<String>,
    log: Arc<Mutex<String>>,
    /// Base URL of the OTLP ingest listener, e.g. `http://127.0.0.1:41234`.
    pub otlp: String,
    /// Base URL of the query API listener.
    pub api: String,
    /// Base URL of the OTLP/gRPC listener, e.g. `http://127.0.0.1:41235`.
    pub grpc: String,
}

impl Collector {
    /// Starts a collector storing in SQLite at `db`, on free loopback ports, with `extra` flags.
    pub fn start(db: &Path, extra: &[&str]) -> Self {
        let mut args = vec![
            "--otlp-listen".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--api-listen".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--store".to_owned(),
            format!("sqlite:{}", db.display()),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        Self::start_with_args(args)
    }

    /// Starts a collector with these arguments (which must bind to port 0 or free ports); the
    /// OTLP/gRPC listener takes a free loopback port unless the arguments name one.
    pub fn start_with_args(args: Vec<String>) -> Self {
        Self::try_start_with_args(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Collector::start_with_args`], but a collector that does not start is an error
    /// with its log, not a panic.
    pub fn try_start_with_args(mut args: Vec<String>) -> Result<Self, String> {
        if !args.iter().any(|a| a == "--otlp-grpc-listen") {
            args.extend(["--otlp-grpc-listen".to_owned(), "127.0.0.1:0".to_owned()]);
        }
        let mut child = Command::new(binary())
            .args(&args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("collector starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut otlp = None;
            let mut grpc = None;
            let mut api = None;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = url_after(&line, "OTLP ingest listening on ") {
                    otlp = Some(url);
                }
                if let Some(url) = url_after(&line, "OTLP/gRPC ingest listening on ") {
                    grpc = Some(url);
                }
                if let Some(url) = url_after(&line, "query API listening on ") {
                    api = Some(url);
                }
                if let (Some(o), Some(g), Some(a)) = (&otlp, &grpc, &api) {
                    let _ = tx.send((o.clone(), g.clone(), a.clone()));
                    otlp = None;
                }
                if let Ok(mut log) = sink.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let (otlp, grpc, api) = match rx.recv_timeout(START_TIMEOUT) {
            Ok(urls) => urls,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "collector did not start; log:\n{}",
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                ));
            }
        };
        Ok(Self {
            child: Some(child),
            args,
            log,
            otlp,
            api,
            grpc,
        })
    }

    /// The arguments it was started with.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// `self.otlp` + `path`.
    pub fn otlp_url(&self, path: &str) -> String {
        format!("{}{path}", self.otlp)
    }

    /// `self.api` + `path`.
    pub fn api_url(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }

    /// Everything the collector logged so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The process's peak resident memory so far (`VmHWM` in `/proc`), bytes; `None` when not
    /// running or not on Linux.
    pub fn peak_memory(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// SIGKILL: the process gets no chance to flush anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGHUP: the collector reloads its access file and certificates.
    pub fn hangup(&self) {
        let child = self.child.as_ref().expect("collector running");
        let status = Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -HUP failed");
    }

    /// Waits (at most 10 s) until the log holds `needle` `count` times; the log then.
    pub fn wait_for_log(&self, needle: &str, count: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.matches(needle).count() >= count {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "the collector never logged {needle:?} {count} times; log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// SIGTERM, then waits (at most 30 s) for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("collector running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("collector did not exit after SIGTERM; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the collector again with the same arguments (new ports when they were 0).
    pub fn restart(&mut self) {
        self.kill();
        *self = Self::start_with_args(self.args.clone());
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.kill();
    }
}

fn url_after(line: &str, marker: &str) -> Option<String> {
    let rest = &line[line.find(marker)? + marker.len()..];
    Some(rest.split_whitespace().next()?.to_owned())
}

/// Posts an OTLP/protobuf trace export `body` to `collector`; asserts a 200.
pub fn post_traces(client: &reqwest::blocking::Client, collector: &Collector, body: &[u8]) {
    let response = client
        .post(collector.otlp_url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(body.to_vec())
        .send()
        .expect("collector answers");
    assert_eq!(response.status().as_u16(), 200);
}

/// Posts an OTLP/JSON export `body` to `path` (`/v1/traces`, `/v1/logs`, ...) of `collector`;
/// asserts a 200.
pub fn post_otlp_json(
    client: &reqwest::blocking::Client,
    collector: &Collector,
    path: &str,
    body: &serde_json::Value,
) {
    let response = client
        .post(collector.otlp_url(path))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .expect("collector answers");
    assert_eq!(response.status().as_u16(), 200, "{path}");
}

/// `GET path` on `collector`'s query API; asserts a 200 and answers its JSON.
pub fn get_json(
    client: &reqwest::blocking::Client,
    collector: &Collector,
    path: &str,
) -> serde_json::Value {
    let response = client
        .get(collector.api_url(path))
        .send()
        .expect("api answers");
    assert_eq!(response.status().as_u16(), 200, "{path}");
    response.json().expect("json")
}
