//! The durable log: each append is one redb write transaction, committed
//! with immediate durability before the index is answered.

use std::sync::Arc;

use ordu::{Command, Log, LogError};
use redb::{Durability, ReadableTableMetadata};

use crate::{Inner, ENTRIES, META, SNAPSHOT};

/// The log of a data directory ([`crate::Durable::log`]).
#[derive(Clone)]
pub struct DurableLog {
    inner: Arc<Inner>,
}

fn err(what: &str, file: &std::path::Path, e: impl std::fmt::Display) -> LogError {
    LogError(format!("durable log {}: {what}: {e}", file.display()))
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
        let mut tail = inner.tail.lock();
        // Never below what the file holds, whatever the caller saw: indexes
        // do not go back across restarts.
        let first = after.max(tail.last) + 1;
        let n = entries.len() as u64;
        // A snapshot due is taken from the store as it is now (under its log
        // turn, every entry before this one applied) and written in the same
        // transaction, so it and the entries it drops go together.
        let snap = if inner.opts.snapshot_every > 0
            && tail.since_snapshot + n >= inner.opts.snapshot_every
        {
            self.take_snapshot(tail.snapshot_index)
        } else {
            None
        };
        let file = &inner.file;
        let mut txn = inner
            .db
            .begin_write()
            .map_err(|e| err("cannot begin a write", file, e))?;
        txn.set_durability(Durability::Immediate);
        // redb's error is large, but it is rare and becomes a message at once.
        #[allow(clippy::result_large_err)]
        let written = (|| -> Result<u64, redb::Error> {
            let mut kept = 0;
            if let Some((index, bytes)) = &snap {
                kept = write_snapshot(&txn, *index, bytes)?;
            }
            let mut t = txn.open_table(ENTRIES)?;
            for (i, e) in entries.iter().enumerate() {
                t.insert(first + i as u64, e.as_slice())?;
            }
            Ok(kept)
        })();
        let kept = match written {
            Ok(kept) => kept,
            Err(e) => {
                let _ = txn.abort();
                return Err(err("cannot write", file, e));
            }
        };
        txn.commit().map_err(|e| err("cannot commit", file, e))?;
        if n > 0 {
            tail.last = first + n - 1;
        }
        tail.since_snapshot += n;
        if let Some((index, _)) = snap {
            tail.snapshot_index = index;
            tail.last = tail.last.max(index);
            tail.since_snapshot = kept + n;
        }
        Ok(first)
    }

    /// The store's state and index, when a store is attached and it moved
    /// past the last snapshot.
    fn take_snapshot(&self, last: u64) -> Option<(u64, Vec<u8>)> {
        let store = self.inner.store.get()?.upgrade()?;
        let (index, bytes) = store.with_state(|s| (s.index(), s.snapshot()));
        (index > last).then_some((index, bytes))
    }

    /// See [`crate::Durable::snapshot_now`].
    pub fn snapshot_now(&self) -> Result<u64, LogError> {
        let inner = &self.inner;
        let file = &inner.file;
        let mut tail = inner.tail.lock();
        let Some((index, bytes)) = self.take_snapshot(tail.snapshot_index) else {
            return Ok(tail.snapshot_index);
        };
        let mut txn = inner
            .db
            .begin_write()
            .map_err(|e| err("cannot begin a write", file, e))?;
        txn.set_durability(Durability::Immediate);
        let kept = match write_snapshot(&txn, index, &bytes) {
            Ok(kept) => kept,
            Err(e) => {
                let _ = txn.abort();
                return Err(err("cannot write a snapshot", file, e));
            }
        };
        txn.commit()
            .map_err(|e| err("cannot commit a snapshot", file, e))?;
        tail.snapshot_index = index;
        tail.last = tail.last.max(index);
        tail.since_snapshot = kept;
        Ok(index)
    }
}

/// Replaces the snapshot with `bytes` at `index` and deletes the entries at
/// or below it; answers how many entries remain (those above it).
#[allow(clippy::result_large_err)] // rare, and turned into a message at once
fn write_snapshot(
    txn: &redb::WriteTransaction,
    index: u64,
    bytes: &[u8],
) -> Result<u64, redb::Error> {
    let mut snaps = txn.open_table(SNAPSHOT)?;
    snaps.retain(|_, _| false)?;
    snaps.insert(index, bytes)?;
    txn.open_table(META)?.insert("snapshot_index", index)?;
    let mut entries = txn.open_table(ENTRIES)?;
    entries.retain_in(..=index, |_, _| false)?;
    Ok(entries.len()?)
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
}
