//! A durable log and snapshots for an [`ordu::Store`], kept in a data
//! directory: the host of the log seam (`docs/log-seam.md`) that a server
//! uses to keep its state across restarts.
//!
//! # Why redb
//!
//! The log is a [redb](https://docs.rs/redb) database (one file, `ordu.redb`)
//! rather than a segmented log written here. redb is pure Rust with a stable
//! file format, and its write transactions are atomic and durable: with
//! [`redb::Durability::Immediate`] a commit returns only once its pages and
//! the header pointing at them are synced. That gives, without code of our
//! own to get wrong:
//!
//! - **Torn writes.** A commit interrupted by a crash or power loss is not
//!   referenced by the header, or fails its checksum and is rolled back when
//!   the file is next opened; [`Recovered::notes`] then says so. The commit
//!   lost that way had not returned, so no write it held was answered.
//! - **All or nothing.** An append of several entries
//!   ([`DurableLog::append_batch`]) and a compaction (the new snapshot's
//!   index with the deletion of the entries it covers) are one transaction
//!   each: after a crash either all of it is there or none.
//! - **Corruption.** Every page carries a checksum. With
//!   [`Options::verify_on_open`] (the default) the whole file is checked when
//!   the directory is opened, and a file that fails is refused
//!   ([`Error::Corrupt`], naming the file) instead of being read with a silent
//!   loss. redb does not report where in its file the damage is.
//!
//! A hand-written log could sync less per entry, but group commit (several
//! writers' entries in one transaction) takes away most of that difference,
//! and the recovery code above is the part that is hard to get right.
//!
//! # Layout
//!
//! - `ordu.redb`: the tables `entries` (index to entry bytes from
//!   [`ordu::log::encode_entry`]) and `meta` (the layout's version and the
//!   index of the snapshot the entries follow).
//! - `snapshot-<index>.snap`: the state at that index, from
//!   [`ordu::State::write_snapshot`], in checksummed chunks (damage is named
//!   by its byte offset). Only the one `meta` names is kept.
//! - `LOCK`: held while the directory is open, so a second server on it is
//!   refused.
//!
//! Snapshots live beside the database rather than in it because redb has
//! one writer at a time: a snapshot of a large state written in a
//! transaction would hold every append up for as long as it takes.
//!
//! # Compaction
//!
//! Once [`Options::snapshot_every`] entries, or [`Options::snapshot_bytes`]
//! bytes of entries, were appended since the last snapshot, a thread of the
//! directory's writes one in the background: it copies the state (a short
//! read lock; the state's tables share their values), writes the copy to a
//! temporary file and syncs it, renames it into place, and then, in one
//! transaction, records its index and deletes the entries it covers. Writes
//! go on meanwhile. A crash at any step leaves the previous snapshot and the
//! entries after it, from which recovery rebuilds the same state; files left
//! by an interrupted snapshot are removed on the next open. The file so
//! holds the state plus the entries since, not the whole history.
//!
//! # Faults
//!
//! An append that fails (a full disk, a file system gone read-only) is
//! refused and changes nothing; redb refuses every later write of a
//! database that saw an I/O error, so the log drops it and opens the file
//! again on the next append: writes resume once the disk does. Reads are
//! served from memory throughout.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock, Weak};

use ordu::{Config, ErrorKind, Store};
use parking_lot::Mutex;
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};

mod compact;
mod fault;
mod log;
mod snapfile;

pub use crate::fault::{Fault, Faults};
pub use crate::log::DurableLog;
pub use crate::snapfile::snapshot_file;

pub(crate) const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
/// Layout 1 kept the snapshot in the database; it is moved out on open.
const SNAPSHOT_V1: TableDefinition<u64, &[u8]> = TableDefinition::new("snapshot");
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// The version of the directory's layout, kept in `meta`. Layout 1 (the
/// snapshot inside the database) is still opened, and moved to this one.
pub const LAYOUT_VERSION: u64 = 2;

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "ordu.redb";
/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "LOCK";
/// Written into the data directory when its database failed its check
/// after redb had rewritten it; while it is there, the directory is refused.
pub const CORRUPT_FILE: &str = "CORRUPT";

