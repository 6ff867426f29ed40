//! `Store`: the embedded store, one Python method per core call. Here are
//! the class, its construction and what it says of itself; its other
//! methods sit in one `#[pymethods]` block per file, by what they do
//! (pyo3's `multiple-pymethods`); how each calls the core is in `calls`.

use std::borrow::Cow;
use std::sync::Arc;

use ordu::host;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::errors::to_py_err;
use crate::json::body_bytes;
use crate::{copies, durable, exit, seam};

mod calls;
mod evals_allocs;
mod events;
mod jobs;
mod namespaces;
mod nodes;
mod scheduling;
mod state;

/// An embedded ordu store: Nomad's jobs, evaluations, allocations and nodes,
/// with blocking reads.
///
/// `Store(config=None)`: `config` is a dict or a JSON str with any of
/// `region` (default "global"), `mode` ("inline", "grouped", "queued" or
/// "manual"),
/// `delivery_limit`, `nack_timeout` (a Go duration, default "60s": a
/// delivery neither acked nor nacked by then is delivered again), `seed`,
/// and `limits` (`max_group_count`, `max_job_count`, `max_request_bytes`,
/// `max_constraints`).
///
/// With `data_dir` (a path) the store is durable: its state is kept in that
/// directory (created if missing) and recovered from it when a store is
/// opened on it again, with the same state and index (see `recovery`). A
/// write returns only after its entry is on disk; writes from several
/// threads at once share one commit. `snapshot_every` (only with
/// `data_dir`; default 10000, 0: never) writes a snapshot every that many
/// entries and drops the entries before it; `snapshot_now()` writes one at
/// once. The directory is held (locked) until the store is garbage
/// collected; another store on it raises UnavailableError (`reason`
/// "locked"), as do a corrupt file ("corrupt") and an I/O error ("io").
/// `data_dir` cannot be given with `log`.
///
/// Request bodies are dicts in Nomad's field names, or str/bytes of JSON.
/// Writes return Nomad's reply dict (with "Index"). Reads return a tuple
/// `(value, index)`; with `index=N` they block until the index is past N or
/// `wait` seconds (None or 0: 5 minutes; at most 10) are over, with the GIL
/// released. Python's signal handlers run while a read in the main thread
/// waits (Ctrl-C raises KeyboardInterrupt within 0.1 s). A blocking loop:
///
///     index = 0
///     while True:
///         jobs, index = store.jobs(index=index, wait=60)
///
/// Jobs live in namespaces (Nomad's): every method that names a job, and
/// the job, evaluation and allocation lists, take `namespace` (None or "":
/// "default"; "*" on lists: every namespace). Two jobs with one ID in two
/// namespaces are two jobs. A register's job `Namespace` wins over
/// `namespace`; registering into a namespace that `upsert_namespace` did
/// not make is an InvalidError (path `Namespace`). "default" always exists.
///
/// Every method is safe to call from any thread. At interpreter exit
/// (`atexit`), reads still waiting in other threads end with their current
/// answer, and later reads do not wait, so daemon threads never hold exit up
/// or take the GIL back while the interpreter finalizes.
#[pyclass(frozen, module = "ordu._ordu", name = "Store")]
pub(crate) struct Store {
    // Declared before `durable`, so dropped first: the store's last write
    // is done before the directory's lock goes.
    inner: Arc<ordu::Store>,
    /// The Python values of recently read jobs (see `copies`).
    jobs: copies::Jobs,
    /// The data directory of a store opened with `data_dir`.
    durable: Option<durable::Kept>,
}

#[pymethods]
impl Store {
    #[new]
    #[pyo3(signature = (config=None, log=None))]
    fn new(
        py: Python<'_>,
        config: Option<&Bound<'_, PyAny>>,
        log: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let bytes = match config {
            None => Cow::Borrowed(&b""[..]),
            Some(c) => body_bytes(c)?,
        };
        let config = host::store_config(&bytes).map_err(|e| to_py_err(py, e))?;
        if let Some(dir) = config.data_dir {
            if log.is_some() {
                return Err(to_py_err(
                    py,
                    ordu::Error::invalid_field(
                        "data_dir",
                        "a store with a log callable keeps no data directory: give either log or data_dir",
                    ),
                ));
            }
            let (inner, kept) = durable::open(py, dir, config.snapshot_every, config.config)?;
            return Ok(Store {
                inner,
                jobs: copies::Jobs::default(),
                durable: Some(kept),
            });
        }
        let mut store = ordu::Store::new(config.config);
        if let Some(log) = log {
            if !log.bind(py).is_callable() {
                return Err(PyTypeError::new_err(
                    "log must be a callable log(after: int, entry: bytes) -> int",
                ));
            }
            store = store.with_log(seam::python_log(log));
        }
        Ok(Store {
            inner: Arc::new(store),
            jobs: copies::Jobs::default(),
            durable: None,
        })
    }

    /// Whether the store leads: takes writes and runs the broker and
    /// schedulers. A follower raises UnavailableError on writes and applies
    /// entries only. Set it as the host's log says.
    #[getter]
    fn get_leader(&self) -> bool {
        self.inner.is_leader()
    }

    #[setter]
    fn set_leader(&self, py: Python<'_>, lead: bool) {
        let store = &*self.inner;
        exit::detach(py, || store.set_leader(lead));
    }

    /// The store's region.
    #[getter]
    fn region(&self) -> String {
        self.inner.config().region.clone()
    }

    /// The index of the store's last write (0 before the first).
    #[getter]
    fn index(&self, py: Python<'_>) -> u64 {
        // The state's read lock: may wait for a write, so without the GIL.
        let store = &*self.inner;
        exit::detach(py, || store.index())
    }

    /// The largest request body the store decodes, in bytes.
    #[getter]
    fn max_request_bytes(&self) -> usize {
        self.inner.config().limits.max_request_bytes
    }

    /// Raises RegionError unless `region` is None, empty or the store's region.
    #[pyo3(name = "check_region", signature = (region))]
    fn py_check_region(&self, py: Python<'_>, region: Option<String>) -> PyResult<()> {
        self.check_region(py, region.as_deref())
    }

    /// Raises LimitError when a body of `nbytes` is over the store's bound
    /// (for a host that checks Content-Length before it reads a body).
    fn check_body_size(&self, py: Python<'_>, nbytes: u64) -> PyResult<()> {
        host::check_body_size(&self.inner, nbytes).map_err(|e| to_py_err(py, e))
    }

    /// What the agent and status endpoints answer (`what`: `self`,
    /// `members`, `leader`, `peers` or `regions`) for a server named `name`
    /// in `datacenter`, serving on `addr`:`port`.
    #[pyo3(signature = (what, *, name, datacenter, addr, port))]
    fn agent<'py>(
        &self,
        py: Python<'py>,
        what: &str,
        name: String,
        datacenter: String,
        addr: &str,
        port: u16,
    ) -> PyResult<Bound<'py, PyAny>> {
        let addr = addr
            .parse()
            .map_err(|e| PyValueError::new_err(format!("addr {addr:?}: {e}")))?;
        let agent = ordu::Agent {
            name,
            datacenter,
            addr,
            port,
        };
        self.write(py, |s| host::agent(s, &agent, what))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "<ordu.Store region={:?} index={}>",
            self.inner.config().region,
            self.index(py)
        )
    }
}
