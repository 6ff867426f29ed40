//! `Store`'s evaluation and allocation methods: reading them, stopping an
//! allocation, recording a client's report on one, and collecting the
//! terminal ones.

use ordu::host;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::json::body_bytes;

use super::calls::{ListArgs, Scope};
use super::Store;

#[pymethods]
impl Store {
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
}