/// A step of a snapshot, for fault tests ([`Options::at_stage`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The snapshot is written and synced under its temporary name.
    SnapshotWritten,
    /// It has its final name; its index is not yet recorded.
    SnapshotInPlace,
    /// Its index is recorded and the entries it covers are deleted; the
    /// previous snapshot's file is not yet removed.
    Compacted,
}

/// Called at each [`Stage`] of a snapshot.
pub type StageHook = Arc<dyn Fn(Stage) + Send + Sync>;
/// Called with a line for the host's log about what the directory did in
/// the background (a snapshot failed, say).
pub type Reporter = Arc<dyn Fn(&str) + Send + Sync>;

/// How a data directory is kept.
#[derive(Clone)]
pub struct Options {
    /// Write a snapshot (and drop the entries it covers) once this many
    /// entries were appended since the last one; 0: not by count.
    pub snapshot_every: u64,
    /// Or once the entries appended since the last one hold this many
    /// bytes; 0: not by size.
    pub snapshot_bytes: u64,
    /// Check every page's checksum when the directory is opened (its cost
    /// grows with the file, which compaction keeps small).
    pub verify_on_open: bool,
    /// How long the store's own writes (plans, evaluation outcomes) that
    /// would commit alone wait for a client's write to share their sync
    /// ([`ordu::Log::commit_delay`]); zero: never.
    pub commit_delay: std::time::Duration,
    /// Where background events are told; none: they are not.
    pub report: Option<Reporter>,
    /// For fault tests: the faults the database file's writes suffer.
    pub faults: Option<Arc<Faults>>,
    /// For fault tests: called at each step of a snapshot.
    pub at_stage: Option<StageHook>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("snapshot_every", &self.snapshot_every)
            .field("snapshot_bytes", &self.snapshot_bytes)
            .field("verify_on_open", &self.verify_on_open)
            .field("commit_delay", &self.commit_delay)
            .field("report", &self.report.is_some())
            .field("faults", &self.faults)
            .field("at_stage", &self.at_stage.is_some())
            .finish()
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            snapshot_every: 10_000,
            snapshot_bytes: 64 << 20,
            verify_on_open: true,
            commit_delay: DEFAULT_COMMIT_DELAY,
            report: None,
            faults: None,
            at_stage: None,
        }
    }
}

/// [`Options::commit_delay`] by default: a little more than a client on
/// the same machine takes to send its next write after an answer, and a
/// fraction of a sync, so that a lone plan is held back by less than the
/// commit it may save.
pub const DEFAULT_COMMIT_DELAY: std::time::Duration = std::time::Duration::from_micros(200);

/// Why a data directory could not be opened or recovered.
#[derive(Debug)]
pub enum Error {
    /// Another process (or another `Durable` here) holds the directory.
    Locked { dir: PathBuf },
    /// A file failed its checks.
    Corrupt { file: PathBuf, message: String },
    /// A file could not be created, opened or read.
    Io { path: PathBuf, message: String },
    /// A stored entry or snapshot could not be applied.
    Replay { file: PathBuf, message: String },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Locked { dir } => write!(
                f,
                "data directory {} is in use by another process (its {LOCK_FILE} file is locked)",
                dir.display()
            ),
            Error::Corrupt { file, message } => {
                write!(f, "{} is corrupt: {message}", file.display())
            }
            Error::Io { path, message } => write!(f, "{}: {message}", path.display()),
            Error::Replay { file, message } => {
                write!(f, "{}: cannot recover: {message}", file.display())
            }
        }
    }
}

impl std::error::Error for Error {}

/// What [`Durable::recover`] restored.
pub struct Recovered {
    /// The store, with the durable log as its log.
    pub store: Arc<Store>,
    /// The index of the snapshot restored (0: none).
    pub snapshot_index: u64,
    /// How many entries after it were applied.
    pub replayed: u64,
    /// The store's index after recovery.
    pub index: u64,
    /// Lines for the host's log about what opening the directory repaired
    /// or removed (a crash's traces); empty after a clean shutdown.
    pub notes: Vec<String>,
}

/// How many commits the log made and how many entries they held: their
/// ratio is the group commit's batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub commits: u64,
    pub entries: u64,
    pub snapshots: u64,
}

