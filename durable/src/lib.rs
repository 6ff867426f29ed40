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
//! - **Torn writes.** A commit interrupted by a crash or power loss leaves
//!   the header's other commit slot intact; redb checks the checksum of the
//!   latest slot on open and falls back to the previous commit when it does
//!   not verify. The commit lost that way had not returned, so no write it
//!   held was answered.
//! - **All or nothing.** An append of several entries ([`DurableLog::append_batch`]),
//!   and a snapshot written with the deletion of the entries it covers, are
//!   one transaction each: after a crash either all of it is there or none.
//! - **Corruption.** Every page carries a checksum. With
//!   [`Options::verify_on_open`] (the default) the whole file is checked when
//!   the directory is opened, and a file that fails is refused
//!   ([`Error::Corrupt`], naming the file) instead of being read with a silent
//!   loss. redb does not report where in the file the damage is.
//!
//! A hand-written log could sync less per entry, but group commit (several
//! writers' entries in one transaction, [`DurableLog::append_batch`]) takes
//! away most of that difference, and the recovery code above is the part
//! that is hard to get right.
//!
//! # Layout
//!
//! Three tables: `entries` (index to entry bytes from
//! [`ordu::log::encode_entry`]), `snapshot` (one row: the latest snapshot's
//! index to its bytes from [`ordu::Store::snapshot`]) and `meta` (the
//! snapshot's index and the layout's version). Entries at or below the
//! snapshot's index are deleted in the transaction that writes it, so the
//! file holds the state plus the entries since, not the whole history.
//!
//! # Compaction
//!
//! Every [`Options::snapshot_every`] entries the log writes a snapshot, today
//! synchronously inside the append that crosses the mark (the write that
//! triggers it waits for it); doing it in the background is the next step.
//! [`Durable::snapshot_now`] does it on demand.
//!
//! # Limits
//!
//! After an I/O error (a full disk) redb refuses every later write of the
//! open database, so writes resume only after the directory is opened again.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock, Weak};

use ordu::{Config, ErrorKind, Store};
use parking_lot::Mutex;
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};

mod fault;
mod log;

pub use crate::log::DurableLog;

pub(crate) const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
pub(crate) const SNAPSHOT: TableDefinition<u64, &[u8]> = TableDefinition::new("snapshot");
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// The version of the tables' layout, kept in `meta`; a directory of another
/// version is refused.
pub const LAYOUT_VERSION: u64 = 1;

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "ordu.redb";
/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "LOCK";

/// How a data directory is kept.
#[derive(Clone, Debug)]
pub struct Options {
    /// Write a snapshot (and drop the entries it covers) once this many
    /// entries were appended since the last one; 0 never does.
    pub snapshot_every: u64,
    /// Check every page's checksum when the directory is opened (its cost
    /// grows with the file, which compaction keeps near the state's size).
    pub verify_on_open: bool,
    /// For fault tests: while this is set, every write and sync of the
    /// database file fails with an I/O error, as on a full disk.
    pub fail_writes: Option<Arc<AtomicBool>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            snapshot_every: 10_000,
            verify_on_open: true,
            fail_writes: None,
        }
    }
}

/// Why a data directory could not be opened or recovered.
#[derive(Debug)]
pub enum Error {
    /// Another process (or another `Durable` here) holds the directory.
    Locked { dir: PathBuf },
    /// The database file failed its checks.
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
}

/// What the log keeps in memory about the file, under one lock so that
/// appends and snapshots see each other's effects in order.
pub(crate) struct Tail {
    /// The highest index in the file (an entry's, or the snapshot's).
    pub last: u64,
    pub snapshot_index: u64,
    /// Entries appended since the last snapshot.
    pub since_snapshot: u64,
}

pub(crate) struct Inner {
    pub db: Database,
    pub file: PathBuf,
    pub opts: Options,
    pub tail: Mutex<Tail>,
    /// The store this log feeds, for snapshots it takes itself.
    pub store: OnceLock<Weak<Store>>,
    _lock: File,
}

