//! The store handle: created from a JSON configuration (in memory or kept
//! in a data directory), freed, and its index read.

use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use ordu_core::{host, Store};

use crate::args::{body, out, store_ref};
use crate::durable;
use crate::error::{guard, ordu_result};

/// A store: jobs, evaluations, allocations and nodes, with blocking reads.
/// Created by `ordu_store_new`, freed by `ordu_store_free`. It is internally
/// synchronised: every function takes `const ordu_store *` and may be called
/// from any number of threads at once.
pub struct ordu_store {
    // Declared before `durable`, so dropped first: the store's last write
    // is done before the directory's lock goes.
    pub(crate) store: Arc<Store>,
    /// The data directory the store's log is kept in (`"data_dir"`), and
    /// what its recovery restored.
    pub(crate) durable: Option<durable::Kept>,
}

impl ordu_store {
    /// A store kept in memory (or in a host's log).
    pub(crate) fn memory(store: Store) -> Box<ordu_store> {
        Box::new(ordu_store {
            store: Arc::new(store),
            durable: None,
        })
    }

    /// The Rust store behind a C handle, for Rust code that shares a store
    /// with C code (not part of the C API).
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// Creates a store from a JSON configuration of `config_len` bytes. Every
/// key is optional: `{"region": "global", "mode": "inline" | "grouped" |
/// "queued" | "manual", "delivery_limit": 3, "nack_timeout": "60s", "seed": 1, "limits":
/// {"max_group_count": 10000, "max_job_count": 100000,
/// "max_request_bytes": 8388608, "max_constraints": 1000}}`. A NULL
/// `config_json` (its length is then ignored) or an empty or all-blank text
/// means every default. An unknown key or a value of the wrong type is
/// `ORDU_INVALID_JSON`, a bad value (an empty region, an unknown mode) is
/// `ORDU_INVALID`; the error JSON's `errors` name the field.
///
/// With `"data_dir": "PATH"` the store is durable: its state is kept in that
/// directory (created if missing) and recovered from it here, so a store
/// opened again on the same directory has the same state and index. Each
/// write returns only after its entry is on disk; writes made from several
/// threads at once share one commit. `"snapshot_every": N` (only with
/// `data_dir`) writes a snapshot every N entries and drops the entries
/// before it (0: never; default 10000). A directory another store holds,
/// a corrupt file or an I/O error is `ORDU_UNAVAILABLE`, whose error JSON
/// has `reason` ("locked", "corrupt", "io" or "replay"), `path` and the
/// message. See `ordu_store_recovery` and `ordu_store_snapshot_now`.
///
/// On `ORDU_OK` writes the new store to `*store_out`; free it with
/// `ordu_store_free` (which closes the data directory).
#[no_mangle]
pub unsafe extern "C" fn ordu_store_new(
    config_json: *const c_char,
    config_len: usize,
    store_out: *mut *mut ordu_store,
) -> ordu_result {
    const F: &str = "ordu_store_new";
    guard(F, || {
        out(F, "store_out", store_out)?;
        let config = if config_json.is_null() {
            host::store_config(b"")?
        } else {
            host::store_config(body(F, "config_json", config_json, config_len)?)?
        };
        let store = match config.data_dir {
            None => ordu_store::memory(Store::new(config.config)),
            Some(ref dir) => durable::open(dir, config.snapshot_every, config.config.clone())?,
        };
        *store_out = Box::into_raw(store);
        Ok(())
    })
}

/// Frees a store. NULL is allowed and does nothing. No other call on this
/// store may be running or made afterwards (a blocked read included): the
/// host joins its threads first.
#[no_mangle]
pub unsafe extern "C" fn ordu_store_free(store: *mut ordu_store) {
    if !store.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(store))));
    }
}

/// The index of the store's last write (0 before the first), written to
/// `*index_out`.
#[no_mangle]
pub unsafe extern "C" fn ordu_store_index(
    store: *const ordu_store,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_store_index";
    guard(F, || {
        let store = store_ref(F, store)?;
        out(F, "index_out", index_out)?;
        *index_out = store.index();
        Ok(())
    })
}