/// The database and what the log keeps in memory about it, under one lock
/// so that appends and compactions see each other's effects in order.
pub(crate) struct Disk {
    /// None after a write failed: redb refuses any write of a database
    /// that saw an I/O error, so the next append opens it again.
    pub db: Option<Database>,
    /// The highest index in the file (an entry's, or the snapshot's).
    pub last: u64,
    pub snapshot_index: u64,
    /// Entries, and their bytes, appended since the last snapshot.
    pub since_snapshot: u64,
    pub bytes_since: u64,
    /// A snapshot is being taken in the background.
    pub snapshotting: bool,
    /// The last append failed (told once, and once when one succeeds).
    pub failing: bool,
    /// After a snapshot failed, none is tried again before this many
    /// entries since the last one, so a full disk is not hammered.
    pub retry_at: u64,
}

pub(crate) struct Inner {
    pub dir: PathBuf,
    pub file: PathBuf,
    pub opts: Options,
    pub disk: Mutex<Disk>,
    /// The store this log feeds, for the snapshots it takes.
    pub store: OnceLock<Weak<Store>>,
    /// Wakes the snapshot thread; set once the store is attached.
    pub snapper: OnceLock<std::sync::mpsc::SyncSender<()>>,
    /// One snapshot at a time, shared with the snapshot thread (which holds
    /// the directory only weakly).
    pub snap_turn: Arc<Mutex<()>>,
    pub commits: AtomicU64,
    pub entries: AtomicU64,
    pub snapshots: AtomicU64,
    _lock: File,
}

impl Inner {
    pub(crate) fn report(&self, line: &str) {
        if let Some(r) = &self.opts.report {
            r(line);
        }
    }
}

