//! The durable on-disk spool between ingest and ClickHouse. Every accepted batch is written to a
//! file of its own kind (spans or logs) and fsynced before ingest answers 200; the shipper
//! deletes files only once ClickHouse confirmed the INSERT that carried them.
//!
//! A file is a 16-byte header (`TWSPOOL2`, row count and CRC-32 of the payload, both u32
//! little-endian) and a payload of RowBinary rows ([`super::rowbinary`]). Files of collectors
//! before 0.2 (`TWSPOOL1`) hold JSON lines, one row each, and are still read and shipped. Files are written under a temporary
//! name, fsynced, renamed and the directory fsynced, so a crash leaves either the whole file or
//! nothing. Names are `<epoch>-<sequence>.<kind>`: the epoch is the process start in hex
//! nanoseconds, so names sort in arrival order and are never reused, even after the spool ran
//! empty. The shipper's current INSERT is recorded in `shipping-<kind>` (the first and last file
//! names) before it is sent, so that after a crash the same files go out again with the same
//! deduplication token. Files ClickHouse rejected as bad data are moved to `rejected/`.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tracing::warn;

use crate::store::StoreError;

const MAGIC: &[u8; 8] = b"TWSPOOL2";
/// Files written before payloads were RowBinary.
const MAGIC_JSON_LINES: &[u8; 8] = b"TWSPOOL1";

/// How a spool file's payload is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// [`super::rowbinary`] payloads, what this collector writes.
    RowBinary,
    /// One JSON row a line, what collectors before 0.2 wrote.
    JsonLines,
}
const HEADER: usize = 16;

/// Which table a spool file feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `otel_traces` rows.
    Spans,
    /// `otel_logs` rows.
    Logs,
}

impl Kind {
    pub(super) const ALL: [Self; 2] = [Self::Spans, Self::Logs];

    fn extension(self) -> &'static str {
        match self {
            Self::Spans => "spans",
            Self::Logs => "logs",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Spans => 0,
            Self::Logs => 1,
        }
    }

    /// The table the rows go to.
    pub(super) fn table(self) -> &'static str {
        match self {
            Self::Spans => "otel_traces",
            Self::Logs => "otel_logs",
        }
    }
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
    files: [BTreeMap<String, Entry>; 2],
    bytes: u64,
}

/// An open spool directory.
pub(super) struct Spool {
    dir: PathBuf,
    id: String,
    epoch: String,
    sequence: AtomicU64,
    max_bytes: u64,
    index: Mutex<Index>,
}

fn io_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Spool {
        path: path.to_owned(),
        source,
    }
}

