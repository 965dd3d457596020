//! Starts the demo's `agent-backend` (examples/agent-backend) on a free port.

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
        let mut child = Command::new(crate::workspace_binary("agent-backend"))
            .args(["--listen", "127.0.0.1:0", "--otlp-endpoint", otlp])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("agent-backend starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("agent-backend listening on http://") {
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
                panic!("agent-backend did not start");
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
