//! `Delivery`: an evaluation handed out in manual mode.

use ordu::host;
use pyo3::prelude::*;

use crate::errors::to_py_err;
use crate::json::loads;

/// An evaluation handed out by `Store.dequeue_evaluation` (manual mode):
/// process it with `Store.process_evaluation`. `eval` is the evaluation (a
/// dict), `token` fences the delivery, `attempt` counts deliveries.
#[pyclass(frozen, module = "ordu._ordu", name = "Delivery")]
pub(crate) struct Delivery {
    pub(crate) inner: ordu::Delivery,
}

#[pymethods]
impl Delivery {
    /// The evaluation, as a dict.
    #[getter]
    fn eval<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = host::delivery(&self.inner).map_err(|e| to_py_err(py, e))?;
        loads(py, &r.body)?.get_item("Eval")
    }

    /// The token that fences this delivery.
    #[getter]
    fn token(&self) -> String {
        self.inner.token.clone()
    }

    /// How many times the evaluation was handed out, this time included.
    #[getter]
    fn attempt(&self) -> u32 {
        self.inner.attempt
    }

    /// `{"Eval": {...}, "Token": "...", "Attempt": n}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = host::delivery(&self.inner).map_err(|e| to_py_err(py, e))?;
        loads(py, &r.body)
    }

    fn __repr__(&self) -> String {
        format!(
            "<ordu.Delivery eval={} job={:?} attempt={}>",
            self.inner.eval.id, self.inner.eval.job_id, self.inner.attempt
        )
    }
}
