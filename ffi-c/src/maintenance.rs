//! Maintenance a host runs on a timer: garbage collection and carrying
//! drains on.

use ordu_core::host;

use crate::args::run;
use crate::error::ordu_result;
use crate::store::ordu_store;
use crate::string::ordu_string;

/// Collects terminal evaluations last changed before `older_than_ns` (unix
/// time in nanoseconds) whose allocations are all terminal, with those
/// allocations, and terminal allocations of jobs that no longer exist. On `ORDU_OK` writes `{"Index": n}` and `n`, the write's
/// index (0 when there was nothing to collect).
#[no_mangle]
pub unsafe extern "C" fn ordu_garbage_collect(
    store: *const ordu_store,
    older_than_ns: i64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_garbage_collect";
    run(F, store, json_out, index_out, |s| {
        Ok(host::garbage_collect(s, older_than_ns)?)
    })
}

/// Carries drains on, as Nomad's drainer does; a host calls it on a timer
/// (every second, say). What a drain moves that still runs once its
/// deadline has passed is stopped (its replacements placed elsewhere or
/// blocked), and a drain whose node no longer runs anything it moves ends
/// (the node stays ineligible). On `ORDU_OK` writes `{"Index": n}` and `n`,
/// the last write's index (0 when there was nothing to do).
#[no_mangle]
pub unsafe extern "C" fn ordu_advance_drains(
    store: *const ordu_store,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_advance_drains";
    run(F, store, json_out, index_out, |s| {
        Ok(host::advance_drains(s)?)
    })
}
