//! The exceptions: `OrduError` and a subclass per error kind, each raised
//! with the error's data as attributes (one mapping, the core's).

use ordu::ErrorKind;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyType};

use crate::json::loads;

create_exception!(
    _ordu,
    OrduError,
    PyException,
    "Base of every error a Store raises. `str(err)` is the core's text (what Nomad's \
     HTTP API puts in its plain-text error bodies). Attributes: `kind` (str), `code` \
     (int), `message` (str), `data` (dict, the whole error), `http_status` and \
     `http_status_lookup` (the HTTP status elsewhere and on a single-object read), \
     plus the data of the kind."
);
create_exception!(
    _ordu,
    NotFoundError,
    OrduError,
    "The object does not exist. Attributes: `what` ('job', 'eval', 'alloc', 'node'), \
     `id`, `index` (the index the read answered with)."
);
create_exception!(
    _ordu,
    InvalidError,
    OrduError,
    "The request does not decode or breaks rules of the model. Attributes: `stage` \
     ('decode' or 'validate') and `errors`, a list of {'path', 'message'} dicts."
);
create_exception!(
    _ordu,
    ConflictError,
    OrduError,
    "A check-and-set (EnforceIndex) did not match. Attribute: `current_index`."
);
create_exception!(
    _ordu,
    RegionError,
    OrduError,
    "The request names a region this store does not hold. Attributes: `requested`, \
     `region`."
);
create_exception!(
    _ordu,
    LimitError,
    OrduError,
    "The request is over a configured bound. Attributes: `path`, `limit`."
);
create_exception!(
    _ordu,
    UnavailableError,
    OrduError,
    "The store's log refused the write (disk full, not the leader); nothing changed. \
     Or a data directory could not be opened (Store({\"data_dir\": ...})): then `reason` \
     ('locked', 'corrupt', 'io' or 'replay') and `path` name why and where."
);

/// Each kind's exception class, found at import under the name the core
/// gives it ([`ErrorKind::python_exception`]), in [`ErrorKind::ALL`] order.
static KIND_EXCEPTIONS: PyOnceLock<Vec<Py<PyType>>> = PyOnceLock::new();

/// Finds every kind's class in the module, so that a kind without one fails
/// the import rather than a later error.
pub(crate) fn bind_kind_exceptions(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let base = py.get_type::<OrduError>();
    let mut classes = Vec::with_capacity(ErrorKind::ALL.len());
    for kind in ErrorKind::ALL {
        let name = kind.python_exception();
        let class = m.getattr(name)?.cast_into::<PyType>()?;
        if !class.is_subclass(&base)? {
            return Err(PyTypeError::new_err(format!(
                "ordu._ordu.{name} is not an OrduError"
            )));
        }
        classes.push(class.unbind());
    }
    // A second import (a subinterpreter) finds the same classes.
    let _ = KIND_EXCEPTIONS.set(py, classes);
    Ok(())
}

/// The exception for a core error, with its data as attributes.
pub(crate) fn to_py_err(py: Python<'_>, e: ordu::Error) -> PyErr {
    let kind = e.kind();
    let class = KIND_EXCEPTIONS
        .get(py)
        .and_then(|c| c.get(ErrorKind::ALL.iter().position(|k| *k == kind)?))
        .map(|c| c.bind(py).clone())
        .unwrap_or_else(|| py.get_type::<OrduError>());
    let err = PyErr::from_type(class, e.to_string());
    if let Err(failed) = annotate(py, &err, &e) {
        return failed;
    }
    err
}

fn annotate(py: Python<'_>, err: &PyErr, e: &ordu::Error) -> PyResult<()> {
    let value = err.value(py);
    let data = loads(py, &e.to_json().to_string())?;
    let dict = data.cast::<PyDict>()?;
    for (k, v) in dict.iter() {
        value.setattr(k.cast::<PyString>()?, v)?;
    }
    value.setattr("data", dict)?;
    value.setattr("http_status", e.http_status(false))?;
    value.setattr("http_status_lookup", e.http_status(true))?;
    Ok(())
}