impl Spool {
    /// Opens (creating as needed) the spool at `dir` and indexes the files already there.
    pub(super) fn open(dir: &Path, max_bytes: u64) -> Result<Self, StoreError> {
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
                write_durably(dir, &id_path, id.as_bytes())?;
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
                let _ = fs::remove_file(&path);
                continue;
            }
            let Some(kind) = Kind::ALL
                .into_iter()
                .find(|k| name.ends_with(&format!(".{}", k.extension())))
            else {
                continue;
            };
            let bytes = item.metadata().map_err(|e| io_error(&path, e))?.len();
            let rows = read_header(&path).map_or(0, |(rows, _)| rows as usize);
            index.bytes += bytes;
            index.files[kind.index()].insert(
                name,
                Entry {
                    rows,
                    bytes,
                    since: Instant::now(),
                },
            );
        }
        Ok(Self {
            dir: dir.to_owned(),
            id,
            epoch: format!("{now:020x}"),
            sequence: AtomicU64::new(0),
            max_bytes,
            index: Mutex::new(index),
        })
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

    /// Writes a RowBinary payload of `rows` rows as one durable file of `kind`.
    pub(super) fn append(&self, kind: Kind, rows: usize, lines: &[u8]) -> Result<(), StoreError> {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}-{sequence:012}.{}", self.epoch, kind.extension());
        let mut data = Vec::with_capacity(HEADER + lines.len());
        data.extend_from_slice(MAGIC);
        data.extend_from_slice(&u32::try_from(rows).unwrap_or(u32::MAX).to_le_bytes());
        data.extend_from_slice(&crc32fast::hash(lines).to_le_bytes());
        data.extend_from_slice(lines);
        write_durably(&self.dir, &self.dir.join(&name), &data)?;
        let mut index = self.index();
        index.bytes += data.len() as u64;
        index.files[kind.index()].insert(
            name,
            Entry {
                rows,
                bytes: data.len() as u64,
                since: Instant::now(),
            },
        );
        Ok(())
    }

    /// Rows waiting and when the oldest file of `kind` was spooled.
    pub(super) fn pending(&self, kind: Kind) -> (usize, Option<Instant>) {
        let index = self.index();
        let files = &index.files[kind.index()];
        (
            files.values().map(|e| e.rows).sum(),
            files.values().map(|e| e.since).min(),
        )
    }

    /// The first files of `kind` holding at most `max_rows` rows together (at least one file):
    /// the first and last names.
    pub(super) fn select(&self, kind: Kind, max_rows: usize) -> Option<(String, String)> {
        let index = self.index();
        let mut files = index.files[kind.index()].iter();
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

    /// Names of `kind` from `first` to `last`, in order.
    pub(super) fn range(&self, kind: Kind, first: &str, last: &str) -> Vec<String> {
        self.index().files[kind.index()]
            .range(first.to_owned()..=last.to_owned())
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The deduplication token of the INSERT carrying files `first` to `last`: the same files
    /// always give the same token, and no other files ever do.
    pub(super) fn token(&self, kind: Kind, first: &str, last: &str) -> String {
        format!("tracewire-{}-{}-{first}-{last}", self.id, kind.extension())
    }

    /// Reads one file's payload and row count, checking its header and checksum.
    pub(super) fn read(&self, name: &str) -> Result<(Format, usize, Vec<u8>), StoreError> {
        let path = self.dir.join(name);
        let mut data = Vec::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut data))
            .map_err(|e| io_error(&path, e))?;
        let (rows, crc) = parse_header(&data).ok_or_else(|| corrupt(&path))?;
        let format = match &data[..8] {
            m if m == MAGIC_JSON_LINES => Format::JsonLines,
            _ => Format::RowBinary,
        };
        let payload = data.split_off(HEADER);
        if crc32fast::hash(&payload) != crc {
            return Err(corrupt(&path));
        }
        Ok((format, rows as usize, payload))
    }

    /// Deletes files once ClickHouse has them, in name order (so a crash part way leaves the
    /// first ones gone, which [`Spool::range`] callers read as "already confirmed").
    pub(super) fn remove(&self, kind: Kind, names: &[String]) -> Result<(), StoreError> {
        for name in names {
            let path = self.dir.join(name);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&path, e)),
            }
            let mut index = self.index();
            if let Some(entry) = index.files[kind.index()].remove(name) {
                index.bytes = index.bytes.saturating_sub(entry.bytes);
            }
        }
        sync_dir(&self.dir)
    }

    /// Moves a file ClickHouse refused as bad data to `rejected/`.
    pub(super) fn move_aside(&self, kind: Kind, name: &str) -> Result<PathBuf, StoreError> {
        let from = self.dir.join(name);
        let to = self.dir.join("rejected").join(name);
        fs::rename(&from, &to).map_err(|e| io_error(&from, e))?;
        sync_dir(&self.dir)?;
        let mut index = self.index();
        if let Some(entry) = index.files[kind.index()].remove(name) {
            index.bytes = index.bytes.saturating_sub(entry.bytes);
        }
        Ok(to)
    }

    fn manifest_path(&self, kind: Kind) -> PathBuf {
        self.dir.join(format!("shipping-{}", kind.extension()))
    }

    /// The files of the INSERT in flight, if one was started and not finished.
    pub(super) fn manifest(&self, kind: Kind) -> Option<(String, String)> {
        let text = fs::read_to_string(self.manifest_path(kind)).ok()?;
        let (first, last) = text.trim().split_once(' ')?;
        Some((first.to_owned(), last.to_owned()))
    }

    /// Records the files of the INSERT about to be sent.
    pub(super) fn set_manifest(
        &self,
        kind: Kind,
        first: &str,
        last: &str,
    ) -> Result<(), StoreError> {
        write_durably(
            &self.dir,
            &self.manifest_path(kind),
            format!("{first} {last}\n").as_bytes(),
        )
    }

    /// Forgets the finished INSERT.
    pub(super) fn clear_manifest(&self, kind: Kind) -> Result<(), StoreError> {
        let path = self.manifest_path(kind);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(&path, e)),
        }
    }
}

fn corrupt(path: &Path) -> StoreError {
    StoreError::Spool {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "bad header or checksum"),
    }
}

fn parse_header(data: &[u8]) -> Option<(u32, u32)> {
    if data.len() < HEADER || (&data[..8] != MAGIC && &data[..8] != MAGIC_JSON_LINES) {
        return None;
    }
    let rows = u32::from_le_bytes(data[8..12].try_into().ok()?);
    let crc = u32::from_le_bytes(data[12..16].try_into().ok()?);
    Some((rows, crc))
}

fn read_header(path: &Path) -> Option<(u32, u32)> {
    let mut header = [0u8; HEADER];
    File::open(path).ok()?.read_exact(&mut header).ok()?;
    parse_header(&header)
}

