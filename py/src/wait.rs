//! Blocking with the GIL released: the slices a wait is cut into, and what
//! runs between two of them.

use std::ops::ControlFlow;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::exit;

/// How long a blocking read waits in the core before it takes the GIL back to
/// check for signals. A change wakes the read at once whatever the slice.
pub(crate) const SLICE: Duration = Duration::from_millis(100);

/// Runs between two slices of a blocking read, without the GIL: takes it back
/// to run Python's signal handlers (a handler's exception, such as
/// KeyboardInterrupt, ends the read). Once the interpreter is closing (see
/// `exit`) the wait ends instead, with the last answer, and the GIL is not
/// touched.
pub(crate) fn between_slices() -> PyResult<ControlFlow<()>> {
    // SAFETY: Py_IsInitialized may be called at any time, without the GIL.
    if exit::closing() || unsafe { pyo3::ffi::Py_IsInitialized() } == 0 {
        return Ok(ControlFlow::Break(()));
    }
    Python::attach(|py| py.check_signals())?;
    Ok(ControlFlow::Continue(()))
}

/// Seconds (None or 0: the default wait) to the core's milliseconds.
pub(crate) fn wait_ms(wait: Option<f64>) -> PyResult<u64> {
    match wait {
        None => Ok(0),
        Some(w) if !w.is_finite() || w < 0.0 => Err(PyValueError::new_err(format!(
            "wait must be a finite number of seconds >= 0, not {w}"
        ))),
        Some(0.0) => Ok(0),
        // At least 1 ms, so a tiny wait is not taken for "the default".
        Some(w) => Ok(((w * 1000.0).ceil() as u64).max(1)),
    }
}
