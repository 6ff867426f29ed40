//! How the Store's methods call the core: writes and reads with the GIL
//! released, blocking reads in slices, pages of lists.

use ordu::host::{self, Reply};
use ordu::{Page, Query, QueryOptions};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use serde::Serialize;

use super::Store;
use crate::errors::to_py_err;
use crate::exit;
use crate::json::loads;
use crate::topy;
use crate::wait::{between_slices, wait_ms, SLICE};

impl Store {
    /// A write: the core call with the GIL released, its reply as a dict.
    pub(super) fn write<'py>(
        &self,
        py: Python<'py>,
        f: impl FnOnce(&ordu::Store) -> ordu::Result<Reply> + Send,
    ) -> PyResult<Bound<'py, PyAny>> {
        let store = &*self.inner;
        match exit::detach(py, || f(store)) {
            Ok(r) => loads(py, &r.body),
            Err(e) => Err(to_py_err(py, e)),
        }
    }

    /// A write whose reply has no body (Nomad answers nothing, the core
    /// `null`): `{"Index": n}`, as the other writes carry their index.
    pub(super) fn write_index<'py>(
        &self,
        py: Python<'py>,
        f: impl FnOnce(&ordu::Store) -> ordu::Result<Reply> + Send,
    ) -> PyResult<Bound<'py, PyAny>> {
        let store = &*self.inner;
        match exit::detach(py, || f(store)) {
            Ok(r) => {
                let reply = PyDict::new(py);
                reply.set_item("Index", r.index)?;
                Ok(reply.into_any())
            }
            Err(e) => Err(to_py_err(py, e)),
        }
    }

    /// A read, blocking in slices when `index` > 0; answers `(value, index)`.
    /// The value goes straight into Python objects (no JSON text).
    pub(super) fn read<'py, T: Serialize + Send>(
        &self,
        py: Python<'py>,
        index: u64,
        wait: Option<f64>,
        scope: Scope,
        f: impl Fn(&ordu::Store, &QueryOptions) -> ordu::Result<Query<T>> + Send + Sync,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.read_as(py, index, wait, scope, f, |py, v| topy::to_py(py, v))
    }

    /// [`Store::read`] with the value made into Python objects by `to_py`.
    pub(super) fn read_as<'py, T: Send>(
        &self,
        py: Python<'py>,
        index: u64,
        wait: Option<f64>,
        scope: Scope,
        f: impl Fn(&ordu::Store, &QueryOptions) -> ordu::Result<Query<T>> + Send + Sync,
        to_py: impl FnOnce(Python<'py>, &T) -> PyResult<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let wait_ms = wait_ms(wait)?;
        let store = &*self.inner;
        let (region, namespace) = (scope.region.as_deref(), scope.namespace.as_deref());
        let answer = if index == 0 || exit::closing() {
            // Answers without waiting for a change, but the state's read lock
            // may be taken by a write for as long as the write applies: wait
            // for it without the GIL, so other Python threads run meanwhile
            // (a release and re-take of an uncontended GIL costs far less
            // than the read).
            exit::detach(py, || f(store, &host::query(0, 0, region, namespace)))
        } else {
            exit::detach(py, || {
                host::read_in_slices(
                    store,
                    index,
                    wait_ms,
                    region,
                    namespace,
                    SLICE,
                    |q| f(store, q),
                    between_slices,
                )
            })?
        };
        match answer {
            Ok(r) => PyTuple::new(
                py,
                [
                    to_py(py, &r.value)?,
                    r.meta.index.into_pyobject(py)?.into_any(),
                ],
            ),
            Err(e) => Err(to_py_err(py, e)),
        }
    }

    /// A page of a list: `(items, index, next_token)`, blocking as
    /// [`Store::read`] does; `next_token` is None on the last page.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn read_page<'py, T: Serialize + Send>(
        &self,
        py: Python<'py>,
        list: ListArgs,
        index: u64,
        wait: Option<f64>,
        scope: Scope,
        f: impl Fn(&ordu::Store, &ordu::ListOptions, &QueryOptions) -> ordu::Result<Query<Page<T>>>
            + Send
            + Sync,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let opts = list.options().map_err(|e| to_py_err(py, e))?;
        let pair = self.read_as(
            py,
            index,
            wait,
            scope,
            |s, q| f(s, &opts, q),
            |py, page| {
                let token = page.next_token.clone().into_pyobject(py)?.into_any();
                Ok(PyTuple::new(py, [topy::to_py(py, &page.items)?, token])?.into_any())
            },
        )?;
        let (value, at) = (pair.get_item(0)?, pair.get_item(1)?);
        PyTuple::new(py, [value.get_item(0)?, at, value.get_item(1)?])
    }

    pub(super) fn check_region(&self, py: Python<'_>, region: Option<&str>) -> PyResult<()> {
        host::check_region(&self.inner, region).map_err(|e| to_py_err(py, e))
    }
}

/// Where a read looks, as Python passed it: a region (None: the store's)
/// and a namespace (None or empty: `default`; `*`: every one, on lists).
pub(super) struct Scope {
    region: Option<String>,
    namespace: Option<String>,
}

impl Scope {
    /// A read of a job, or of a list that namespaces divide.
    pub(super) fn new(region: Option<String>, namespace: Option<String>) -> Self {
        Scope { region, namespace }
    }

    /// A read namespaces do not divide (nodes, namespaces, an evaluation
    /// or allocation by ID).
    pub(super) fn region(region: Option<String>) -> Self {
        Scope::new(region, None)
    }
}

/// The list arguments of a paged read, as Python passed them.
pub(super) struct ListArgs {
    prefix: String,
    pub(super) job: String,
    pub(super) status: String,
    per_page: i64,
    next_token: String,
    reverse: bool,
}

impl ListArgs {
    pub(super) fn new(prefix: String, per_page: i64, next_token: String, reverse: bool) -> Self {
        ListArgs {
            prefix,
            job: String::new(),
            status: String::new(),
            per_page,
            next_token,
            reverse,
        }
    }

    /// The core's options; a `per_page` out of range is an InvalidError.
    fn options(self) -> ordu::Result<ordu::ListOptions> {
        Ok(ordu::ListOptions {
            per_page: host::per_page(self.per_page)?,
            prefix: self.prefix,
            job: self.job,
            status: self.status,
            next_token: self.next_token,
            reverse: self.reverse,
        })
    }
}
