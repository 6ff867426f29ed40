//! `Store`'s scheduling modes: processing the queued and grouped modes'
//! evaluations, and the manual mode's dequeue and process.

use std::time::Duration;

use ordu::host;
use pyo3::prelude::*;

use crate::delivery::Delivery;
use crate::exit;
use crate::wait::{between_slices, wait_ms, SLICE};

use super::Store;

#[pymethods]
impl Store {
    /// Queued mode (`Store({"mode": "queued"})`): processes, as one group,
    /// the evaluations of every write answered so far, with the GIL
    /// released (a write in this mode returns once applied, its evaluations
    /// queued). A group another thread is processing is waited for. Returns
    /// the index up to which writes' evaluations are processed. A read
    /// does this itself first, so it never sees a write unprocessed; a host
    /// calls it from a thread of its own so that reads seldom have to. A
    /// follower processes nothing.
    fn process_queued(&self, py: Python<'_>) -> u64 {
        let store = &*self.inner;
        exit::detach(py, || store.process_queued())
    }

    /// Whether writes answered so far left evaluations that no group has
    /// processed yet (grouped and queued modes; always False in the others
    /// and on a follower).
    fn processing_behind(&self) -> bool {
        self.inner.processing_behind()
    }

    /// Manual mode (`Store({"mode": "manual"})`): the next ready evaluation
    /// whose type is in `types` (any type when empty), as a Delivery, waiting
    /// up to `wait` seconds for one (0: not at all; at most 10 minutes) with
    /// the GIL released and Ctrl-C honoured. None when none came in time.
    /// A delivery not processed within the store's `nack_timeout` is handed
    /// out again (its token then refused).
    #[pyo3(signature = (types=Vec::new(), *, wait=0.0))]
    fn dequeue_evaluation(
        &self,
        py: Python<'_>,
        types: Vec<String>,
        wait: f64,
    ) -> PyResult<Option<Delivery>> {
        let wait_ms = wait_ms(Some(wait))?;
        let types: Vec<&str> = types.iter().map(String::as_str).collect();
        let store = &*self.inner;
        let slice = SLICE.as_millis() as u64;
        let deadline = std::time::Instant::now() + Duration::from_millis(wait_ms);
        exit::detach(py, || loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            // Closing: one look, no wait (the GIL may be held).
            let closing = exit::closing();
            let this = if closing {
                0
            } else {
                (left.as_millis() as u64).min(slice)
            };
            if let Some(d) = host::dequeue_evaluation(store, &types, this) {
                return Ok(Some(Delivery { inner: d }));
            }
            if closing || std::time::Instant::now() >= deadline {
                return Ok(None);
            }
            if between_slices()?.is_break() {
                return Ok(None);
            }
        })
    }

    /// Manual mode: runs the scheduler for a dequeued evaluation, submits its
    /// plan and acks it (nacks it when its plans keep conflicting). Returns
    /// `{"Index": n}`. ConflictError when the delivery is no longer the
    /// evaluation's (already processed, or handed out again).
    fn process_evaluation<'py>(
        &self,
        py: Python<'py>,
        delivery: &Delivery,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.write(py, |s| host::process_evaluation(s, &delivery.inner))
    }
}
