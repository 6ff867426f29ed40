//! `EventStream`: the store's event stream, read with the GIL released.

use ordu::host;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::to_py_err;
use crate::exit;
use crate::json::loads;
use crate::wait::{between_slices, SLICE};

/// The store's event stream from a place in it (`Store.events`): each item
/// is a frame, `{"Index": n, "Events": [{"Topic", "Type", "Key",
/// "Namespace", "FilterKeys", "Index", "Payload"}, ...]}`, one per write, in
/// index order. Iterating blocks until the next write with the GIL released
/// (Ctrl-C raises KeyboardInterrupt within 0.1 s); `next(timeout=...)` waits
/// at most that long. A subscriber that fell behind the store's buffer
/// (`event_buffer_size` writes) gets LimitError naming the oldest index held.
/// At interpreter exit a waiting iteration ends (StopIteration).
#[pyclass(frozen, module = "ordu._ordu", name = "EventStream")]
pub(crate) struct EventStream {
    pub(crate) sub: std::sync::Mutex<ordu::events::EventSubscription>,
}

impl EventStream {
    /// The next frame's JSON, waiting up to `timeout_ms` (None: no end), in
    /// slices with signals checked between them.
    fn next_json(&self, py: Python<'_>, timeout_ms: Option<u64>) -> PyResult<Option<String>> {
        let answer = exit::detach(py, || {
            let mut sub = self.sub.lock().unwrap_or_else(|e| e.into_inner());
            if exit::closing() {
                return Ok(host::next_event(&mut sub, 0));
            }
            host::next_event_in_slices(&mut sub, timeout_ms, SLICE, between_slices)
        })?;
        answer.map_err(|e| to_py_err(py, e))
    }
}

#[pymethods]
impl EventStream {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        // None from __next__ is StopIteration: only at interpreter exit.
        match self.next_json(py, None)? {
            Some(frame) => Ok(Some(loads(py, &frame)?)),
            None => Ok(None),
        }
    }

    /// The next frame, waiting up to `timeout` seconds (None: until one
    /// comes; 0: not at all); None when none came in time.
    #[pyo3(signature = (timeout=None))]
    fn next<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let timeout_ms = match timeout {
            None => None,
            Some(t) if !t.is_finite() || t < 0.0 => {
                return Err(PyValueError::new_err(format!(
                    "timeout must be a finite number of seconds >= 0, not {t}"
                )))
            }
            Some(t) => Some((t * 1000.0).ceil() as u64),
        };
        match self.next_json(py, timeout_ms)? {
            Some(frame) => Ok(Some(loads(py, &frame)?)),
            None => Ok(None),
        }
    }

    /// The index of the last frame handed out or passed over: resume from
    /// the one after it.
    #[getter]
    fn index(&self, py: Python<'_>) -> u64 {
        // Another thread may hold the subscription while it waits, and take
        // the GIL between slices: wait for it without the GIL.
        exit::detach(py, || {
            self.sub.lock().unwrap_or_else(|e| e.into_inner()).index()
        })
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!("<ordu.EventStream index={}>", self.index(py))
    }
}
