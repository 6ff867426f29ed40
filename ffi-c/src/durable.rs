//! Durable stores for C hosts: a store opened with `"data_dir"` keeps its
//! log and snapshots in that directory (`ordu-durable`) and is recovered
//! from it when opened again. The work is `ordu_durable`'s; this holds the
//! open directory beside the store and reports what recovery did.

use std::path::Path;

use ordu_core::{Config, Error};
use ordu_durable::{Durable, Options};

use crate::args::out;
use crate::error::{guard, ordu_result, Failure};
use crate::store::ordu_store;

/// What opening a durable store restored from its data directory, written
/// by `ordu_store_recovery`. For a store without a data directory every
/// field is false or 0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ordu_recovery {
    /// Whether the store was opened with `"data_dir"`.
    pub durable: bool,
    /// The index of the snapshot restored (0: there was none).
    pub snapshot_index: u64,
    /// How many log entries after the snapshot were applied.
    pub replayed: u64,
    /// The store's index once recovered: every later write is above it.
    pub index: u64,
}

/// The open data directory of a durable store, and what its recovery did.
pub(crate) struct Kept {
    durable: Durable,
    recovery: ordu_recovery,
}

/// Opens `dir` and recovers a store with `config` from it.
pub(crate) fn open(
    dir: &str,
    snapshot_every: Option<u64>,
    config: Config,
) -> Result<Box<ordu_store>, Failure> {
    let mut opts = Options::default();
    if let Some(n) = snapshot_every {
        opts.snapshot_every = n;
    }
    let durable = Durable::open(dir, opts).map_err(Failure::Durable)?;
    let r = durable.store(config).map_err(Failure::Durable)?;
    let recovery = ordu_recovery {
        durable: true,
        snapshot_index: r.snapshot_index,
        replayed: r.replayed,
        index: r.index,
    };
    Ok(Box::new(ordu_store {
        store: r.store,
        durable: Some(Kept { durable, recovery }),
    }))
}

/// The `reason` and `path` of the error JSON for an error opening a data
/// directory.
pub(crate) fn reason(e: &ordu_durable::Error) -> (&'static str, &Path) {
    match e {
        ordu_durable::Error::Locked { dir } => ("locked", dir),
        ordu_durable::Error::Corrupt { file, .. } => ("corrupt", file),
        ordu_durable::Error::Io { path, .. } => ("io", path),
        ordu_durable::Error::Replay { file, .. } => ("replay", file),
    }
}

/// What opening the store restored from its data directory, written to
/// `*recovery_out` (all false or 0 for a store without `"data_dir"`).
#[no_mangle]
pub unsafe extern "C" fn ordu_store_recovery(
    store: *const ordu_store,
    recovery_out: *mut ordu_recovery,
) -> ordu_result {
    const F: &str = "ordu_store_recovery";
    guard(F, || {
        let Some(s) = store.as_ref() else {
            return Err(Failure::null(F, "store"));
        };
        out(F, "recovery_out", recovery_out)?;
        *recovery_out = s.durable.as_ref().map(|k| k.recovery).unwrap_or_default();
        Ok(())
    })
}

/// Writes a snapshot of a durable store to its data directory now and drops
/// the log entries it covers, so the next open replays less. On `ORDU_OK`
/// writes the snapshot's index to `*index_out` when that is not NULL (the
/// previous snapshot's when nothing was written since). A store without
/// `"data_dir"`, or a write that fails (a full disk), is `ORDU_UNAVAILABLE`.
#[no_mangle]
pub unsafe extern "C" fn ordu_store_snapshot_now(
    store: *const ordu_store,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_store_snapshot_now";
    guard(F, || {
        let Some(s) = store.as_ref() else {
            return Err(Failure::null(F, "store"));
        };
        let Some(kept) = &s.durable else {
            return Err(Failure::Core(Error::Unavailable {
                message: format!("{F}: the store has no data_dir, so nothing to snapshot to"),
            }));
        };
        let index = kept
            .durable
            .snapshot_now()
            .map_err(|e| Error::Unavailable { message: e.0 })?;
        if !index_out.is_null() {
            *index_out = index;
        }
        Ok(())
    })
}
