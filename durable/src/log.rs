//! The durable log: each append is one redb write transaction, committed
//! with immediate durability before the index is answered.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use ordu::{Command, Log, LogError};
use redb::{Database, Durability, ReadableTable, ReadableTableMetadata};

use crate::{Disk, Inner, ENTRIES};

/// The log of a data directory ([`crate::Durable::log`]).
#[derive(Clone)]
pub struct DurableLog {
    inner: Arc<Inner>,
}

pub(crate) fn err(what: &str, file: &std::path::Path, e: impl std::fmt::Display) -> LogError {
    LogError(format!("durable log {}: {what}: {e}", file.display()))
}

/// The open database, opening it again if a failed write dropped it.
pub(crate) fn db<'a>(disk: &'a mut Disk, inner: &Inner) -> Result<&'a Database, LogError> {
    if disk.db.is_none() {
        let (db, _) = crate::fault::open_db(&inner.file, &inner.opts, false)
            .map_err(|e| LogError(format!("durable log: cannot open it again: {e}")))?;
        settle(&db, disk).map_err(|e| err("cannot open it again", &inner.file, e))?;
        disk.db = Some(db);
    }
    Ok(disk.db.as_ref().expect("just set"))
}

/// After a failed commit, whether it reached the disk is unknown until the
/// file is read again: entries past the last answered one were refused, so
/// they are deleted, and a compaction that did land is adopted.
#[allow(clippy::result_large_err)] // rare, and turned into a message at once
fn settle(db: &Database, disk: &mut Disk) -> Result<(), redb::Error> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate);
    let (snapshot_index, count) = {
        let snapshot_index = txn
            .open_table(crate::META)?
            .get("snapshot_index")?
            .map_or(0, |v| v.value());
        let mut t = txn.open_table(ENTRIES)?;
        t.retain_in(disk.last.saturating_add(1).., |_, _| false)?;
        (snapshot_index, t.len()?)
    };
    txn.commit()?;
    if snapshot_index != disk.snapshot_index {
        disk.snapshot_index = snapshot_index;
        disk.since_snapshot = count;
    }
    Ok(())
}

impl DurableLog {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        DurableLog { inner }
    }

    /// Commits `commands` as the entries after index `after`, in order, in
    /// one durable transaction: all of them or none. Answers the first
    /// one's index; the others follow it one by one.
    pub fn append_batch(&self, after: u64, commands: &[&Command]) -> Result<u64, LogError> {
        let bytes: Vec<Vec<u8>> = commands
            .iter()
            .map(|c| ordu::log::encode_entry(c))
            .collect();
        self.append_encoded(after, &bytes)
    }

    /// [`DurableLog::append_batch`] for entry bytes already encoded.
    pub fn append_encoded(&self, after: u64, entries: &[Vec<u8>]) -> Result<u64, LogError> {
        let inner = &self.inner;
        let file = &inner.file;
        let mut disk = inner.disk.lock();
        // Never below what the file holds, whatever the caller saw: indexes
        // do not go back across restarts.
        let first = after.max(disk.last) + 1;
        let n = entries.len() as u64;
        let db = db(&mut disk, inner)?;
        let committed = (|| {
            let mut txn = db
                .begin_write()
                .map_err(|e| err("cannot begin a write", file, e))?;
            txn.set_durability(Durability::Immediate);
            // redb's error is large, but it is rare and becomes a message at once.
            #[allow(clippy::result_large_err)]
            let written = (|| -> Result<(), redb::Error> {
                let mut t = txn.open_table(ENTRIES)?;
                for (i, e) in entries.iter().enumerate() {
                    t.insert(first + i as u64, e.as_slice())?;
                }
                Ok(())
            })();
            if let Err(e) = written {
                let _ = txn.abort();
                return Err(err("cannot write", file, e));
            }
            txn.commit().map_err(|e| err("cannot commit", file, e))
        })();
        if let Err(e) = committed {
            // redb refuses every later write of a database that saw an I/O
            // error; the next append opens the file again.
            disk.db = None;
            if !disk.failing {
                disk.failing = true;
                inner.report(&format!(
                    "writes are refused until the disk takes them: {e}"
                ));
            }
            return Err(e);
        }
        if std::mem::take(&mut disk.failing) {
            inner.report(&format!("{}: writes go on", file.display()));
        }
        let bytes: u64 = entries.iter().map(|e| e.len() as u64).sum();
        if n > 0 {
            disk.last = first + n - 1;
        }
        disk.since_snapshot += n;
        disk.bytes_since = disk.bytes_since.saturating_add(bytes);
        inner.commits.fetch_add(1, Relaxed);
        inner.entries.fetch_add(n, Relaxed);
        crate::compact::poke(inner, &mut disk);
        Ok(first)
    }
}

impl Log for DurableLog {
    fn append(&self, after: u64, command: &Command) -> Result<u64, LogError> {
        self.append_encoded(after, &[ordu::log::encode_entry(command)])
    }

    /// One transaction, one sync, for the writes the store gathered.
    fn batches(&self) -> bool {
        true
    }

    fn append_batch(&self, after: u64, commands: &[&Command]) -> Result<u64, LogError> {
        DurableLog::append_batch(self, after, commands)
    }

    fn commit_delay(&self) -> std::time::Duration {
        self.inner.opts.commit_delay
    }
}
