//! The parameter parsers the HTTP front end shares with the core
//! (`ordu::params`), as Python functions.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Parses a list's ``per_page`` as Nomad's HTTP API takes it: a whole
/// number from 0 (every item) to 2^31-1. Raises ValueError with the text
/// of the HTTP front ends' 400 otherwise.
#[pyfunction]
pub(crate) fn parse_per_page(text: &str) -> PyResult<u32> {
    ordu::params::parse_per_page(text).map_err(PyValueError::new_err)
}

/// Parses a Go duration (``1s``, ``1.5s``, ``1m30s``, ``100us``, ``0``) into
/// seconds, as Nomad reads ``?wait=``; a negative duration is 0. Raises
/// ValueError for anything else (a bare number other than ``0`` included).
#[pyfunction]
pub(crate) fn parse_duration(text: &str) -> PyResult<f64> {
    ordu::params::parse_go_duration(text)
        .map(|d| d.as_secs_f64())
        .ok_or_else(|| PyValueError::new_err(format!("invalid duration {text:?}")))
}

/// Parses a blocking query's ``index``: decimal digits only, at most 2^64-1.
/// Raises ValueError otherwise.
#[pyfunction]
pub(crate) fn parse_index(text: &str) -> PyResult<u64> {
    ordu::params::parse_index(text)
        .ok_or_else(|| PyValueError::new_err(format!("invalid index {text:?}")))
}

/// Parses Go's boolean forms (``1``, ``t``, ``true``, ``True``, ``0``, ...).
/// Raises ValueError otherwise.
#[pyfunction]
pub(crate) fn parse_bool(text: &str) -> PyResult<bool> {
    ordu::params::parse_go_bool(text)
        .ok_or_else(|| PyValueError::new_err(format!("invalid boolean {text:?}")))
}
