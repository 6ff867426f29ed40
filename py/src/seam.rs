//! The log seam for Python hosts: a callable the store hands each entry to
//! before it applies (see `Store(log=...)`). The logic is the core's
//! (`ordu::log`); this only crosses into Python and back.

use ordu::{EntryLog, Log, LogError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// A log that calls `log(after, entry)` with the GIL taken: it answers the
/// index it committed the entry at; raising (or answering something that is
/// not an int) refuses the write, which then raises UnavailableError with
/// the exception's text.
pub(crate) fn python_log(log: Py<PyAny>) -> impl Log {
    EntryLog(move |after: u64, entry: &[u8]| {
        // Writes run without the GIL (and without the state's lock), so
        // taking it here waits for no one who waits for this write.
        Python::attach(|py| {
            let answer = log
                .bind(py)
                .call1((after, PyBytes::new(py, entry)))
                .and_then(|i| i.extract::<u64>());
            answer.map_err(|e| LogError(format!("the host's log refused the entry: {e}")))
        })
    })
}
