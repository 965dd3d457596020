//! Starts the demo's `agent-backend` (examples/agent-backend), or its Python twin
//! (examples/python-backend), on a free port.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running agent-backend; killed when dropped.
pub struct AgentBackend {
    child: Child,
    /// `host:port` it listens on (`/ws`, `/api/agents`).
    pub addr: String,
}

impl AgentBackend {
    /// Starts it exporting to the collector at `otlp` (base URL), with `extra` flags.
    pub fn start(otlp: &str, extra: &[&str]) -> Self {
        let mut command = Command::new(crate::workspace_binary("agent-backend"));
        command
            .args(["--listen", "127.0.0.1:0", "--otlp-endpoint", otlp])
            .args(extra);
        Self::spawn(command, "agent-backend")
    }

    /// Starts the Python backend (`examples/python-backend/app.py`, with `python3` or the
    /// interpreter `TRACEWIRE_PYTHON` names, which needs its requirements) exporting to `otlp`.
    pub fn start_python(otlp: &str) -> Self {
        let mut command =
            Command::new(std::env::var("TRACEWIRE_PYTHON").unwrap_or_else(|_| "python3".into()));
        command
            .arg(crate::workspace_root().join("examples/python-backend/app.py"))
            .args(["--port", "0", "--otlp-endpoint", otlp]);
        Self::spawn(command, "python-backend")
    }

    /// Runs `command` and waits for the `<name> listening on http://<addr>` line.
    fn spawn(mut command: Command, name: &str) -> Self {
        let prefix = format!("{name} listening on http://");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix(prefix.as_str()) {
                    let _ = tx.send(
                        rest.split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                    );
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("{name} did not start");
            });
        Self { child, addr }
    }

    /// The WebSocket URL.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }
}

impl Drop for AgentBackend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
