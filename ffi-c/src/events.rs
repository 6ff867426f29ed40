//! The event stream ([`ordu_core::events`]): a subscription handle, its next
//! frame as JSON with a timeout, and its release.

use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::Mutex;

use ordu_core::events::EventSubscription;
use ordu_core::host;

use crate::args::{cstr, opt_cstr, out, store_ref};
use crate::error::{guard, ordu_result, Failure};
use crate::store::ordu_store;
use crate::string::ordu_string;

/// A place in a store's event stream, made by `ordu_event_subscribe` and
/// freed by `ordu_event_unsubscribe`. It may be used from any thread (one
/// call at a time is served, the others wait), and it may outlive its
/// store: it then only sees what was published before the store went.
pub struct ordu_event_subscription {
    sub: Mutex<EventSubscription>,
}

/// Subscribes to the store's event stream (Nomad's `/v1/event/stream`):
/// the writes from index `index` on (0: from the next write) whose events
/// pass `topics`, an array of `topics_len` filters `"Topic:Key"` (`"Job:web"`,
/// `"Allocation:*"`, `"*"`; NULL or empty: every event), of `namespace`
/// only (NULL or "*": every namespace; nodes have none and always pass).
///
/// On `ORDU_OK` writes a new subscription to `*sub_out`. A filter that does
/// not parse is `ORDU_INVALID_JSON` naming `topic`; an `index` older than
/// the store's event buffer holds is `ORDU_LIMIT`, the error JSON's `limit`
/// being the oldest index it holds (start there, and re-read the state:
/// events before it are lost).
#[no_mangle]
pub unsafe extern "C" fn ordu_event_subscribe(
    store: *const ordu_store,
    topics: *const *const c_char,
    topics_len: usize,
    namespace: *const c_char,
    index: u64,
    sub_out: *mut *mut ordu_event_subscription,
) -> ordu_result {
    const F: &str = "ordu_event_subscribe";
    guard(F, || {
        let store = store_ref(F, store)?;
        out(F, "sub_out", sub_out)?;
        let mut names = Vec::new();
        if topics_len > 0 {
            if topics.is_null() {
                return Err(Failure::null(F, "topics"));
            }
            let topics = std::slice::from_raw_parts(topics, topics_len);
            for (i, t) in topics.iter().enumerate() {
                names.push(cstr(F, &format!("topics[{i}]"), *t)?);
            }
        }
        let namespace = opt_cstr(F, "namespace", namespace)?;
        let sub = host::subscribe_events(store, &names, namespace, index)?;
        *sub_out = Box::into_raw(Box::new(ordu_event_subscription {
            sub: Mutex::new(sub),
        }));
        Ok(())
    })
}

/// The subscription's next frame, `{"Index": n, "Events": [{"Topic",
/// "Type", "Key", "Namespace", "FilterKeys", "Index", "Payload"}, ...]}`,
/// waiting up to `timeout_ms` milliseconds for it (0: not at all; capped at
/// 10 minutes). On `ORDU_OK` writes the frame to `*json_out`, or NULL when
/// none came in time. Frames come in index order, each write once. A
/// subscriber that fell behind the buffer (it holds the last
/// `event_buffer_size` writes) gets `ORDU_LIMIT`, the error JSON's `limit`
/// being the oldest index held.
#[no_mangle]
pub unsafe extern "C" fn ordu_event_next(
    sub: *const ordu_event_subscription,
    timeout_ms: u64,
    json_out: *mut *mut ordu_string,
) -> ordu_result {
    const F: &str = "ordu_event_next";
    guard(F, || {
        let sub = sub.as_ref().ok_or_else(|| Failure::null(F, "sub"))?;
        out(F, "json_out", json_out)?;
        let frame = host::next_event(
            &mut sub.sub.lock().unwrap_or_else(|e| e.into_inner()),
            timeout_ms,
        )?;
        *json_out = frame.map_or(ptr::null_mut(), |f| Box::into_raw(ordu_string::new(f)));
        Ok(())
    })
}

/// Frees a subscription. NULL is allowed and does nothing.
#[no_mangle]
pub unsafe extern "C" fn ordu_event_unsubscribe(sub: *mut ordu_event_subscription) {
    if !sub.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(sub))));
    }
}
