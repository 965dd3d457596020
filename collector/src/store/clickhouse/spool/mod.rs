//! The durable on-disk spool between ingest and ClickHouse. Every accepted batch is written to a
//! file per signal (named after its records: `.spans`, `.logs`, `.datapoints`) and fsynced
//! before ingest answers 200; the shipper deletes files only once ClickHouse confirmed the
//! INSERT that carried them.
//!
//! A file is a 16-byte header (its format's magic, row count and CRC-32 of the payload, both u32
//! little-endian) and a payload in one of two formats ([`Format`]), chosen per signal
//! ([`super::table::Table::format`]):
//! - `TWSPOOL2`, spans and logs: the RowBinary rows as the INSERT sends them, after the list of
//!   their traces ([`super::rowbinary`]). Files of spans and logs written by collectors before
//!   0.2 (`TWSPOOL1`, JSON lines) are still read, converted and shipped.
//! - `TWSPOOL1`, metric points: one JSON line per point, naming its `otel_metrics_*` table;
//!   the shipper splits a range by table and sends each table's rows as RowBinary through the
//!   `clickhouse` client's typed insert ([`super::metric_tables`]). A file of points holds rows
//!   of five tables, which RowBinary rows could not tell apart; points are a small share of the
//!   traffic, so they are not worth a RowBinary encoder per table.
//!
//! Deleting a user's or a session's data sifts spans and logs files of either format and
//! writes each back in the format it was in; metric points name no user and are not sifted. Files are written under a temporary
//! name, fsynced, renamed and the directory fsynced, so a crash leaves either the whole file or
//! nothing. Names are `<epoch>-<sequence>.<records>`: the epoch is the process start in hex
//! nanoseconds, so names sort in arrival order and are never reused, even after the spool ran
//! empty. The shipper's current INSERT is recorded in `shipping-<records>` (the first and last file
//! names) before it is sent, so that after a crash the same files go out again with the same
//! deduplication token. Files ClickHouse rejected as bad data are moved to `rejected/`.

mod config;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tracing::warn;

use crate::signal::{PerSignal, Signal};

pub use config::{SpoolArgs, SpoolOptions};

const MAGIC: &[u8; 8] = b"TWSPOOL2";
/// Files written before payloads were RowBinary.
const MAGIC_JSON_LINES: &[u8; 8] = b"TWSPOOL1";
const HEADER: usize = 16;

/// How a spool file's payload is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// A [`super::rowbinary`] payload, what this collector writes.
    RowBinary,
    /// One JSON row a line: metric points, and spans and logs of collectors before 0.2.
    JsonLines,
}

/// A spooled file waiting to be shipped.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    /// Rows in the file.
    pub rows: usize,
    /// File size in bytes.
    pub bytes: u64,
    /// When the file was spooled (or found at start-up).
    pub since: Instant,
}

#[derive(Default)]
struct Index {
    files: PerSignal<BTreeMap<String, Entry>>,
    bytes: u64,
}

/// An open spool directory.
pub(super) struct Spool {
    dir: PathBuf,
    /// The `id` file, open: its lock keeps shipping and deleting apart across processes.
    lock: File,
    id: String,
    epoch: String,
    sequence: AtomicU64,
    max_bytes: u64,
    index: Mutex<Index>,
}

/// The spool's lock, held.
pub(super) struct Exclusive<'a>(&'a File);

impl Drop for Exclusive<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// What the spool can fail with.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// A spool file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A spool file is damaged: its header, checksum or a row does not read back.
    #[error("{path}: {what}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What does not read back.
        what: &'static str,
    },
    /// The spool holds `--spool-max-bytes` already (ClickHouse is behind or down).
    #[error("the spool is full")]
    Full,
    /// Writing a group of batches to the spool failed; they were not acknowledged.
    #[error("cannot write to the spool: {0}")]
    Write(String),
}

impl SpoolError {
    /// Whether trying again may succeed: the spool is full or the disk failed for now; a
    /// damaged file stays damaged.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::Damaged { .. })
    }
}

