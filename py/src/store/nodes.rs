//! `Store`'s node methods: registering nodes, their status, drain and
//! eligibility, carrying drains on, and reading nodes and their
//! allocations.

use std::borrow::Cow;

use ordu::host;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::json::body_bytes;

use super::calls::{ListArgs, Scope};
use super::Store;

#[pymethods]
impl Store {
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

    /// Carries drains on (a host's duty on a timer, every second say): what a
    /// drain moves that still runs past its deadline is stopped, and a drain
    /// whose node runs nothing it moves ends. Returns `{"Index": n}` (0:
    /// nothing to do).
    fn advance_drains<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.write(py, host::advance_drains)
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
}
