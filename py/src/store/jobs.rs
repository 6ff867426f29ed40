//! `Store`'s job methods: registering, planning, reverting, scaling,
//! dispatching and deregistering jobs, and reading them, their versions,
//! summaries, allocations, evaluations and deployments.

use ordu::host;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::json::body_bytes;

use super::calls::{ListArgs, Scope};
use super::Store;

#[pymethods]
impl Store {
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
}
