//! Scheduling modes in which the host drives the scheduler: queued mode
//! (the host processes queued evaluations in groups) and manual mode (the
//! host dequeues, processes, acks and nacks evaluations itself).

use std::ffi::{c_char, c_int};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use ordu_core::{host, Delivery};

use crate::args::{cstr, deliver, out, run, store_ref};
use crate::error::{guard, ordu_result, Failure};
use crate::store::ordu_store;
use crate::string::ordu_string;

/// An evaluation handed to the host in manual scheduling mode by
/// `ordu_eval_dequeue`: process it with `ordu_eval_process` (or give it back
/// with `ordu_eval_nack`, or drop it with `ordu_eval_ack`), then free it with
/// `ordu_delivery_free`.
pub struct ordu_delivery {
    pub(crate) delivery: Delivery,
}

// ---- queued scheduling mode ----

/// Queued mode (`{"mode": "queued"}`): processes on this thread, as one
/// group, the evaluations of every write answered so far. A write in this
/// mode returns once applied, its evaluations queued; the host calls this
/// from a thread of its own when `ordu_store_processing_behind` says there
/// is work (a read does it too before it answers, so it never sees a write
/// unprocessed). A group another thread is processing is waited for.
///
/// On `ORDU_OK` writes to `*index_out`, when it is not NULL, the index up
/// to which writes' evaluations are processed. A follower processes
/// nothing and returns at once.
#[no_mangle]
pub unsafe extern "C" fn ordu_store_process_queued(
    store: *const ordu_store,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_store_process_queued";
    guard(F, || {
        let upto = store_ref(F, store)?.process_queued();
        if !index_out.is_null() {
            *index_out = upto;
        }
        Ok(())
    })
}

/// Whether writes answered so far left evaluations that no group has
/// processed yet: 1 or 0 in `*behind_out`. Always 0 in inline and manual
/// modes, and on a follower (it processes nothing).
#[no_mangle]
pub unsafe extern "C" fn ordu_store_processing_behind(
    store: *const ordu_store,
    behind_out: *mut c_int,
) -> ordu_result {
    const F: &str = "ordu_store_processing_behind";
    guard(F, || {
        let store = store_ref(F, store)?;
        out(F, "behind_out", behind_out)?;
        *behind_out = c_int::from(store.processing_behind());
        Ok(())
    })
}

// ---- manual scheduling mode ----

/// Manual mode: takes the next ready evaluation whose scheduler type is one
/// of `types` (an array of `types_len` NUL-terminated strings such as
/// "service", "batch", "system"; NULL or empty: every type), waiting up to
/// `wait_ms` milliseconds for one (0: not at all; capped at 10 minutes).
///
/// On `ORDU_OK` writes to `*delivery_out` a new `ordu_delivery`, or NULL
/// when none arrived in time. In inline mode (the default) the store runs
/// evaluations itself and this finds none.
#[no_mangle]
pub unsafe extern "C" fn ordu_eval_dequeue(
    store: *const ordu_store,
    types: *const *const c_char,
    types_len: usize,
    wait_ms: u64,
    delivery_out: *mut *mut ordu_delivery,
) -> ordu_result {
    const F: &str = "ordu_eval_dequeue";
    guard(F, || {
        let store = store_ref(F, store)?;
        out(F, "delivery_out", delivery_out)?;
        let mut names = Vec::new();
        if types_len > 0 {
            if types.is_null() {
                return Err(Failure::null(F, "types"));
            }
            let types = std::slice::from_raw_parts(types, types_len);
            for (i, t) in types.iter().enumerate() {
                names.push(cstr(F, &format!("types[{i}]"), *t)?);
            }
        }
        *delivery_out = host::dequeue_evaluation(store, &names, wait_ms)
            .map_or(ptr::null_mut(), |delivery| {
                Box::into_raw(Box::new(ordu_delivery { delivery }))
            });
        Ok(())
    })
}

/// A delivery as JSON: `{"Eval": {...}, "Token": "...", "Attempt": n}`,
/// written to `*json_out`, and the evaluation's modify index to
/// `*index_out` when it is not NULL.
#[no_mangle]
pub unsafe extern "C" fn ordu_delivery_json(
    delivery: *const ordu_delivery,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_delivery_json";
    guard(F, || {
        let d = delivery
            .as_ref()
            .ok_or_else(|| Failure::null(F, "delivery"))?;
        out(F, "json_out", json_out)?;
        deliver(host::delivery(&d.delivery)?, json_out, index_out);
        Ok(())
    })
}

/// Manual mode: runs the scheduler for a dequeued evaluation, applies its
/// plan and acks it (nacks it when its plans keep conflicting). On
/// `ORDU_OK` writes `{"Index": n}` and the plan's index. A delivery that no
/// longer holds its evaluation (already processed, acked or nacked) is
/// `ORDU_CONFLICT`.
#[no_mangle]
pub unsafe extern "C" fn ordu_eval_process(
    store: *const ordu_store,
    delivery: *const ordu_delivery,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_eval_process";
    run(F, store, json_out, index_out, |s| {
        let d = delivery
            .as_ref()
            .ok_or_else(|| Failure::null(F, "delivery"))?;
        Ok(host::process_evaluation(s, &d.delivery)?)
    })
}

/// Manual mode: acks a dequeued evaluation without running it (the host
/// handled it). A delivery that no longer holds its evaluation is
/// `ORDU_CONFLICT`.
#[no_mangle]
pub unsafe extern "C" fn ordu_eval_ack(
    store: *const ordu_store,
    delivery: *const ordu_delivery,
) -> ordu_result {
    const F: &str = "ordu_eval_ack";
    guard(F, || {
        let s = store_ref(F, store)?;
        let d = delivery
            .as_ref()
            .ok_or_else(|| Failure::null(F, "delivery"))?;
        Ok(s.ack_evaluation(&d.delivery)?)
    })
}

/// Manual mode: gives a dequeued evaluation back; it is delivered again, or
/// written failed once it reached the delivery limit. A delivery that no
/// longer holds its evaluation is `ORDU_CONFLICT`.
#[no_mangle]
pub unsafe extern "C" fn ordu_eval_nack(
    store: *const ordu_store,
    delivery: *const ordu_delivery,
) -> ordu_result {
    const F: &str = "ordu_eval_nack";
    guard(F, || {
        let s = store_ref(F, store)?;
        let d = delivery
            .as_ref()
            .ok_or_else(|| Failure::null(F, "delivery"))?;
        Ok(s.nack_evaluation(&d.delivery)?)
    })
}

/// Frees a delivery. NULL is allowed and does nothing. Free it after
/// `ordu_eval_process`, `ordu_eval_ack` or `ordu_eval_nack`. A delivery freed
/// before is neither: its evaluation counts as nacked once the store's
/// `nack_timeout` has passed (at a later dequeue), and until then later
/// evaluations of its job wait behind it.
#[no_mangle]
pub unsafe extern "C" fn ordu_delivery_free(delivery: *mut ordu_delivery) {
    if !delivery.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(delivery))));
    }
}