fn io_error(path: &Path, source: std::io::Error) -> SpoolError {
    SpoolError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Spool {
    /// Opens (creating as needed) the spool at `dir` and indexes the files already there.
    pub(super) fn open(dir: &Path, max_bytes: u64) -> Result<Self, SpoolError> {
        Self::open_as(dir, max_bytes, true)
    }

    /// Opens the spool of a collector that may be running, to delete rows from it
    /// ([`Spool::rewrite`] under [`Spool::exclusive`]): nothing is cleaned up, and a
    /// directory without a spool gives `None`.
    pub(super) fn open_shared(dir: &Path) -> Result<Option<Self>, SpoolError> {
        if !dir.join("id").is_file() {
            return Ok(None);
        }
        Self::open_as(dir, u64::MAX, false).map(Some)
    }

    fn open_as(dir: &Path, max_bytes: u64, owner: bool) -> Result<Self, SpoolError> {
        fs::create_dir_all(dir.join("rejected")).map_err(|e| io_error(dir, e))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let id_path = dir.join("id");
        let id = match fs::read_to_string(&id_path) {
            Ok(id) if !id.trim().is_empty() => id.trim().to_owned(),
            _ => {
                // Tells this spool's tokens apart from other collectors' on the same server.
                let id = format!("{:x}{:x}", now, std::process::id());
                write_durably(dir, &id_path, &[id.as_bytes()])?;
                id
            }
        };
        let mut index = Index::default();
        for item in fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
            let item = item.map_err(|e| io_error(dir, e))?;
            let path = item.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                continue;
            };
            if name.ends_with(".tmp") {
                // Never acknowledged: the crash came before the rename.
                if owner {
                    let _ = fs::remove_file(&path);
                }
                continue;
            }
            let Some(signal) = Signal::ALL
                .into_iter()
                .find(|s| name.ends_with(&format!(".{}", s.records())))
            else {
                continue;
            };
            let bytes = item.metadata().map_err(|e| io_error(&path, e))?.len();
            let rows = read_header(&path).map_or(0, |(_, rows, _)| rows as usize);
            index.bytes += bytes;
            index.files[signal].insert(
                name,
                Entry {
                    rows,
                    bytes,
                    since: Instant::now(),
                },
            );
        }
        let lock = File::open(&id_path).map_err(|e| io_error(&id_path, e))?;
        Ok(Self {
            dir: dir.to_owned(),
            lock,
            id,
            epoch: format!("{now:020x}"),
            sequence: AtomicU64::new(0),
            max_bytes,
            index: Mutex::new(index),
        })
    }

    /// Waits for the spool's lock, which shipping and deleting hold across processes (another
    /// collector process, or `tracewire-collector delete`); released when dropped.
    pub(super) async fn exclusive(&self) -> Result<Exclusive<'_>, SpoolError> {
        loop {
            match self.lock.try_lock() {
                Ok(()) => return Ok(Exclusive(&self.lock)),
                Err(std::fs::TryLockError::WouldBlock) => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(io_error(&self.dir.join("id"), e));
                }
            }
        }
    }

    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes held.
    pub(super) fn bytes(&self) -> u64 {
        self.index().bytes
    }

    /// Whether `more` bytes fit under the limit.
    pub(super) fn has_room(&self, more: u64) -> bool {
        self.bytes().saturating_add(more) <= self.max_bytes
    }

    /// The most bytes the spool holds.
    pub(super) fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Writes a payload of `rows` rows in `format`, the concatenation of `parts`, as one
    /// durable file of `signal`.
    pub(super) fn append(
        &self,
        signal: Signal,
        format: Format,
        rows: usize,
        parts: &[&[u8]],
    ) -> Result<(), SpoolError> {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}-{sequence:012}.{}", self.epoch, signal.records());
        let header = header(format, rows, parts);
        let mut data = vec![&header[..]];
        data.extend_from_slice(parts);
        write_durably(&self.dir, &self.dir.join(&name), &data)?;
        let bytes = data.iter().map(|part| part.len() as u64).sum();
        let mut index = self.index();
        index.bytes += bytes;
        index.files[signal].insert(
            name,
            Entry {
                rows,
                bytes,
                since: Instant::now(),
            },
        );
        Ok(())
    }

    /// Rows waiting and when the oldest file of `signal` was spooled.
    pub(super) fn pending(&self, signal: Signal) -> (usize, Option<Instant>) {
        let index = self.index();
        let files = &index.files[signal];
        (
            files.values().map(|e| e.rows).sum(),
            files.values().map(|e| e.since).min(),
        )
    }

    /// The first files of `signal` holding at most `max_rows` rows together (at least one file):
    /// the first and last names.
    pub(super) fn select(&self, signal: Signal, max_rows: usize) -> Option<(String, String)> {
        let index = self.index();
        let mut files = index.files[signal].iter();
        let (first, entry) = files.next()?;
        let mut last = first;
        let mut rows = entry.rows;
        for (name, entry) in files {
            if rows + entry.rows > max_rows {
                break;
            }
            rows += entry.rows;
            last = name;
        }
        Some((first.clone(), last.clone()))
    }

    /// Names of `signal` from `first` to `last`, in order (none when `first` comes after `last`).
    pub(super) fn range(&self, signal: Signal, first: &str, last: &str) -> Vec<String> {
        if first > last {
            return Vec::new();
        }
        self.index().files[signal]
            .range(first.to_owned()..=last.to_owned())
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The deduplication token of the INSERT carrying files `first` to `last`: the same files
    /// always give the same token, and no other files ever do.
    pub(super) fn token(&self, signal: Signal, first: &str, last: &str) -> String {
        format!("tracewire-{}-{}-{first}-{last}", self.id, signal.records())
    }

    /// Reads one file's payload and row count, checking its header and checksum.
    pub(super) fn read(&self, name: &str) -> Result<(Format, usize, Vec<u8>), SpoolError> {
        let path = self.dir.join(name);
        let mut data = Vec::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut data))
            .map_err(|e| io_error(&path, e))?;
        let (format, rows, crc) = parse_header(&data).ok_or_else(|| corrupt(&path))?;
        let payload = data.split_off(HEADER);
        if crc32fast::hash(&payload) != crc {
            return Err(corrupt(&path));
        }
        Ok((format, rows as usize, payload))
    }

    /// Deletes files once ClickHouse has them, in name order (so a crash part way leaves the
    /// first ones gone, which [`Spool::range`] callers read as "already confirmed").
    pub(super) fn remove(&self, signal: Signal, names: &[String]) -> Result<(), SpoolError> {
        for name in names {
            let path = self.dir.join(name);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&path, e)),
            }
            let mut index = self.index();
            if let Some(entry) = index.files[signal].remove(name) {
                index.bytes = index.bytes.saturating_sub(entry.bytes);
            }
        }
        sync_dir(&self.dir)
    }

    /// Offers every file of `signal` to `sift`, in name order, with its format and payload;
    /// where `sift` answers a new payload and its row count, the file is durably replaced by it
    /// (same name, same format). Answers how many rows went. A rewritten file keeps its name, so
    /// an INSERT recorded in the manifest goes out again as the same files (with fewer rows)
    /// under the same token; a file left empty stays, and ships as nothing, so that a running
    /// collector's index of the spool stays true. Only call it holding [`Spool::exclusive`]: a
    /// file must not change under an INSERT in flight.
    pub(super) fn rewrite(
        &self,
        signal: Signal,
        mut sift: impl FnMut(&str, Format, &[u8]) -> Result<Option<(usize, Vec<u8>)>, SpoolError>,
    ) -> Result<u64, SpoolError> {
        let names: Vec<String> = self.index().files[signal].keys().cloned().collect();
        // A file the collector shipped and removed meanwhile (another process) has no rows left.
        let names: Vec<String> = names
            .into_iter()
            .filter(|name| self.dir.join(name).is_file())
            .collect();
        let mut removed = 0;
        for name in names {
            let (format, rows, payload) = self.read(&name)?;
            let Some((kept_rows, kept)) = sift(&name, format, &payload)? else {
                continue;
            };
            removed += rows.saturating_sub(kept_rows) as u64;
            let header = header(format, kept_rows, &[&kept]);
            write_durably(&self.dir, &self.dir.join(&name), &[&header, &kept])?;
            let bytes = (HEADER + kept.len()) as u64;
            let mut index = self.index();
            if let Some(entry) = index.files[signal].get_mut(&name) {
                let old = entry.bytes;
                entry.rows = kept_rows;
                entry.bytes = bytes;
                index.bytes = index.bytes.saturating_sub(old) + bytes;
            }
        }
        Ok(removed)
    }

    /// Moves a file ClickHouse refused as bad data to `rejected/`.
    pub(super) fn move_aside(&self, signal: Signal, name: &str) -> Result<PathBuf, SpoolError> {
        let from = self.dir.join(name);
        let to = self.dir.join("rejected").join(name);
        fs::rename(&from, &to).map_err(|e| io_error(&from, e))?;
        sync_dir(&self.dir)?;
        let mut index = self.index();
        if let Some(entry) = index.files[signal].remove(name) {
            index.bytes = index.bytes.saturating_sub(entry.bytes);
        }
        Ok(to)
    }

    fn manifest_path(&self, signal: Signal) -> PathBuf {
        self.dir.join(format!("shipping-{}", signal.records()))
    }

    /// The files of the INSERT in flight, if one was started and not finished. A manifest that
    /// does not name two files of `signal` in order is damaged: it is moved to `rejected/` (its
    /// files are then shipped afresh) rather than trusted.
    pub(super) fn manifest(&self, signal: Signal) -> Option<(String, String)> {
        let path = self.manifest_path(signal);
        let text = fs::read_to_string(&path).ok()?;
        let ours = |name: &str| {
            name.ends_with(&format!(".{}", signal.records())) && !name.contains(['/', '\\'])
        };
        match text.trim().split_once(' ') {
            Some((first, last)) if first <= last && ours(first) && ours(last) => {
                Some((first.to_owned(), last.to_owned()))
            }
            _ => {
                let aside = self.dir.join("rejected").join(format!(
                    "shipping-{}-{}",
                    signal.records(),
                    self.epoch
                ));
                warn!(manifest = %path.display(), aside = %aside.display(), "Damaged shipping manifest moved aside");
                if fs::rename(&path, &aside).is_err() {
                    let _ = fs::remove_file(&path);
                }
                None
            }
        }
    }

    /// Records the files of the INSERT about to be sent.
    pub(super) fn set_manifest(
        &self,
        signal: Signal,
        first: &str,
        last: &str,
    ) -> Result<(), SpoolError> {
        write_durably(
            &self.dir,
            &self.manifest_path(signal),
            &[format!("{first} {last}\n").as_bytes()],
        )
    }

    /// Forgets the finished INSERT.
    pub(super) fn clear_manifest(&self, signal: Signal) -> Result<(), SpoolError> {
        let path = self.manifest_path(signal);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(&path, e)),
        }
    }
}

