//! The log seam for C hosts: a store whose writes go to the host's log
//! first, entries applied at an index, snapshots as bytes, leadership.
//! Everything here forwards to the core (`ordu_core::log`, `Store`).

use std::ffi::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

use ordu_core::{host, Error, Store};
use ordu_core::{EntryLog, LogError};

use crate::args::{body, out, store_ref};
use crate::error::{guard, ordu_result, Failure};
use crate::store::ordu_store;
use crate::string::ordu_string;

/// A host's log: called with each entry (JSON bytes, not NUL-terminated)
/// before the write it carries applies, and with `after`, the index the entry
/// must follow. It keeps the entry as safely as the host promises (written
/// and synced, agreed by a quorum), writes the index it committed at (above
/// `after`) to `*index_out` and returns 0; any other return refuses the
/// write, which then fails with `ORDU_UNAVAILABLE` and changes nothing. It
/// is called from the thread making the write, one call at a time per
/// store; it must not call into the same store, and must not unwind or
/// `longjmp` out.
pub type ordu_log_append_fn = Option<
    unsafe extern "C" fn(
        ctx: *mut c_void,
        after: u64,
        entry: *const c_char,
        entry_len: usize,
        index_out: *mut u64,
    ) -> c_int,
>;

/// The host's context pointer; the host promises it may be used from any
/// thread (the header says so).
struct Ctx(*mut c_void);
unsafe impl Send for Ctx {}
unsafe impl Sync for Ctx {}

/// Creates a store as `ordu_store_new` does, whose every write first goes
/// to `append` (see `ordu_log_append_fn`) with `ctx`. `append` may not be
/// NULL. The host's log is the store's log, so a config with `data_dir` is
/// `ORDU_INVALID`. The store leads (takes writes and schedules) until
/// `ordu_store_set_leader` says otherwise.
#[no_mangle]
pub unsafe extern "C" fn ordu_store_new_with_log(
    config_json: *const c_char,
    config_len: usize,
    append: ordu_log_append_fn,
    ctx: *mut c_void,
    store_out: *mut *mut ordu_store,
) -> ordu_result {
    const F: &str = "ordu_store_new_with_log";
    guard(F, || {
        out(F, "store_out", store_out)?;
        let Some(append) = append else {
            return Err(Failure::null(F, "append"));
        };
        let config = if config_json.is_null() {
            host::store_config(b"")?
        } else {
            host::store_config(body(F, "config_json", config_json, config_len)?)?
        };
        if config.data_dir.is_some() {
            return Err(Failure::Core(Error::invalid_field(
                "data_dir",
                "a store with a host's log keeps no data directory: \
                 give data_dir to ordu_store_new instead",
            )));
        }
        let config = config.config;
        let ctx = Ctx(ctx);
        let log = EntryLog(move |after: u64, entry: &[u8]| {
            let ctx = &ctx;
            let mut index = 0u64;
            // The callback is C: it cannot unwind, but stay behind a boundary.
            let rc = catch_unwind(AssertUnwindSafe(|| {
                append(ctx.0, after, entry.as_ptr().cast(), entry.len(), &mut index)
            }))
            .unwrap_or(-1);
            if rc == 0 {
                Ok(index)
            } else {
                Err(LogError(format!(
                    "the host's log refused the entry (it returned {rc})"
                )))
            }
        });
        let store = ordu_store::memory(Store::new(config).with_log(log));
        *store_out = Box::into_raw(store);
        Ok(())
    })
}

/// Applies an entry that a log committed at `index` (bytes an
/// `ordu_log_append_fn` was given, read back at start or shipped from the
/// leader), without handing it to this store's log. `index` must be above
/// every index the store applied or logged (else `ORDU_CONFLICT`); an
/// entry that does not decode is `ORDU_INVALID_JSON`. An entry the state
/// refuses (a check-and-set that no longer matches) takes its index and
/// changes nothing else, the same on every replica: that is reported as
/// its error. When `index_out` is not NULL, the store's index afterwards
/// is written there.
#[no_mangle]
pub unsafe extern "C" fn ordu_store_apply_entry(
    store: *const ordu_store,
    index: u64,
    entry: *const c_char,
    entry_len: usize,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_store_apply_entry";
    guard(F, || {
        let store = store_ref(F, store)?;
        let bytes = body(F, "entry", entry, entry_len)?;
        let applied = store.apply_entry(index, bytes);
        if !index_out.is_null() {
            *index_out = store.index();
        }
        applied?;
        Ok(())
    })
}

/// The store's whole state as snapshot bytes (JSON with a format version)
/// in `*snapshot_out` (free it with `ordu_string_free`), and its index in
/// `*index_out` when that is not NULL. A host that keeps a log can write
/// this and drop the entries up to the index.
#[no_mangle]
pub unsafe extern "C" fn ordu_store_snapshot(
    store: *const ordu_store,
    snapshot_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_store_snapshot";
    guard(F, || {
        let store = store_ref(F, store)?;
        out(F, "snapshot_out", snapshot_out)?;
        let (bytes, index) = store.with_state(|s| (s.snapshot(), s.index()));
        // The snapshot is JSON, so UTF-8.
        let text = String::from_utf8(bytes).map_err(|_| {
            Failure::Binding(
                ordu_result::ORDU_PANIC,
                format!("{F}: snapshot is not UTF-8"),
            )
        })?;
        *snapshot_out = Box::into_raw(ordu_string::new(text));
        if !index_out.is_null() {
            *index_out = index;
        }
        Ok(())
    })
}

/// Replaces the store's state with one from `ordu_store_snapshot` bytes;
/// waiters wake, and a leader queues the state's pending evaluations again.
/// Bytes that do not decode, or of another format version, are
/// `ORDU_INVALID_JSON` and change nothing.
#[no_mangle]
pub unsafe extern "C" fn ordu_store_restore(
    store: *const ordu_store,
    snapshot: *const c_char,
    snapshot_len: usize,
) -> ordu_result {
    const F: &str = "ordu_store_restore";
    guard(F, || {
        let store = store_ref(F, store)?;
        let bytes = body(F, "snapshot", snapshot, snapshot_len)?;
        store.restore_snapshot(bytes)?;
        Ok(())
    })
}

/// Makes the store lead (`lead` non-zero: it takes writes and runs the
/// broker and schedulers, rebuilt from the state) or follow (writes are
/// `ORDU_UNAVAILABLE`; it applies entries and serves reads), as the host's
/// log says.
#[no_mangle]
pub unsafe extern "C" fn ordu_store_set_leader(
    store: *const ordu_store,
    lead: c_int,
) -> ordu_result {
    const F: &str = "ordu_store_set_leader";
    guard(F, || {
        store_ref(F, store)?.set_leader(lead != 0);
        Ok(())
    })
}

/// Whether the store leads: 1 or 0 in `*lead_out`.
#[no_mangle]
pub unsafe extern "C" fn ordu_store_is_leader(
    store: *const ordu_store,
    lead_out: *mut c_int,
) -> ordu_result {
    const F: &str = "ordu_store_is_leader";
    guard(F, || {
        let store = store_ref(F, store)?;
        out(F, "lead_out", lead_out)?;
        *lead_out = c_int::from(store.is_leader());
        Ok(())
    })
}
