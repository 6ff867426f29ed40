//! `Store`'s namespace methods: reading, creating or updating, and deleting
//! namespaces.

use std::borrow::Cow;

use ordu::host;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use crate::json::body_bytes;

use super::calls::Scope;
use super::Store;

#[pymethods]
impl Store {
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
}