/// The header of a file of `rows` rows in `format` whose payload is the concatenation of
/// `parts`.
fn header(format: Format, rows: usize, parts: &[&[u8]]) -> [u8; HEADER] {
    let mut crc = crc32fast::Hasher::new();
    parts.iter().for_each(|part| crc.update(part));
    let mut header = [0; HEADER];
    header[..8].copy_from_slice(match format {
        Format::RowBinary => MAGIC,
        Format::JsonLines => MAGIC_JSON_LINES,
    });
    header[8..12].copy_from_slice(&u32::try_from(rows).unwrap_or(u32::MAX).to_le_bytes());
    header[12..].copy_from_slice(&crc.finalize().to_le_bytes());
    header
}

/// A whole spool file: its header, with a true checksum and the given row count, and `payload`.
#[cfg(any(test, fuzzing))]
pub(super) fn encode_file(format: Format, rows: u32, payload: &[u8]) -> Vec<u8> {
    let mut data = header(format, rows as usize, &[payload]).to_vec();
    data.extend_from_slice(payload);
    data
}

fn corrupt(path: &Path) -> SpoolError {
    SpoolError::Damaged {
        path: path.to_owned(),
        what: "bad header or checksum",
    }
}

fn parse_header(data: &[u8]) -> Option<(Format, u32, u32)> {
    let format = match data.get(..8)? {
        magic if magic == MAGIC => Format::RowBinary,
        magic if magic == MAGIC_JSON_LINES => Format::JsonLines,
        _ => return None,
    };
    let rows = u32::from_le_bytes(data.get(8..12)?.try_into().ok()?);
    let crc = u32::from_le_bytes(data.get(12..16)?.try_into().ok()?);
    Some((format, rows, crc))
}

