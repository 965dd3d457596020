//! Starts the test-only ClickHouse HTTP front (`tests/clickhouse_front/`) as a child process.
//!
//! The front serves the part of ClickHouse's HTTP interface that the `clickhouse` crate uses and
//! runs every statement on the real ClickHouse engine through chDB. One front process owns one
//! data directory (one chDB session); tests pick their own database inside it with
//! [`ClickHouseFront::create_database`]. Stopping and starting a front on the same directory keeps
//! the data, and [`ClickHouseFront::restart`] reuses the port, so clients keep their URL across an
//! outage.
//!
//! The interpreter is `python3`, or the one named by [`PYTHON_ENV`]; it needs the packages in
//! `tests/clickhouse_front/requirements.txt`.

use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use clickhouse::Client;
use clickhouse::sql::Identifier;

/// Environment variable naming the Python interpreter that runs the front (default `python3`).
pub const PYTHON_ENV: &str = "TRACEWIRE_PYTHON";

/// How long the front may take to open its chDB session and print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The line prefix the front prints on stdout once it accepts connections.
const LISTENING_PREFIX: &str = "clickhouse front listening on ";

/// Path of the front's script, from this crate's manifest directory.
pub fn script_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clickhouse_front/clickhouse_front.py")
}

/// A running ClickHouse HTTP front; killed when dropped.
pub struct ClickHouseFront {
    child: Option<Child>,
    // Kept open so that the front never writes into a closed pipe.
    _stdout: Option<BufReader<ChildStdout>>,
    data_dir: PathBuf,
    port: u16,
    tls: Option<(PathBuf, PathBuf)>,
}

impl ClickHouseFront {
    /// Starts a front on `data_dir` (created if missing) on a free port and waits until it is ready.
    pub fn start(data_dir: impl Into<PathBuf>) -> io::Result<Self> {
        Self::start_on_port(data_dir, 0)
    }

    /// Starts a front on `data_dir` on `port` (0 picks a free one) and waits until it is ready.
    pub fn start_on_port(data_dir: impl Into<PathBuf>, port: u16) -> io::Result<Self> {
        Self::launch(data_dir.into(), port, None)
    }

    /// Starts a front that serves HTTPS with the certificate chain `cert` and its key `key`.
    pub fn start_tls(data_dir: impl Into<PathBuf>, cert: &Path, key: &Path) -> io::Result<Self> {
        Self::launch(data_dir.into(), 0, Some((cert.to_owned(), key.to_owned())))
    }

    fn launch(data_dir: PathBuf, port: u16, tls: Option<(PathBuf, PathBuf)>) -> io::Result<Self> {
        let python = std::env::var(PYTHON_ENV).unwrap_or_else(|_| "python3".to_owned());
        let mut command = Command::new(&python);
        command
            .arg(script_path())
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--port")
            .arg(port.to_string());
        if let Some((cert, key)) = &tls {
            command
                .arg("--tls-cert")
                .arg(cert)
                .arg("--tls-key")
                .arg(key);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|err| io::Error::new(err.kind(), format!("cannot run {python}: {err}")))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("front stdout not captured"))?;

        // Read the listening line on a thread so that a hung start-up fails after a timeout.
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let result = reader.read_line(&mut line).map(|_| (line, reader));
            // The receiver is gone only if start-up already timed out.
            let _ = sender.send(result);
        });
        let (line, reader) = match receiver.recv_timeout(START_TIMEOUT) {
            Ok(Ok(read)) => read,
            Ok(Err(err)) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(err);
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("ClickHouse front did not start within {START_TIMEOUT:?}"),
                ));
            }
        };
        let Some(port) = line
            .trim()
            .strip_prefix(LISTENING_PREFIX)
            .and_then(|url| url.rsplit(':').next())
            .and_then(|port| port.parse().ok())
        else {
            let _ = child.kill();
            let status = child.wait()?;
            return Err(io::Error::other(format!(
                "ClickHouse front exited ({status}) before listening; its stderr is above; \
                 stdout said {line:?}"
            )));
        };
        Ok(Self {
            child: Some(child),
            _stdout: Some(reader),
            data_dir,
            port,
            tls,
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (`https://` for [`ClickHouseFront::start_tls`]).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Port the front listens on (kept across [`ClickHouseFront::restart`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Data directory of the front's chDB session.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A `clickhouse` client for this front without a database (LZ4 compression, the default).
    pub fn client(&self) -> Client {
        Client::default().with_url(self.url())
    }

    /// Creates `database` if it does not exist and returns a client that uses it.
    pub async fn create_database(&self, database: &str) -> clickhouse::error::Result<Client> {
        self.client()
            .query("CREATE DATABASE IF NOT EXISTS ?")
            .bind(Identifier(database))
            .execute()
            .await?;
        Ok(self.client().with_database(database))
    }

    /// Kills the front (like a crash: no shutdown) and waits for it to exit. Idempotent.
    pub fn stop(&mut self) -> io::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        self._stdout = None;
        Ok(())
    }

    /// Stops the front and starts it again on the same data directory and the same port.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop()?;
        *self = Self::launch(self.data_dir.clone(), self.port, self.tls.clone())?;
        Ok(())
    }
}

impl Drop for ClickHouseFront {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