/// An open data directory.
#[derive(Clone)]
pub struct Durable {
    inner: Arc<Inner>,
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
        let file = dir.join(DB_FILE);
        let db = fault::open_db(&file, &opts)?;
        let tail = read_tail(&db, &file)?;
        Ok(Durable {
            inner: Arc::new(Inner {
                db,
                file,
                opts,
                tail: Mutex::new(tail),
                store: OnceLock::new(),
                _lock: lock,
            }),
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
        self.inner.tail.lock().last
    }

    /// The index of the latest snapshot (0: none).
    pub fn snapshot_index(&self) -> u64 {
        self.inner.tail.lock().snapshot_index
    }

    /// How many entries the file holds (those after the snapshot).
    pub fn entry_count(&self) -> Result<u64, Error> {
        let e = |e: redb::Error| self.corrupt(e);
        let txn = self.inner.db.begin_read().map_err(|x| e(x.into()))?;
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
    /// again if it led before. Call it once per open directory.
    pub fn recover(&self, store: Store) -> Result<Recovered, Error> {
        let lead = store.is_leader();
        store.set_leader(false);
        let store = Arc::new(store.with_log(self.log()));
        let replay = |message: String| Error::Replay {
            file: self.inner.file.clone(),
            message,
        };
        let e = |e: redb::Error| self.corrupt(e);
        let txn = self.inner.db.begin_read().map_err(|x| e(x.into()))?;
        let snaps = txn.open_table(SNAPSHOT).map_err(|x| e(x.into()))?;
        let mut snapshot_index = 0;
        if let Some((k, v)) = snaps.last().map_err(|x| e(x.into()))? {
            snapshot_index = k.value();
            store
                .restore_snapshot(v.value())
                .map_err(|err| replay(format!("snapshot at index {snapshot_index}: {err}")))?;
        }
        let entries = txn.open_table(ENTRIES).map_err(|x| e(x.into()))?;
        let mut replayed = 0;
        for row in entries
            .range(snapshot_index + 1..)
            .map_err(|x| e(x.into()))?
        {
            let (k, v) = row.map_err(|x| e(x.into()))?;
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
            replayed += 1;
        }
        drop((entries, snaps, txn));
        let _ = self.inner.store.set(Arc::downgrade(&store));
        if lead {
            store.set_leader(true);
        }
        let index = store.index();
        Ok(Recovered {
            store,
            snapshot_index,
            replayed,
            index,
        })
    }

    /// Writes the store's snapshot now, with its index, and deletes the
    /// entries it covers, in one transaction. Answers the snapshot's index
    /// (the previous one when the state has not moved past it).
    pub fn snapshot_now(&self) -> Result<u64, ordu::LogError> {
        self.log().snapshot_now()
    }
}

fn read_tail(db: &Database, file: &Path) -> Result<Tail, Error> {
    let corrupt = |e: redb::Error| Error::Corrupt {
        file: file.to_path_buf(),
        message: e.to_string(),
    };
    let e = |x: redb::Error| corrupt(x);
    // Create the tables on first open (and check the layout's version).
    let txn = db.begin_write().map_err(|x| e(x.into()))?;
    let (last_entry, snapshot_index, count) = {
        let mut meta = txn.open_table(META).map_err(|x| e(x.into()))?;
        let version = meta
            .get("layout")
            .map_err(|x| e(x.into()))?
            .map(|v| v.value());
        match version {
            None => {
                meta.insert("layout", LAYOUT_VERSION)
                    .map_err(|x| e(x.into()))?;
            }
            Some(LAYOUT_VERSION) => {}
            Some(v) => {
                return Err(Error::Corrupt {
                    file: file.to_path_buf(),
                    message: format!(
                        "layout version {v} is not {LAYOUT_VERSION}, the one this ordu reads"
                    ),
                })
            }
        }
        let snapshot_index = meta
            .get("snapshot_index")
            .map_err(|x| e(x.into()))?
            .map_or(0, |v| v.value());
        txn.open_table(SNAPSHOT).map_err(|x| e(x.into()))?;
        let entries = txn.open_table(ENTRIES).map_err(|x| e(x.into()))?;
        let last_entry = entries
            .last()
            .map_err(|x| e(x.into()))?
            .map_or(0, |(k, _)| k.value());
        let count = entries.len().map_err(|x| e(x.into()))?;
        (last_entry, snapshot_index, count)
    };
    txn.commit().map_err(|x| e(x.into()))?;
    Ok(Tail {
        last: last_entry.max(snapshot_index),
        snapshot_index,
        since_snapshot: count,
    })
}