/// An open data directory.
#[derive(Clone)]
pub struct Durable {
    inner: Arc<Inner>,
    notes: Arc<Vec<String>>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl Durable {
    /// Opens (creating it if needed) the data directory `dir`, taking its
    /// lock; a directory another process holds is refused.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Durable, Error> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Locked {
                    dir: dir.to_path_buf(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&lock_path)(e)),
        }
        let marker = dir.join(CORRUPT_FILE);
        if let Ok(why) = std::fs::read_to_string(&marker) {
            return Err(Error::Corrupt {
                file: marker,
                message: format!(
                    "{}; remove this file to open the directory anyway, accepting \
                     that what redb's repair dropped is lost",
                    why.trim()
                ),
            });
        }
        let file = dir.join(DB_FILE);
        let (db, repair) = fault::open_db(&file, &opts, opts.verify_on_open)?;
        let mut notes = Vec::new();
        if repair.torn {
            notes.push(format!(
                "{}: the last commit did not verify (torn by a crash) and was cut; \
                 it had not been answered",
                file.display()
            ));
        } else if repair.unclean {
            notes.push(format!(
                "{}: not closed cleanly; recovered to its last complete commit \
                 (a commit the crash interrupted, never answered, is dropped)",
                file.display()
            ));
        }
        let disk = read_disk(db, dir, &file)?;
        notes.extend(remove_stale(dir, disk.snapshot_index)?);
        Ok(Durable {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                file,
                opts,
                disk: Mutex::new(disk),
                store: OnceLock::new(),
                snapper: OnceLock::new(),
                snap_turn: Arc::new(Mutex::new(())),
                commits: AtomicU64::new(0),
                entries: AtomicU64::new(0),
                snapshots: AtomicU64::new(0),
                _lock: lock,
            }),
            notes: Arc::new(notes),
        })
    }

    /// The database file.
    pub fn file(&self) -> &Path {
        &self.inner.file
    }

    /// The log, to hand to [`Store::with_log`] (done by [`Durable::recover`]).
    pub fn log(&self) -> DurableLog {
        DurableLog::new(self.inner.clone())
    }

    /// The highest index in the file: an appended entry's or the snapshot's.
    pub fn last_index(&self) -> u64 {
        self.inner.disk.lock().last
    }

    /// The index of the latest snapshot (0: none).
    pub fn snapshot_index(&self) -> u64 {
        self.inner.disk.lock().snapshot_index
    }

    /// Commits, entries and snapshots written since the directory was opened.
    pub fn stats(&self) -> Stats {
        use std::sync::atomic::Ordering::Relaxed;
        Stats {
            commits: self.inner.commits.load(Relaxed),
            entries: self.inner.entries.load(Relaxed),
            snapshots: self.inner.snapshots.load(Relaxed),
        }
    }

    /// How many entries the file holds (those after the snapshot).
    pub fn entry_count(&self) -> Result<u64, Error> {
        let e = |e: redb::Error| self.corrupt(e);
        let mut disk = self.inner.disk.lock();
        let db = log::db(&mut disk, &self.inner).map_err(|m| Error::Io {
            path: self.inner.file.clone(),
            message: m.0,
        })?;
        let txn = db.begin_read().map_err(|x| e(x.into()))?;
        let t = txn.open_table(ENTRIES).map_err(|x| e(x.into()))?;
        t.len().map_err(|x| e(x.into()))
    }

    fn corrupt(&self, e: redb::Error) -> Error {
        Error::Corrupt {
            file: self.inner.file.clone(),
            message: e.to_string(),
        }
    }

    /// A store with `config` recovered from the directory ([`Durable::recover`]).
    pub fn store(&self, config: Config) -> Result<Recovered, Error> {
        self.recover(Store::new(config))
    }

    /// Restores the latest snapshot into `store` (a fresh one), applies every
    /// entry after it in order, and gives the store this directory's log.
    /// The store follows while it replays, so that no evaluation is run (and
    /// no entry written) before the last entry is applied; it then leads
    /// again if it led before, and its pending and blocked evaluations run.
    /// Call it once per open directory: it also starts the thread that
    /// takes the snapshots.
    pub fn recover(&self, store: Store) -> Result<Recovered, Error> {
        let lead = store.is_leader();
        store.set_leader(false);
        let store = Arc::new(store.with_log(self.log()));
        let replay = |file: &Path, message: String| Error::Replay {
            file: file.to_path_buf(),
            message,
        };
        let snapshot_index = self.snapshot_index();
        if snapshot_index > 0 {
            let path = snapfile::path(&self.inner.dir, snapshot_index);
            let bytes = snapfile::read(&path, snapshot_index)?;
            store.restore_snapshot(&bytes).map_err(|err| {
                replay(&path, format!("snapshot at index {snapshot_index}: {err}"))
            })?;
        }
        let replayed = self.replay(&store, snapshot_index)?;
        let _ = self.inner.store.set(Arc::downgrade(&store));
        compact::start(&self.inner);
        if lead {
            store.set_leader(true);
        }
        let index = store.index();
        Ok(Recovered {
            store,
            snapshot_index,
            replayed,
            index,
            notes: self.notes.to_vec(),
        })
    }

    /// Applies the entries after `snapshot_index`; answers how many.
    fn replay(&self, store: &Store, snapshot_index: u64) -> Result<u64, Error> {
        let file = &self.inner.file;
        let replay = |message: String| Error::Replay {
            file: file.clone(),
            message,
        };
        let disk = self.inner.disk.lock();
        let db = disk.db.as_ref().expect("open just opened the database");
        let mut applied = snapshot_index;
        let e = |x: redb::Error, applied: u64| Error::Corrupt {
            file: file.clone(),
            message: format!("reading the entries after index {applied}: {x}"),
        };
        let txn = db.begin_read().map_err(|x| e(x.into(), applied))?;
        let entries = txn.open_table(ENTRIES).map_err(|x| e(x.into(), applied))?;
        let mut replayed = 0;
        for row in entries
            .range(snapshot_index + 1..)
            .map_err(|x| e(x.into(), applied))?
        {
            let (k, v) = row.map_err(|x| e(x.into(), applied))?;
            let index = k.value();
            let cmd = ordu::log::decode_entry(v.value())
                .map_err(|err| replay(format!("entry {index}: {err}")))?;
            // An entry that apply refuses (a check-and-set that lost to an
            // earlier write of its batch, a job gone meanwhile) was refused
            // the same way when it was first applied: apply decides alike on
            // every replay, and the entry keeps its index. Other errors mean
            // the file or the code changed.
            match store.apply_committed(index, cmd) {
                Ok(_) => {}
                Err(err) if matches!(err.kind(), ErrorKind::Conflict | ErrorKind::NotFound) => {}
                Err(err) => return Err(replay(format!("entry {index}: {err}"))),
            }
            applied = index;
            replayed += 1;
        }
        Ok(replayed)
    }

    /// Writes the store's snapshot now and deletes the entries it covers, as
    /// the background does (waiting for a snapshot it is taking). Answers
    /// the snapshot's index (the previous one when the state has not moved
    /// past it).
    pub fn snapshot_now(&self) -> Result<u64, ordu::LogError> {
        compact::snapshot_once(&Arc::downgrade(&self.inner), &self.inner.snap_turn)
            .map(|taken| taken.unwrap_or_else(|| self.snapshot_index()))
            .map_err(ordu::LogError)
    }
}

