//! Snapshots taken in the background, and the compaction that follows
//! them (see the crate's docs for the steps and why a crash at any of them
//! loses nothing).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use redb::{Durability, ReadableTable, ReadableTableMetadata};

use crate::{snapfile, Disk, Inner, Stage, ENTRIES, META};

/// Starts the directory's snapshot thread (once). It holds the directory
/// only weakly, so dropping the last handle closes it (and its lock) even
/// while a snapshot is being written; that snapshot is then dropped.
pub(crate) fn start(inner: &Arc<Inner>) {
    let (tx, rx) = sync_channel(1);
    if inner.snapper.set(tx).is_err() {
        return;
    }
    let weak = Arc::downgrade(inner);
    let turn = inner.snap_turn.clone();
    let spawned = std::thread::Builder::new()
        .name("ordu-snapshot".into())
        .spawn(move || run(weak, rx, turn));
    if let Err(e) = spawned {
        inner.report(&format!(
            "cannot start the snapshot thread, the log will not be compacted: {e}"
        ));
    }
}

/// Wakes the snapshot thread when a snapshot is due and none is running.
pub(crate) fn poke(inner: &Inner, disk: &mut Disk) {
    let o = &inner.opts;
    let due = (o.snapshot_every > 0 && disk.since_snapshot >= o.snapshot_every)
        || (o.snapshot_bytes > 0 && disk.bytes_since >= o.snapshot_bytes);
    if !due || disk.snapshotting || disk.since_snapshot < disk.retry_at {
        return;
    }
    if let Some(tx) = inner.snapper.get() {
        if tx.try_send(()).is_ok() {
            disk.snapshotting = true;
        }
    }
}

fn run(weak: Weak<Inner>, rx: Receiver<()>, turn: Arc<Mutex<()>>) {
    while rx.recv().is_ok() {
        let result = snapshot_once(&weak, &turn);
        let Some(inner) = weak.upgrade() else { return };
        let mut disk = inner.disk.lock();
        disk.snapshotting = false;
        match result {
            Ok(_) => {
                disk.retry_at = 0;
                // Writes went on meanwhile: another may be due already.
                poke(&inner, &mut disk);
            }
            Err(e) => {
                // Not again on the next append: a full disk stays full for
                // a while, and each try copies the state.
                let wait = (inner.opts.snapshot_every / 4).max(64);
                disk.retry_at = disk.since_snapshot.saturating_add(wait);
                drop(disk);
                inner.report(&format!(
                    "snapshot failed; the log keeps its entries and tries again later: {e}"
                ));
            }
        }
    }
}

fn stage(inner: &Inner, s: Stage) {
    if let Some(hook) = &inner.opts.at_stage {
        hook(s);
    }
}

/// Takes one snapshot and compacts the log up to it; answers its index, or
/// none when the state has not moved past the last one (or the directory
/// or its store is gone).
pub(crate) fn snapshot_once(weak: &Weak<Inner>, turn: &Mutex<()>) -> Result<Option<u64>, String> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let _turn = turn.lock();
    let (dir, state) = {
        let Some(inner) = weak.upgrade() else {
            return Ok(None);
        };
        let Some(store) = inner.store.get().and_then(Weak::upgrade) else {
            return Ok(None);
        };
        let prev = inner.disk.lock().snapshot_index;
        // A copy, so that writes go on while it is written: its tables
        // share their values with the store's.
        let Some(state) = store.with_state(|s| (s.index() > prev).then(|| s.clone())) else {
            return Ok(None);
        };
        (inner.dir.clone(), state)
    };
    let index = state.index();
    let tmp = dir.join(format!(
        "{}.tmp-{}-{}",
        snapfile::name(index),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    snapfile::write(&tmp, index, |w| state.write_snapshot(w))
        .map_err(|e| format!("{}: cannot write the snapshot: {e}", tmp.display()))?;
    drop(state);
    // The directory may have closed meanwhile (and another opened it):
    // only a live one names its snapshot.
    let Some(inner) = weak.upgrade() else {
        let _ = std::fs::remove_file(&tmp);
        return Ok(None);
    };
    stage(&inner, Stage::SnapshotWritten);
    snapfile::publish(&tmp, &dir, index).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: cannot put the snapshot in place: {e}", tmp.display())
    })?;
    stage(&inner, Stage::SnapshotInPlace);
    // A failed compaction leaves both snapshot files: whether its commit
    // reached the disk is not known until the file is opened again, which
    // keeps the one the log then follows.
    compact(&inner, index)?;
    stage(&inner, Stage::Compacted);
    inner.snapshots.fetch_add(1, Ordering::Relaxed);
    remove_others(&dir, index);
    Ok(Some(index))
}

/// Records `index` as the snapshot's and deletes the entries it covers, in
/// one transaction.
fn compact(inner: &Inner, index: u64) -> Result<(), String> {
    let mut disk = inner.disk.lock();
    let db = crate::log::db(&mut disk, inner).map_err(|e| e.0)?;
    #[allow(clippy::result_large_err)] // rare, and turned into a message at once
    let done = (|| -> Result<(u64, u64), redb::Error> {
        let mut txn = db.begin_write()?;
        txn.set_durability(Durability::Immediate);
        let kept = {
            txn.open_table(META)?.insert("snapshot_index", index)?;
            let mut t = txn.open_table(ENTRIES)?;
            t.retain_in(..=index, |_, _| false)?;
            let mut bytes = 0u64;
            for row in t.iter()? {
                bytes = bytes.saturating_add(row?.1.value().len() as u64);
            }
            (t.len()?, bytes)
        };
        txn.commit()?;
        Ok(kept)
    })();
    match done {
        Ok((count, bytes)) => {
            disk.snapshot_index = index;
            disk.last = disk.last.max(index);
            disk.since_snapshot = count;
            disk.bytes_since = bytes;
            Ok(())
        }
        Err(e) => {
            disk.db = None;
            Err(format!(
                "{}: cannot record the snapshot at index {index}: {e}",
                inner.file.display()
            ))
        }
    }
}

/// Removes the snapshot files other than the one at `index`; one left
/// behind is removed on the next open.
fn remove_others(dir: &Path, index: u64) {
    let Ok(list) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in list.flatten() {
        let name = entry.file_name();
        if snapfile::index_of(&name.to_string_lossy()).is_some_and(|i| i != index) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
