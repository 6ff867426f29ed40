//! Bodies through the standard library's `json` module: a reply the core
//! wrote into Python objects, a request body (text or an object) into bytes.

use std::borrow::Cow;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyString};

static JSON_LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static JSON_DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn json_fn<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let f = cell.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import("json")?.getattr(name)?.unbind())
    })?;
    Ok(f.bind(py).clone())
}

/// `json.loads` of a body the core wrote.
pub(crate) fn loads<'py>(py: Python<'py>, body: &str) -> PyResult<Bound<'py, PyAny>> {
    json_fn(py, &JSON_LOADS, "loads")?.call1((PyString::new(py, body),))
}

/// A request body: a `str` or `bytes` of JSON, or any other object that
/// `json.dumps` takes (a dict, a list).
pub(crate) fn body_bytes<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Cow<'py, [u8]>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Cow::Owned(b.as_bytes().to_vec()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Cow::Owned(s.to_cow()?.into_owned().into_bytes()));
    }
    if obj.is_none() {
        return Err(PyTypeError::new_err(
            "a request body must be a dict, or a str or bytes of JSON, not None",
        ));
    }
    let dumped = json_fn(obj.py(), &JSON_DUMPS, "dumps")?.call1((obj,))?;
    let s = dumped.cast::<PyString>()?;
    Ok(Cow::Owned(s.to_cow()?.into_owned().into_bytes()))
}