/// Writes `data` to `path` so that it is either wholly there after a crash or not at all.
fn write_durably(dir: &Path, path: &Path, data: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp");
    let result = File::create(&tmp).and_then(|mut f| {
        f.write_all(data)?;
        f.sync_all()
    });
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io_error(&tmp, e));
    }
    fs::rename(&tmp, path).map_err(|e| io_error(path, e))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
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
            .append(Kind::Spans, 2, b"{\"a\":1}\n{\"a\":2}\n")
            .expect("writes");
        spool.append(Kind::Logs, 1, b"{\"b\":1}\n").expect("writes");
        spool
            .append(Kind::Spans, 1, b"{\"a\":3}\n")
            .expect("writes");
        assert_eq!(spool.pending(Kind::Spans).0, 3);
        let (first, last) = spool.select(Kind::Spans, 100).expect("files");
        let names = spool.range(Kind::Spans, &first, &last);
        assert_eq!(names.len(), 2);
        assert_eq!(
            spool.read(&names[0]).expect("reads"),
            (Format::RowBinary, 2, b"{\"a\":1}\n{\"a\":2}\n".to_vec())
        );
        let bytes = spool.bytes();
        drop(spool);
        let reopened = Spool::open(dir.path(), 1 << 20).expect("reopens");
        assert_eq!(reopened.bytes(), bytes);
        assert_eq!(reopened.pending(Kind::Spans).0, 3);
        assert_eq!(reopened.pending(Kind::Logs).0, 1);
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
        assert_eq!(spool.pending(Kind::Spans).0, 1);
        assert_eq!(
            spool.read(&name).expect("reads"),
            (Format::JsonLines, 1, lines.to_vec())
        );
        spool.append(Kind::Spans, 1, b"rows").expect("writes");
        let (first, last) = spool.select(Kind::Spans, 10).expect("files");
        assert_eq!(spool.read(&last).expect("reads").0, Format::RowBinary);
        assert_eq!(first, name);
    }

    #[test]
    fn names_sort_in_arrival_order_across_restarts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = Spool::open(dir.path(), 1 << 20).expect("opens");
        first.append(Kind::Spans, 1, b"x\n").expect("writes");
        drop(first);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = Spool::open(dir.path(), 1 << 20).expect("opens");
        second.append(Kind::Spans, 1, b"y\n").expect("writes");
        let (a, b) = second.select(Kind::Spans, 10).expect("files");
        assert_eq!(second.read(&a).expect("reads").2, b"x\n");
        assert_eq!(second.read(&b).expect("reads").2, b"y\n");
    }

    #[test]
    fn tokens_are_deterministic_per_file_range_and_differ_between_ranges_and_spools() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path(), 1 << 20).expect("opens");
        let token = spool.token(Kind::Spans, "a", "b");
        assert_eq!(token, spool.token(Kind::Spans, "a", "b"));
        assert_ne!(token, spool.token(Kind::Spans, "a", "c"));
        assert_ne!(token, spool.token(Kind::Logs, "a", "b"));
        drop(spool);
        let reopened = Spool::open(dir.path(), 1 << 20).expect("reopens");
        assert_eq!(
            token,
            reopened.token(Kind::Spans, "a", "b"),
            "the id is kept"
        );
        let other = tempfile::tempdir().expect("tempdir");
        std::thread::sleep(std::time::Duration::from_millis(1));
        let elsewhere = Spool::open(other.path(), 1 << 20).expect("opens");
        assert_ne!(token, elsewhere.token(Kind::Spans, "a", "b"));
    }

    #[test]
    fn selection_respects_the_row_budget_but_always_takes_one_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path(), 1 << 20).expect("opens");
        for _ in 0..3 {
            spool.append(Kind::Spans, 10, b"r\n").expect("writes");
        }
        let (first, last) = spool.select(Kind::Spans, 25).expect("files");
        assert_eq!(spool.range(Kind::Spans, &first, &last).len(), 2);
        let (first, last) = spool.select(Kind::Spans, 5).expect("files");
        assert_eq!(first, last);
    }

    #[test]
    fn corrupt_file_is_detected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path(), 1 << 20).expect("opens");
        spool
            .append(Kind::Spans, 1, b"{\"a\":1}\n")
            .expect("writes");
        let (name, _) = spool.select(Kind::Spans, 10).expect("file");
        let path = dir.path().join(&name);
        let mut data = fs::read(&path).expect("reads");
        let last = data.len() - 2;
        data[last] ^= 0xff;
        fs::write(&path, data).expect("writes");
        assert!(matches!(spool.read(&name), Err(StoreError::Spool { .. })));
    }

    #[test]
    fn manifest_and_removal_and_move_aside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path(), 1 << 20).expect("opens");
        spool.append(Kind::Logs, 1, b"a\n").expect("writes");
        spool.append(Kind::Logs, 1, b"b\n").expect("writes");
        let (first, last) = spool.select(Kind::Logs, 10).expect("files");
        spool
            .set_manifest(Kind::Logs, &first, &last)
            .expect("records");
        assert_eq!(
            spool.manifest(Kind::Logs),
            Some((first.clone(), last.clone()))
        );
        assert_eq!(spool.manifest(Kind::Spans), None);
        spool
            .remove(Kind::Logs, std::slice::from_ref(&first))
            .expect("removes");
        let aside = spool.move_aside(Kind::Logs, &last).expect("moves");
        assert!(aside.exists());
        spool.clear_manifest(Kind::Logs).expect("clears");
        assert_eq!(spool.manifest(Kind::Logs), None);
        assert_eq!(spool.bytes(), 0);
        assert!(spool.range(Kind::Logs, &first, &last).is_empty());
    }
}
