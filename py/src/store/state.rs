//! `Store`'s state as a whole: the data directory it is kept in, entries
//! applied from a host's log, snapshots and restores.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::errors::to_py_err;
use crate::exit;

use super::Store;

#[pymethods]
impl Store {
    /// The data directory the store is kept in (None: in memory).
    #[getter]
    fn data_dir(&self) -> Option<String> {
        self.durable.as_ref().map(|k| k.data_dir.clone())
    }

    /// What opening a durable store restored: `{"snapshot_index": the
    /// snapshot's index (0: none), "replayed": the log entries applied after
    /// it, "index": the store's index once recovered}`. None without
    /// `data_dir`.
    #[getter]
    fn recovery<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.durable.as_ref().map(|k| k.recovery(py)).transpose()
    }

    /// Writes a snapshot to the data directory now and drops the log entries
    /// it covers, so the next open replays less; returns its index (the
    /// previous snapshot's when nothing was written since). Raises
    /// UnavailableError without `data_dir`, or when the write fails.
    fn snapshot_now(&self, py: Python<'_>) -> PyResult<u64> {
        let Some(kept) = &self.durable else {
            return Err(to_py_err(
                py,
                ordu::Error::Unavailable {
                    message: "snapshot_now: the store has no data_dir, so nothing to snapshot to"
                        .into(),
                },
            ));
        };
        let durable = &kept.durable;
        exit::detach(py, || durable.snapshot_now())
            .map_err(|e| to_py_err(py, ordu::Error::Unavailable { message: e.0 }))
    }

    /// Applies an entry that a log committed at `index` (bytes the store's
    /// `log` callable was given, read back or shipped from the leader),
    /// without calling this store's log. Returns the store's index.
    /// Raises ConflictError when `index` is not above the last one applied,
    /// InvalidError when the entry does not decode (or the state refuses
    /// it; it then took its index all the same).
    fn apply_entry(&self, py: Python<'_>, index: u64, entry: &[u8]) -> PyResult<u64> {
        let store = &*self.inner;
        let entry = entry.to_vec();
        let applied = exit::detach(py, || store.apply_entry(index, &entry));
        applied.map_err(|e| to_py_err(py, e))
    }

    /// The whole state as snapshot bytes (JSON with a format version); the
    /// store's index is `index` at the same moment only without writers.
    fn snapshot<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let store = &*self.inner;
        let bytes = exit::detach(py, || store.snapshot());
        PyBytes::new(py, &bytes)
    }

    /// Replaces the state with one from `snapshot()` bytes; raises
    /// InvalidError (changing nothing) for bytes of another format.
    fn restore(&self, py: Python<'_>, snapshot: &[u8]) -> PyResult<()> {
        let store = &*self.inner;
        let bytes = snapshot.to_vec();
        let restored = exit::detach(py, || store.restore_snapshot(&bytes));
        restored.map_err(|e| to_py_err(py, e))
    }
}
