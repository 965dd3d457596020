//! A webhook receiver on loopback for the alert tests: a plain HTTP/1.1 server on a free port
//! that records every POST's path and JSON body and answers each with the status it is told to
//! (200 unless set), like the Alertmanager, Slack and PagerDuty receivers the collector targets.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running receiver; its thread ends with the process.
#[derive(Clone)]
pub struct Receiver {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    received: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    status: Arc<AtomicU16>,
}

impl Receiver {
    /// Starts a receiver on a free loopback port.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let (sink, answer) = (Arc::clone(&received), Arc::clone(&status));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (sink, answer) = (Arc::clone(&sink), Arc::clone(&answer));
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut reader = BufReader::new(stream);
                    loop {
                        let mut request_line = String::new();
                        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                            return;
                        }
                        let path = request_line.split(' ').nth(1).unwrap_or("").to_owned();
                        let mut length = 0usize;
                        loop {
                            let mut line = String::new();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            let line = line.trim_end();
                            if line.is_empty() {
                                break;
                            }
                            if let Some((name, value)) = line.split_once(':')
                                && name.eq_ignore_ascii_case("content-length")
                            {
                                length = value.trim().parse().unwrap_or(0);
                            }
                        }
                        let mut body = vec![0; length];
                        if reader.read_exact(&mut body).is_err() {
                            return;
                        }
                        let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                        if let Ok(mut all) = sink.lock() {
                            all.push((path, json));
                        }
                        let code = answer.load(Ordering::SeqCst);
                        let reply = format!(
                            "HTTP/1.1 {code} X\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{{}}"
                        );
                        if reader.get_mut().write_all(reply.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            url,
            received,
            status,
        }
    }

    /// Answers every request from now on with `status`.
    pub fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Every request so far: path and JSON body.
    pub fn received(&self) -> Vec<(String, serde_json::Value)> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Waits (at most `timeout`) until `check` holds for what was received; what was received.
    pub fn wait_until(
        &self,
        timeout: Duration,
        check: impl Fn(&[(String, serde_json::Value)]) -> bool,
    ) -> Vec<(String, serde_json::Value)> {
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