fn read_header(path: &Path) -> Option<(Format, u32, u32)> {
    let mut header = [0u8; HEADER];
    File::open(path).ok()?.read_exact(&mut header).ok()?;
    parse_header(&header)
}

/// Writes `parts` one after the other to `path` so that the file is either wholly there after
/// a crash or not at all.
fn write_durably(dir: &Path, path: &Path, parts: &[&[u8]]) -> Result<(), SpoolError> {
    let tmp = path.with_extension("tmp");
    let result = File::create(&tmp).and_then(|mut f| {
        for part in parts {
            f.write_all(part)?;
        }
        f.sync_all()
    });
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io_error(&tmp, e));
    }
    fs::rename(&tmp, path).map_err(|e| io_error(path, e))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    match File::open(dir).and_then(|d| d.sync_all()) {
        Ok(()) => Ok(()),
        Err(e) => {
            warn!(error = %e, dir = %dir.display(), "Cannot fsync the spool directory");
            Err(io_error(dir, e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_files_read_back_and_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path(), 1 << 20).expect("opens");
        spool
            .append(
                Signal::Traces,
                Format::RowBinary,
                2,
                &[b"{\"a\":1}\n{\"a\":2}\n"],
            )
            .expect("writes");
        spool
            .append(Signal::Logs, Format::RowBinary, 1, &[b"{\"b\":1}\n"])
            .expect("writes");
        spool
            .append(Signal::Traces, Format::RowBinary, 1, &[b"{\"a\":3}\n"])
            .expect("writes");
        assert_eq!(spool.pending(Signal::Traces).0, 3);
        let (first, last) = spool.select(Signal::Traces, 100).expect("files");
        let names = spool.range(Signal::Traces, &first, &last);
        assert_eq!(names.len(), 2);
        assert_eq!(
            spool.read(&names[0]).expect("reads"),
            (Format::RowBinary, 2, b"{\"a\":1}\n{\"a\":2}\n".to_vec())
        );
        let bytes = spool.bytes();
        drop(spool);
        let reopened = Spool::open(dir.path(), 1 << 20).expect("reopens");
        assert_eq!(reopened.bytes(), bytes);
        assert_eq!(reopened.pending(Signal::Traces).0, 3);
        assert_eq!(reopened.pending(Signal::Logs).0, 1);
    }

    #[test]
    fn files_of_older_collectors_read_back_as_json_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lines = b"{\"a\":1}\n";
        let mut data = MAGIC_JSON_LINES.to_vec();
        data.extend_from_slice(&1u32.to_le_bytes());
        data.extend_from_slice(&crc32fast::hash(lines).to_le_bytes());
        data.extend_from_slice(lines);
        let name = format!("{:020x}-{:012}.spans", 1, 0);
        fs::write(dir.path().join(&name), data).expect("writes");
        let spool = Spool::open(dir.path(), 1 << 20).expect("opens");
        assert_eq!(spool.pending(Signal::Traces).0, 1);
        assert_eq!(
            spool.read(&name).expect("reads"),
            (Format::JsonLines, 1, lines.to_vec())
        );
        spool
            .append(Signal::Traces, Format::RowBinary, 1, &[b"ro", b"ws"])
            .expect("writes");
        let (first, last) = spool.select(Signal::Traces, 10).expect("files");
        assert_eq!(first, name);
        assert_eq!(
            spool.read(&last).expect("reads"),
            (Format::RowBinary, 1, b"rows".to_vec())
        );
    }

    #[test]
    fn names_sort_in_arrival_order_across_restarts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = Spool::open(dir.path(), 1 << 20).expect("opens");
        first
            .append(Signal::Traces, Format::RowBinary, 1, &[b"x\n"])
            .expect("writes");
        drop(first);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = Spool::open(dir.path(), 1 << 20).expect("opens");
        second
            .append(Signal::Traces, Format::RowBinary, 1, &[b"y\n"])
            .expect("writes");
        let (a, b) = second.select(Signal::Traces, 10).expect("files");
        assert_eq!(second.read(&a).expect("reads").2, b"x\n");
        assert_eq!(second.read(&b).expect("reads").2, b"y\n");
    }

    #[test]
    fn tokens_are_deterministic_per_file_range_and_differ_between_ranges_and_spools() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path(), 1 << 20).expect("opens");
        let token = spool.token(Signal::Traces, "a", "b");
        assert_eq!(token, spool.token(Signal::Traces, "a", "b"));
        assert_ne!(token, spool.token(Signal::Traces, "a", "c"));
        assert_ne!(token, spool.token(Signal::Logs, "a", "b"));
        drop(spool);
        let reopened = Spool::open(dir.path(), 1 << 20).expect("reopens");
        assert_eq!(
            token,
            reopened.token(Signal::Traces, "a", "b"),
            "the id is kept"
        );
        let other = tempfile::tempdir().expect("tempdir");
        std::thread::sleep(std::time::Duration::from_millis(1));
        let elsewhere = Spool::open(other.path(), 1 << 20).expect("opens");
        assert_ne!(token, elsewhere.token(Signal::Traces, "a", "b"));
    }

    #[test]
    fn selection_respects_the_row_budget_but_always_takes_one_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path(), 1 << 20).expect("opens");
        for _ in 0..3 {
            spool
                .append(Signal::Traces, Format::RowBinary, 10, &[b"r\n"])
                .expect("writes");
        }
        let (first, last) = spool.select(Signal::Traces, 25).expect("files");
        assert_eq!(spool.range(Signal::Traces, &first, &last).len(), 2);
        let (first, last) = spool.select(Signal::Traces, 5).expect("files");
        assert_eq!(first, last);
    }

    #[test]
    fn corrupt_file_is_detected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path(), 1 << 20).expect("opens");
        spool
            .append(Signal::Traces, Format::RowBinary, 1, &[b"{\"a\":1}\n"])
            .expect("writes");
        let (name, _) = spool.select(Signal::Traces, 10).expect("file");
        let path = dir.path().join(&name);
        let mut data = fs::read(&path).expect("reads");
        let last = data.len() - 2;
        data[last] ^= 0xff;
        fs::write(&path, data).expect("writes");
        assert!(matches!(spool.read(&name), Err(SpoolError::Damaged { .. })));
    }

    /// Found by the `spool_reader` fuzz target: a manifest naming its files in the wrong order
    /// made the shipper panic (a reversed range), so nothing was shipped again.
    #[test]
    fn damaged_manifest_is_moved_aside_not_trusted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path(), 1 << 20).expect("opens");
        spool
            .append(Signal::Traces, Format::RowBinary, 1, &[b"a\n"])
            .expect("writes");
        spool
            .append(Signal::Traces, Format::RowBinary, 1, &[b"b\n"])
            .expect("writes");
        let (first, last) = spool.select(Signal::Traces, 10).expect("files");
        assert!(spool.range(Signal::Traces, &last, &first).is_empty());
        for damaged in [
            format!("{last} {first}"),
            first.clone(),
            format!("{first} ../{last}"),
            "x.logs y.logs".to_owned(),
        ] {
            std::fs::write(dir.path().join("shipping-spans"), &damaged).expect("writes");
            assert_eq!(spool.manifest(Signal::Traces), None, "{damaged}");
            assert!(!dir.path().join("shipping-spans").exists(), "{damaged}");
        }
        assert!(
            std::fs::read_dir(dir.path().join("rejected"))
                .expect("rejected/")
                .any(|e| e.is_ok_and(|e| e
                    .file_name()
                    .to_string_lossy()
                    .starts_with("shipping-spans")))
        );
        assert_eq!(
            spool.pending(Signal::Traces).0,
            2,
            "the files themselves stay"
        );
    }

    #[tokio::test]
    async fn rewriting_replaces_payloads_and_keeps_every_file_under_its_name_and_format() {
        let dir = tempfile::tempdir().expect("tempdir");
        let older = format!("{:020x}-{:012}.spans", 1, 0);
        fs::write(
            dir.path().join(&older),
            encode_file(Format::JsonLines, 2, b"keep 0\ndrop 0\n"),
        )
        .expect("writes");
        let spool = Spool::open(dir.path(), 1 << 20).expect("opens");
        spool
            .append(
                Signal::Traces,
                Format::RowBinary,
                2,
                &[b"keep 1\n", b"drop 1\n"],
            )
            .expect("writes");
        spool
            .append(Signal::Traces, Format::RowBinary, 1, &[b"drop 2\n"])
            .expect("writes");
        spool
            .append(Signal::Traces, Format::RowBinary, 1, &[b"keep 3\n"])
            .expect("writes");
        let (first, last) = spool.select(Signal::Traces, 100).expect("files");
        let names = spool.range(Signal::Traces, &first, &last);
        assert_eq!(names.len(), 4);
        let mut offered = Vec::new();
        let removed = {
            let _held = spool.exclusive().await.expect("locks");
            spool
                .rewrite(Signal::Traces, |name, _, payload| {
                    offered.push(name.to_owned());
                    let kept: Vec<&[u8]> = payload
                        .split_inclusive(|b| *b == b'\n')
                        .filter(|line| !line.starts_with(b"drop"))
                        .collect();
                    Ok((kept.concat() != payload).then(|| (kept.len(), kept.concat())))
                })
                .expect("rewrites")
        };
        assert_eq!(offered, names, "every file, in order");
        assert_eq!(removed, 3);
        assert_eq!(
            spool.read(&names[0]).expect("reads"),
            (Format::JsonLines, 1, b"keep 0\n".to_vec())
        );
        assert_eq!(
            spool.read(&names[1]).expect("reads"),
            (Format::RowBinary, 1, b"keep 1\n".to_vec())
        );
        assert_eq!(
            spool.read(&names[2]).expect("reads"),
            (Format::RowBinary, 0, Vec::new())
        );
        assert_eq!(spool.pending(Signal::Traces).0, 3);
        let bytes = spool.bytes();
        drop(spool);
        assert_eq!(
            Spool::open(dir.path(), 1 << 20).expect("reopens").bytes(),
            bytes
        );
    }

    #[tokio::test]
    async fn the_lock_keeps_a_second_opener_out_until_released() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path(), 1 << 20).expect("opens");
        let shared = Spool::open_shared(dir.path())
            .expect("opens")
            .expect("a spool is there");
        let held = spool.exclusive().await.expect("locks");
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(200), shared.exclusive());
        assert!(waiting.await.is_err(), "the second opener waits");
        drop(held);
        assert!(shared.exclusive().await.is_ok());
        let empty = tempfile::tempdir().expect("tempdir");
        assert!(Spool::open_shared(empty.path()).expect("reads").is_none());
    }

    #[test]
    fn manifest_and_removal_and_move_aside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path(), 1 << 20).expect("opens");
        spool
            .append(Signal::Logs, Format::RowBinary, 1, &[b"a\n"])
            .expect("writes");
        spool
            .append(Signal::Logs, Format::RowBinary, 1, &[b"b\n"])
            .expect("writes");
        let (first, last) = spool.select(Signal::Logs, 10).expect("files");
        spool
            .set_manifest(Signal::Logs, &first, &last)
            .expect("records");
        assert_eq!(
            spool.manifest(Signal::Logs),
            Some((first.clone(), last.clone()))
        );
        assert_eq!(spool.manifest(Signal::Traces), None);
        spool
            .remove(Signal::Logs, std::slice::from_ref(&first))
            .expect("removes");
        let aside = spool.move_aside(Signal::Logs, &last).expect("moves");
        assert!(aside.exists());
        spool.clear_manifest(Signal::Logs).expect("clears");
        assert_eq!(spool.manifest(Signal::Logs), None);
        assert_eq!(spool.bytes(), 0);
        assert!(spool.range(Signal::Logs, &first, &last).is_empty());
    }
}
