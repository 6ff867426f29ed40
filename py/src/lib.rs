//! `ordu._ordu`: the compiled part of the `ordu` Python package.
//!
//! A thin layer over [`ordu::host`]: every write hands bytes to the core and
//! turns its JSON reply into Python objects with the standard library's
//! `json` module; reads call the same `Store` reads that `ordu::host` wraps and
//! render their values straight into Python objects (`topy`: the objects
//! `json.loads` would build, at a fraction of the cost; a job read again
//! unchanged is copied from the value made before, `copies`). The only work
//! done here is Python's own: releasing the GIL around every call, waiting on
//! blocking reads in slices so that signals are handled (Ctrl-C works), and
//! raising one exception class per error kind with the error's data as
//! attributes.

use pyo3::prelude::*;

use errors::{
    bind_kind_exceptions, ConflictError, InvalidError, LimitError, NotFoundError, OrduError,
    RegionError, UnavailableError,
};

mod copies;
mod delivery;
mod durable;
mod errors;
mod events;
mod exit;
mod json;
mod params;
mod seam;
mod store;
mod topy;
mod wait;

#[pymodule]
fn _ordu(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<store::Store>()?;
    m.add_class::<delivery::Delivery>()?;
    m.add_class::<events::EventStream>()?;
    m.add_function(wrap_pyfunction!(params::parse_duration, m)?)?;
    m.add_function(wrap_pyfunction!(params::parse_index, m)?)?;
    m.add_function(wrap_pyfunction!(params::parse_bool, m)?)?;
    m.add_function(wrap_pyfunction!(params::parse_per_page, m)?)?;
    // The HTTP front end must never read these as part of a job ID.
    m.add(
        "ROUTED_JOB_SUFFIXES",
        ordu::structs::ROUTED_JOB_SUFFIXES.to_vec(),
    )?;
    m.add("OrduError", py.get_type::<OrduError>())?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add("InvalidError", py.get_type::<InvalidError>())?;
    m.add("ConflictError", py.get_type::<ConflictError>())?;
    m.add("RegionError", py.get_type::<RegionError>())?;
    m.add("LimitError", py.get_type::<LimitError>())?;
    m.add("UnavailableError", py.get_type::<UnavailableError>())?;
    bind_kind_exceptions(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    exit::register(m)?;
    Ok(())
}
