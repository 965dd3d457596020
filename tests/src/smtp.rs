//! A real SMTP server for the e-mail alert tests: `tests/python/smtp_sink.py` (Python's
//! `aiosmtpd`) on a free loopback port, offering STARTTLS with a certificate of a test CA and
//! refusing mail before it. Every message it receives is kept as JSON (envelope, `From`, `To`,
//! `Subject`, plain-text body, whether the session was encrypted).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::tls::ServerCert;

/// The longest the server may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running SMTP server; stopped (its standard input closed, then killed) when dropped.
pub struct SmtpSink {
    /// `127.0.0.1:PORT`.
    pub address: String,
    child: Child,
    received: Arc<Mutex<Vec<Json>>>,
}

impl SmtpSink {
    /// Starts a server with STARTTLS on `cert` and waits until it listens.
    pub fn start(cert: &ServerCert) -> Self {
        let python = std::env::var(crate::clickhouse_front::PYTHON_ENV)
            .unwrap_or_else(|_| "python3".to_owned());
        let mut child = Command::new(&python)
            .arg(crate::workspace_root().join("tests/python/smtp_sink.py"))
            .arg("--cert")
            .arg(&cert.cert)
            .arg("--key")
            .arg(&cert.key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs smtp_sink.py (pip install -r tests/requirements.txt)");
        let stdout = child.stdout.take().expect("stdout piped");
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&received);
        let (ready, listening) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok).unwrap_or_default();
            let _ = ready.send(first);
            for line in lines.map_while(Result::ok) {
                if let (Ok(message), Ok(mut all)) = (serde_json::from_str(&line), sink.lock()) {
                    all.push(message);
                }
            }
        });
        let line = listening
            .recv_timeout(START_TIMEOUT)
            .expect("the SMTP server starts");
        let address = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from smtp_sink.py: {line:?}"))
            .to_owned();
        Self {
            address,
            child,
            received,
        }
    }

    /// Every message so far.
    pub fn received(&self) -> Vec<Json> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Waits (at most `timeout`) until `check` holds for the messages received; those messages.
    pub fn wait_until(&self, timeout: Duration, check: impl Fn(&[Json]) -> bool) -> Vec<Json> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if check(&received) || Instant::now() > deadline {
                return received;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
