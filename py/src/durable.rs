//! Durable stores for Python hosts: `Store({"data_dir": ...})` keeps the
//! store's log and snapshots in that directory (`ordu-durable`) and recovers
//! it from there when opened again. The work is `ordu_durable`'s; this holds
//! the open directory beside the store and crosses into Python and back.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::to_py_err;

/// An open data directory and what its recovery restored.
pub(crate) struct Kept {
    pub durable: ordu_durable::Durable,
    pub data_dir: String,
    pub snapshot_index: u64,
    pub replayed: u64,
    pub index: u64,
}

/// Opens `dir` and recovers a store with `config` from it, without the GIL
/// (recovery replays the log).
pub(crate) fn open(
    py: Python<'_>,
    dir: String,
    snapshot_every: Option<u64>,
    config: ordu::Config,
) -> PyResult<(Arc<ordu::Store>, Kept)> {
    let mut opts = ordu_durable::Options::default();
    if let Some(n) = snapshot_every {
        opts.snapshot_every = n;
    }
    let opened = crate::exit::detach(py, || {
        let durable = ordu_durable::Durable::open(&dir, opts)?;
        let r = durable.store(config)?;
        Ok::<_, ordu_durable::Error>((durable, r))
    });
    let (durable, r) = opened.map_err(|e| open_error(py, e))?;
    let kept = Kept {
        durable,
        data_dir: dir,
        snapshot_index: r.snapshot_index,
        replayed: r.replayed,
        index: r.index,
    };
    Ok((r.store, kept))
}

/// UnavailableError with the error's text, plus `reason` ("locked",
/// "corrupt", "io" or "replay") and `path` (the directory or file).
fn open_error(py: Python<'_>, e: ordu_durable::Error) -> PyErr {
    let (reason, path) = match &e {
        ordu_durable::Error::Locked { dir } => ("locked", dir),
        ordu_durable::Error::Corrupt { file, .. } => ("corrupt", file),
        ordu_durable::Error::Io { path, .. } => ("io", path),
        ordu_durable::Error::Replay { file, .. } => ("replay", file),
    };
    let path = path.to_string_lossy().into_owned();
    let err = to_py_err(
        py,
        ordu::Error::Unavailable {
            message: e.to_string(),
        },
    );
    let annotated = (|| -> PyResult<()> {
        let value = err.value(py);
        value.setattr("reason", reason)?;
        value.setattr("path", &path)?;
        let data = value.getattr("data")?;
        let data = data.cast::<PyDict>()?;
        data.set_item("reason", reason)?;
        data.set_item("path", &path)?;
        Ok(())
    })();
    match annotated {
        Ok(()) => err,
        Err(failed) => failed,
    }
}

impl Kept {
    /// `{"snapshot_index", "replayed", "index"}`.
    pub(crate) fn recovery<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("snapshot_index", self.snapshot_index)?;
        d.set_item("replayed", self.replayed)?;
        d.set_item("index", self.index)?;
        Ok(d)
    }
}
