//! `Store`: the embedded store, one Python method per core call (the one
//! `#[pymethods]` block; how each calls the core is in `calls`).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use ordu::host;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};

use crate::delivery::Delivery;
use crate::errors::to_py_err;
use crate::events::EventStream;
use crate::json::body_bytes;
use crate::wait::{between_slices, wait_ms, SLICE};
use crate::{copies, durable, exit, seam};

mod calls;

use calls::{ListArgs, Scope};

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

    // ---- jobs

    /// Registers (creates or updates) a job and creates its evaluation.
    ///
    /// `request` is Nomad's register body: `{"Job": {...}}`, optionally with
    /// `"EnforceIndex": True, "JobModifyIndex": n` (check-and-set). With
    /// `job_id`, the job's ID must be it (as `PUT /v1/job/<id>`). The job
    /// goes in its own `Namespace`, else in `namespace` (`?namespace=`),
    /// else in "default"; that namespace must exist. Returns
    /// `{"EvalID", "EvalCreateIndex", "JobModifyIndex", "Index", ...}`.
    /// Raises InvalidError, ConflictError, RegionError, LimitError.
    #[pyo3(signature = (request, *, job_id=None, region=None, namespace=None))]
    fn register_job<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
        job_id: Option<String>,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let body = body_bytes(request)?;
        let w = host::write_options(region.as_deref(), namespace.as_deref());
        self.write(py, |s| {
            host::register_job_at(s, job_id.as_deref(), &body, &w)
        })
    }

    /// A scheduler dry run of `PUT /v1/job/<job_id>/plan`: what registering
    /// the job would do, without writing anything. `request` is Nomad's plan
    /// body, `{"Job": {...}, "Diff": True}`; the job's ID must be `job_id`.
    /// Returns Nomad's plan answer: `{"Annotations": {"DesiredTGUpdates":
    /// {...}}, "FailedTGAllocs", "JobModifyIndex", "Diff", "Index", ...}`.
    /// Raises InvalidError (a job register would refuse, or another ID),
    /// RegionError, LimitError.
    #[pyo3(signature = (job_id, request, *, region=None, namespace=None))]
    fn plan_job<'py>(
        &self,
        py: Python<'py>,
        job_id: String,
        request: &Bound<'py, PyAny>,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let body = body_bytes(request)?;
        let w = host::write_options(region.as_deref(), namespace.as_deref());
        self.write(py, |s| host::plan_job(s, &job_id, &body, &w))
    }

    /// Creates a `job-register` evaluation for an existing job.
    /// Returns `{"EvalID", "EvalCreateIndex", "JobModifyIndex", "Index", ...}`;
    /// raises NotFoundError for a missing job.
    #[pyo3(signature = (job_id, *, region=None, namespace=None))]
    fn evaluate_job<'py>(
        &self,
        py: Python<'py>,
        job_id: String,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let w = host::write_options(region.as_deref(), namespace.as_deref());
        self.write(py, |s| host::evaluate_job(s, &job_id, &w))
    }

    /// Reverts a job to a version it keeps, from `{"JobID", "JobVersion",
    /// "EnforcePriorVersion"}` (`JobID` must be `job_id`): the old spec is
    /// registered as a new version, with an evaluation. Answers as a
    /// register; ConflictError for the current version or another prior
    /// version than enforced, NotFoundError for a missing job or version.
    #[pyo3(signature = (job_id, request, *, region=None, namespace=None))]
    fn revert_job<'py>(
        &self,
        py: Python<'py>,
        job_id: String,
        request: &Bound<'py, PyAny>,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.check_region(py, region.as_deref())?;
        let body = body_bytes(request)?;
        let w = host::write_options(region.as_deref(), namespace.as_deref());
        self.write(py, |s| host::revert_job(s, &job_id, &body, &w))
    }

    /// Marks a version of a job stable or not, from `{"JobID", "JobVersion",
    /// "Stable"}` (`JobID` must be `job_id`): `{"Index"}`. NotFoundError for
    /// a missing job or version.
    #[pyo3(signature = (job_id, request, *, region=None, namespace=None))]
    fn set_job_stability<'py>(
        &self,
        py: Python<'py>,
        job_id: String,
        request: &Bound<'py, PyAny>,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.check_region(py, region.as_deref())?;
        let body = body_bytes(request)?;
        let w = host::write_options(region.as_deref(), namespace.as_deref());
        self.write(py, |s| host::set_job_stability(s, &job_id, &body, &w))
    }

    /// Scales a task group from `{"Count", "Target": {"Group"}, "Message",
    /// "PolicyOverride", "JobModifyIndex"}`: a new version with a
    /// `job-scaling` evaluation; answers as a register (without a `Count`
    /// nothing is written). InvalidError for an unknown group or a bad count.
    #[pyo3(signature = (job_id, request, *, region=None, namespace=None))]
    fn scale_job<'py>(
        &self,
        py: Python<'py>,
        job_id: String,
        request: &Bound<'py, PyAny>,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.check_region(py, region.as_deref())?;
        let body = body_bytes(request)?;
        let w = host::write_options(region.as_deref(), namespace.as_deref());
        self.write(py, |s| host::scale_job(s, &job_id, &body, &w))
    }

    /// Nomad's periodic force launch: ordu has no periodic jobs, so this
    /// raises ConflictError (`can't force launch non-periodic job`), or
    /// NotFoundError for a missing job.
    #[pyo3(signature = (job_id, *, region=None, namespace=None))]
    fn force_periodic_job<'py>(
        &self,
        py: Python<'py>,
        job_id: String,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let w = host::write_options(region.as_deref(), namespace.as_deref());
        self.write(py, |s| host::force_periodic_job(s, &job_id, &w))
    }

    /// Nomad's dispatch: ordu has no parameterized jobs, so this raises
    /// ConflictError (`Specified job ... is not a parameterized job`), or
    /// NotFoundError for a missing job.
    #[pyo3(signature = (job_id, *, region=None, namespace=None))]
    fn dispatch_job<'py>(
        &self,
        py: Python<'py>,
        job_id: String,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let w = host::write_options(region.as_deref(), namespace.as_deref());
        self.write(py, |s| host::dispatch_job(s, &job_id, &w))
    }

    /// Deregisters a job, with the `job-deregister` evaluation that stops its
    /// allocations: removes it, or with a store configured
    /// `"deregister": "stop"` keeps it stopped unless `purge`. A missing job
    /// writes nothing: `EvalID` "" and `Index` 0.
    #[pyo3(signature = (job_id, *, purge=false, region=None, namespace=None))]
    fn deregister_job<'py>(
        &self,
        py: Python<'py>,
        job_id: String,
        purge: bool,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let w = host::write_options(region.as_deref(), namespace.as_deref());
        self.write(py, |s| host::deregister_job(s, &job_id, purge, &w))
    }

    /// The full job: `(job, index)`. Raises NotFoundError (its `index` is the
    /// read's) for a missing job; with `index=N` a missing job is waited for.
    /// The dict is the caller's own to change, at any depth.
    #[pyo3(signature = (job_id, *, index=0, wait=None, region=None, namespace=None))]
    fn job<'py>(
        &self,
        py: Python<'py>,
        job_id: String,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.read_as(
            py,
            index,
            wait,
            Scope::new(region, namespace),
            |s, q| s.job(&job_id, q),
            |py, job| self.jobs.to_py(py, job),
        )
    }

    /// Job list stubs sorted by ID, of the jobs whose ID starts with `prefix`:
    /// `(stubs, index)`.
    #[pyo3(signature = (*, prefix=String::new(), index=0, wait=None, region=None, namespace=None))]
    fn jobs<'py>(
        &self,
        py: Python<'py>,
        prefix: String,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.read(py, index, wait, Scope::new(region, namespace), |s, q| {
            s.jobs(&prefix, q)
        })
    }

    /// A page of the job list: `(stubs, index, next_token)`, in ID order;
    /// `per_page` (0: all), `next_token` (a previous page's, of the form
    /// `<Namespace>.<ID>`) and `reverse` as Nomad's `GET /v1/jobs` takes them.
    #[pyo3(signature = (*, prefix=String::new(), per_page=0, next_token=String::new(), reverse=false, index=0, wait=None, region=None, namespace=None))]
    #[allow(clippy::too_many_arguments)]
    fn jobs_page<'py>(
        &self,
        py: Python<'py>,
        prefix: String,
        per_page: i64,
        next_token: String,
        reverse: bool,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let list = ListArgs::new(prefix, per_page, next_token, reverse);
        self.read_page(
            py,
            list,
            index,
            wait,
            Scope::new(region, namespace),
            |s, l, q| s.jobs_page(l, q),
        )
    }

    /// A page of the node list: `(stubs, index, next_token)`, as
    /// [`Store::jobs_page`]; the token is a node ID.
    #[pyo3(signature = (*, prefix=String::new(), per_page=0, next_token=String::new(), reverse=false, index=0, wait=None, region=None))]
    #[allow(clippy::too_many_arguments)]
    fn nodes_page<'py>(
        &self,
        py: Python<'py>,
        prefix: String,
        per_page: i64,
        next_token: String,
        reverse: bool,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let list = ListArgs::new(prefix, per_page, next_token, reverse);
        self.read_page(py, list, index, wait, Scope::region(region), |s, l, q| {
            s.nodes_page(l, q)
        })
    }

    /// Every evaluation (full objects), a page at a time: `(evaluations,
    /// index, next_token)`. Filtered by ID `prefix`, `job` (JobID) and
    /// `status`; in Nomad's order (CreateIndex then ID, or ID with a
    /// prefix). The index is that of the last change to any evaluation.
    #[pyo3(signature = (*, prefix=String::new(), job=String::new(), status=String::new(), per_page=0, next_token=String::new(), reverse=false, index=0, wait=None, region=None, namespace=None))]
    #[allow(clippy::too_many_arguments)]
    fn evaluations<'py>(
        &self,
        py: Python<'py>,
        prefix: String,
        job: String,
        status: String,
        per_page: i64,
        next_token: String,
        reverse: bool,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let mut list = ListArgs::new(prefix, per_page, next_token, reverse);
        (list.job, list.status) = (job, status);
        self.read_page(
            py,
            list,
            index,
            wait,
            Scope::new(region, namespace),
            |s, l, q| s.evaluations(l, q),
        )
    }

    /// Every allocation's stub, a page at a time: `(stubs, index,
    /// next_token)`, as [`Store::evaluations`] (`status` is the
    /// ClientStatus).
    #[pyo3(signature = (*, prefix=String::new(), job=String::new(), status=String::new(), per_page=0, next_token=String::new(), reverse=false, index=0, wait=None, region=None, namespace=None))]
    #[allow(clippy::too_many_arguments)]
    fn allocations<'py>(
        &self,
        py: Python<'py>,
        prefix: String,
        job: String,
        status: String,
        per_page: i64,
        next_token: String,
        reverse: bool,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let mut list = ListArgs::new(prefix, per_page, next_token, reverse);
        (list.job, list.status) = (job, status);
        self.read_page(
            py,
            list,
            index,
            wait,
            Scope::new(region, namespace),
            |s, l, q| s.allocations(l, q),
        )
    }

    /// A job's allocation stubs: `(stubs, index)`. Those of the job's current
    /// incarnation, or of every incarnation with `all=True`.
    #[pyo3(signature = (job_id, *, all=false, index=0, wait=None, region=None, namespace=None))]
    #[allow(clippy::too_many_arguments)]
    fn job_allocations<'py>(
        &self,
        py: Python<'py>,
        job_id: String,
        all: bool,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.read(py, index, wait, Scope::new(region, namespace), |s, q| {
            s.job_allocations(&job_id, all, q)
        })
    }

    /// The versions a job keeps, newest first: `({"Versions": [...],
    /// "Diffs": None}, index)`; NotFoundError for a missing job.
    #[pyo3(signature = (job_id, *, index=0, wait=None, region=None, namespace=None))]
    fn job_versions<'py>(
        &self,
        py: Python<'py>,
        job_id: String,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.read(py, index, wait, Scope::new(region, namespace), |s, q| {
            s.job_versions(&job_id, q)
        })
    }

    /// A job's summary (Nomad's `JobSummary`): `(summary, index)`;
    /// NotFoundError for a missing job.
    #[pyo3(signature = (job_id, *, index=0, wait=None, region=None, namespace=None))]
    fn job_summary<'py>(
        &self,
        py: Python<'py>,
        job_id: String,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.read(py, index, wait, Scope::new(region, namespace), |s, q| {
            s.job_summary(&job_id, q)
        })
    }

    /// A job's scale status (Nomad's `JobScaleStatus`): `(status, index)`;
    /// NotFoundError for a missing job.
    #[pyo3(signature = (job_id, *, index=0, wait=None, region=None, namespace=None))]
    fn job_scale_status<'py>(
        &self,
        py: Python<'py>,
        job_id: String,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.read(py, index, wait, Scope::new(region, namespace), |s, q| {
            s.job_scale_status(&job_id, q)
        })
    }

    /// A job's deployments: `([], index)` (ordu has none).
    #[pyo3(signature = (job_id, *, index=0, wait=None, region=None, namespace=None))]
    fn job_deployments<'py>(
        &self,
        py: Python<'py>,
        job_id: String,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.read(py, index, wait, Scope::new(region, namespace), |s, q| {
            s.wait(ordu::reads::job_deployments(q.namespace(), &job_id), q)
        })
    }

    /// A job's latest deployment: `(None, index)` (ordu has none).
    #[pyo3(signature = (job_id, *, index=0, wait=None, region=None, namespace=None))]
    fn job_deployment<'py>(
        &self,
        py: Python<'py>,
        job_id: String,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.read(py, index, wait, Scope::new(region, namespace), |s, q| {
            s.wait(ordu::reads::job_deployment(q.namespace(), &job_id), q)
        })
    }

    /// A job's evaluations (full objects): `(evaluations, index)`.
    #[pyo3(signature = (job_id, *, index=0, wait=None, region=None, namespace=None))]
    fn job_evaluations<'py>(
        &self,
        py: Python<'py>,
        job_id: String,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.read(py, index, wait, Scope::new(region, namespace), |s, q| {
            s.job_evaluations(&job_id, q)
        })
    }

    /// An evaluation: `(evaluation, index)`; NotFoundError when missing.
    #[pyo3(signature = (eval_id, *, index=0, wait=None, region=None))]
    fn evaluation<'py>(
        &self,
        py: Python<'py>,
        eval_id: String,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.read(py, index, wait, Scope::region(region), |s, q| {
            s.evaluation(&eval_id, q)
        })
    }

    /// The allocation stubs of an evaluation: `(stubs, index)`; `[]` for an
    /// unknown evaluation, as Nomad answers.
    #[pyo3(signature = (eval_id, *, index=0, wait=None, region=None))]
    fn eval_allocations<'py>(
        &self,
        py: Python<'py>,
        eval_id: String,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.read(py, index, wait, Scope::region(region), |s, q| {
            s.eval_allocations(&eval_id, q)
        })
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

    /// An allocation: `(allocation, index)`; NotFoundError when missing.
    #[pyo3(signature = (alloc_id, *, index=0, wait=None, region=None))]
    fn allocation<'py>(
        &self,
        py: Python<'py>,
        alloc_id: String,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.read(py, index, wait, Scope::region(region), |s, q| {
            s.allocation(&alloc_id, q)
        })
    }

    // ---- namespaces

    /// Every namespace whose name starts with `prefix`, sorted by name:
    /// `(namespaces, index)`. `default` is always there; the others are
    /// made by `upsert_namespace`. The index is the namespace table's.
    #[pyo3(signature = (*, prefix=String::new(), index=0, wait=None, region=None))]
    fn namespaces<'py>(
        &self,
        py: Python<'py>,
        prefix: String,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.read(py, index, wait, Scope::region(region), |s, q| {
            s.namespaces(&prefix, q)
        })
    }

    /// A namespace (`{"Name", "Description", "Quota", "Meta", "CreateIndex",
    /// "ModifyIndex"}`): `(namespace, index)`; NotFoundError (`what`
    /// 'namespace') when there is none; with `index=N` a missing one is
    /// waited for.
    #[pyo3(signature = (name, *, index=0, wait=None, region=None))]
    fn namespace<'py>(
        &self,
        py: Python<'py>,
        name: String,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.read(py, index, wait, Scope::region(region), |s, q| {
            s.namespace(&name, q)
        })
    }

    /// Creates or updates a namespace, as `PUT /v1/namespace[/<name>]`:
    /// `namespace` is its body (`{"Name", "Description", "Meta", "Quota"}`,
    /// a dict or JSON text), or a str that is not JSON text (does not start
    /// with `{`): the name alone. With `name` (the path's), a body without a
    /// Name takes it and another Name is an InvalidError. Returns `{"Index":
    /// n}`; an update keeps CreateIndex. InvalidError (path `Name`) for a
    /// name other than 1 to 128 letters, digits and `-`.
    #[pyo3(signature = (namespace, *, name=None, region=None))]
    fn upsert_namespace<'py>(
        &self,
        py: Python<'py>,
        namespace: &Bound<'py, PyAny>,
        name: Option<String>,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let body = match namespace.cast::<PyString>() {
            Ok(text) if !text.to_cow()?.trim_start().starts_with('{') => {
                let name = text.to_cow()?;
                Cow::Owned(serde_json::json!({ "Name": name }).to_string().into_bytes())
            }
            _ => body_bytes(namespace)?,
        };
        let path = name.unwrap_or_default();
        self.write_index(py, |s| {
            host::upsert_namespace(s, &path, &body, region.as_deref())
        })
    }

    /// Deletes a namespace: `{"Index": n}`. NotFoundError when there is
    /// none; ConflictError for `default` and for a namespace that holds a
    /// job, stopped or not (purge its jobs first).
    #[pyo3(signature = (name, *, region=None))]
    fn delete_namespace<'py>(
        &self,
        py: Python<'py>,
        name: String,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.write_index(py, |s| host::delete_namespace(s, &name, region.as_deref()))
    }

    // ---- nodes

    /// Registers or updates a node: `{"Node": {...}}` or the bare node. With
    /// `node_id`, a node without an ID takes it and another ID is an
    /// InvalidError (as `PUT /v1/node/<id>`). Returns `{"NodeModifyIndex",
    /// "EvalIDs", "EvalCreateIndex", "Index", ...}`.
    #[pyo3(signature = (node, *, node_id=None, region=None))]
    fn register_node<'py>(
        &self,
        py: Python<'py>,
        node: &Bound<'py, PyAny>,
        node_id: Option<String>,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let body = body_bytes(node)?;
        self.write(py, |s| {
            host::register_node_at(s, node_id.as_deref(), &body, region.as_deref())
        })
    }

    /// Removes a node; the jobs of its allocations are evaluated so they move.
    /// NotFoundError for a missing node.
    #[pyo3(signature = (node_id, *, region=None))]
    fn deregister_node<'py>(
        &self,
        py: Python<'py>,
        node_id: String,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.check_region(py, region.as_deref())?;
        self.write(py, |s| host::deregister_node(s, &node_id))
    }

    /// Sets a node's status from `{"Status": "ready" | "down" | "initializing"}`.
    #[pyo3(signature = (node_id, update, *, region=None))]
    fn update_node_status<'py>(
        &self,
        py: Python<'py>,
        node_id: String,
        update: &Bound<'py, PyAny>,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.check_region(py, region.as_deref())?;
        let body = body_bytes(update)?;
        self.write(py, |s| host::update_node_status(s, &node_id, &body))
    }

    /// Sets a node's drain flag from `{"Drain": True | False}`, or from
    /// `enable` (the `?enable=` text of `PUT /v1/node/<id>/drain`, Go's
    /// boolean forms) with no body; given both, they must agree.
    #[pyo3(signature = (node_id, update=None, *, enable=None, region=None))]
    fn update_node_drain<'py>(
        &self,
        py: Python<'py>,
        node_id: String,
        update: Option<&Bound<'py, PyAny>>,
        enable: Option<String>,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.check_region(py, region.as_deref())?;
        let body = match update {
            Some(u) => body_bytes(u)?,
            None => Cow::Borrowed(&b""[..]),
        };
        self.write(py, |s| {
            host::update_node_drain_query(s, &node_id, enable.as_deref(), &body)
        })
    }

    /// Drains a node from Nomad 1.x's
    /// `{"DrainSpec": {"Deadline": ns, "IgnoreSystemJobs": bool} | None, "MarkEligible": bool}`
    /// (`DrainSpec` None ends the drain). Marks the node's allocations to
    /// migrate at once; answers `{"EvalIDs", "EvalCreateIndex", "NodeModifyIndex", "Index"}`.
    #[pyo3(signature = (node_id, update, *, region=None))]
    fn drain_node<'py>(
        &self,
        py: Python<'py>,
        node_id: String,
        update: &Bound<'py, PyAny>,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.check_region(py, region.as_deref())?;
        let body = body_bytes(update)?;
        self.write(py, |s| host::drain_node(s, &node_id, &body))
    }

    /// Sets a node's scheduling eligibility from
    /// `{"Eligibility": "eligible" | "ineligible"}`.
    #[pyo3(signature = (node_id, update, *, region=None))]
    fn update_node_eligibility<'py>(
        &self,
        py: Python<'py>,
        node_id: String,
        update: &Bound<'py, PyAny>,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.check_region(py, region.as_deref())?;
        let body = body_bytes(update)?;
        self.write(py, |s| host::update_node_eligibility(s, &node_id, &body))
    }

    /// Creates a `node-update` evaluation for each job on the node and each
    /// system job: `{"EvalIDs", "EvalCreateIndex", "NodeModifyIndex", "Index"}`.
    #[pyo3(signature = (node_id, *, region=None))]
    fn evaluate_node<'py>(
        &self,
        py: Python<'py>,
        node_id: String,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.check_region(py, region.as_deref())?;
        self.write(py, |s| host::evaluate_node(s, &node_id))
    }

    /// Stops an allocation (it is moved): `{"EvalID", "Index"}`;
    /// NotFoundError (`Unknown allocation "<id>"`) when there is none.
    #[pyo3(signature = (alloc_id, *, region=None))]
    fn stop_allocation<'py>(
        &self,
        py: Python<'py>,
        alloc_id: String,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.write(py, |s| {
            host::stop_allocation(s, &alloc_id, region.as_deref())
        })
    }

    /// A node: `(node, index)`; NotFoundError when missing.
    #[pyo3(signature = (node_id, *, index=0, wait=None, region=None))]
    fn node<'py>(
        &self,
        py: Python<'py>,
        node_id: String,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.read(py, index, wait, Scope::region(region), |s, q| {
            s.node(&node_id, q)
        })
    }

    /// Node stubs sorted by ID, of the nodes whose ID starts with `prefix`:
    /// `(stubs, index)`.
    #[pyo3(signature = (*, prefix=String::new(), index=0, wait=None, region=None))]
    fn nodes<'py>(
        &self,
        py: Python<'py>,
        prefix: String,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.read(py, index, wait, Scope::region(region), |s, q| {
            s.nodes(&prefix, q)
        })
    }

    /// A node's allocations (full objects): `(allocations, index)`.
    #[pyo3(signature = (node_id, *, index=0, wait=None, region=None))]
    fn node_allocations<'py>(
        &self,
        py: Python<'py>,
        node_id: String,
        index: u64,
        wait: Option<f64>,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.read(py, index, wait, Scope::region(region), |s, q| {
            s.node_allocations(&node_id, q)
        })
    }

    // ---- allocations, collection

    /// Records a client's report on an allocation: `{"ClientStatus":
    /// "running", "ClientDescription": "...", "TaskStates": {...}}`. `alloc_id`
    /// names the allocation (None: the update's "ID"). Returns `{"Index": n}`.
    #[pyo3(signature = (alloc_id, update, *, region=None))]
    fn update_alloc_client<'py>(
        &self,
        py: Python<'py>,
        alloc_id: Option<String>,
        update: &Bound<'py, PyAny>,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.check_region(py, region.as_deref())?;
        let body = body_bytes(update)?;
        self.write(py, |s| {
            host::update_alloc_client(s, alloc_id.as_deref(), &body)
        })
    }

    /// Collects terminal evaluations and allocations last changed before
    /// `older_than` (unix nanoseconds). Returns `{"Index": n}` (0: nothing).
    fn garbage_collect<'py>(
        &self,
        py: Python<'py>,
        older_than: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.write(py, |s| host::garbage_collect(s, older_than))
    }

    /// Carries drains on (a host's duty on a timer, every second say): what a
    /// drain moves that still runs past its deadline is stopped, and a drain
    /// whose node runs nothing it moves ends. Returns `{"Index": n}` (0:
    /// nothing to do).
    fn advance_drains<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.write(py, host::advance_drains)
    }

    // ---- grouped and queued scheduling modes

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

    // ---- the event stream

    /// Subscribes to the event stream: an EventStream (an iterator of
    /// frames) of the writes from index `index` on (0: from the next
    /// write), with `topics` filters "Topic:Key" ("Job:web",
    /// "Allocation:*", "*"; None or empty: every event) and of `namespace`
    /// only (None or "*": every namespace). A filter that does not parse is
    /// InvalidError; an index older than the store's buffer holds is
    /// LimitError whose `limit` is the oldest index it holds.
    #[pyo3(signature = (topics=None, index=0, namespace=None))]
    fn events(
        &self,
        py: Python<'_>,
        topics: Option<Vec<String>>,
        index: u64,
        namespace: Option<String>,
    ) -> PyResult<EventStream> {
        let topics = topics.unwrap_or_default();
        host::subscribe_events(&self.inner, &topics, namespace.as_deref(), index)
            .map(|sub| EventStream {
                sub: std::sync::Mutex::new(sub),
            })
            .map_err(|e| to_py_err(py, e))
    }

    // ---- manual scheduling mode

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

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "<ordu.Store region={:?} index={}>",
            self.inner.config().region,
            self.index(py)
        )
    }
}