/// Reads what the log keeps in memory about the file, creating its tables
/// on first open and moving a layout 1 snapshot out into its file.
fn read_disk(db: Database, dir: &Path, file: &Path) -> Result<Disk, Error> {
    let e = |x: redb::Error| Error::Corrupt {
        file: file.to_path_buf(),
        message: x.to_string(),
    };
    let txn = db.begin_write().map_err(|x| e(x.into()))?;
    let (last_entry, snapshot_index, count, bytes) = {
        let mut meta = txn.open_table(META).map_err(|x| e(x.into()))?;
        let version = meta
            .get("layout")
            .map_err(|x| e(x.into()))?
            .map(|v| v.value());
        match version {
            None => {}
            Some(1) => {
                // The snapshot goes to its file (synced) before the
                // transaction that drops it from here commits.
                let snaps = txn.open_table(SNAPSHOT_V1).map_err(|x| e(x.into()))?;
                if let Some((k, v)) = snaps.last().map_err(|x| e(x.into()))? {
                    let index = k.value();
                    let tmp = dir.join(format!("{}.tmp-layout1", snapfile::name(index)));
                    let _ = std::fs::remove_file(&tmp);
                    snapfile::write(&tmp, index, |w| w.write_all(v.value()))
                        .and_then(|()| snapfile::publish(&tmp, dir, index).map(|_| ()))
                        .map_err(io(&tmp))?;
                }
                drop(snaps);
                txn.delete_table(SNAPSHOT_V1).map_err(|x| e(x.into()))?;
            }
            Some(LAYOUT_VERSION) => {}
            Some(v) => {
                return Err(Error::Corrupt {
                    file: file.to_path_buf(),
                    message: format!(
                        "layout version {v} is not one this ordu reads (1 to {LAYOUT_VERSION})"
                    ),
                })
            }
        }
        if version != Some(LAYOUT_VERSION) {
            meta.insert("layout", LAYOUT_VERSION)
                .map_err(|x| e(x.into()))?;
        }
        let snapshot_index = meta
            .get("snapshot_index")
            .map_err(|x| e(x.into()))?
            .map_or(0, |v| v.value());
        let entries = txn.open_table(ENTRIES).map_err(|x| e(x.into()))?;
        let last_entry = entries
            .last()
            .map_err(|x| e(x.into()))?
            .map_or(0, |(k, _)| k.value());
        let count = entries.len().map_err(|x| e(x.into()))?;
        let mut bytes = 0u64;
        for row in entries.iter().map_err(|x| e(x.into()))? {
            let (_, v) = row.map_err(|x| e(x.into()))?;
            bytes = bytes.saturating_add(v.value().len() as u64);
        }
        (last_entry, snapshot_index, count, bytes)
    };
    txn.commit().map_err(|x| e(x.into()))?;
    Ok(Disk {
        db: Some(db),
        last: last_entry.max(snapshot_index),
        snapshot_index,
        since_snapshot: count,
        bytes_since: bytes,
        snapshotting: false,
        failing: false,
        retry_at: 0,
    })
}

/// Removes what an interrupted snapshot left: files under a temporary name,
/// and snapshot files other than the one the log follows. Answers a note
/// for each.
fn remove_stale(dir: &Path, snapshot_index: u64) -> Result<Vec<String>, Error> {
    let mut notes = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let stale = snapfile::is_temporary(name)
            || snapfile::index_of(name).is_some_and(|i| i != snapshot_index);
        if stale {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(io(&path))?;
            notes.push(format!(
                "{}: removed, left by a snapshot or compaction a crash interrupted",
                path.display()
            ));
        }
    }
    Ok(notes)
}
