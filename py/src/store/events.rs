//! `Store.events`: subscribing to the event stream (the iterator it returns
//! is `crate::events::EventStream`).

use ordu::host;
use pyo3::prelude::*;

use crate::errors::to_py_err;
use crate::events::EventStream;

use super::Store;

#[pymethods]
impl Store {
    /// Subscribes to the event stream: an EventStream (an iterator of
    /// frames) of the writes from index `index` on (0: from the next
    /// write), with `topics` filters "Topic:Key" ("Job:web",
    /// "Allocation:*", "*"; None or empty: every event) and of `namespace`
    /// only (None or "*": every namespace). A filter that does not parse is
    /// InvalidError; an index older than the store's buffer holds is
    /// LimitError whose `limit` is the oldest index it holds.
    #[pyo3(signature = (topics=None, index=0, namespace=None))]
    fn events(
        &self,
        py: Python<'_>,
        topics: Option<Vec<String>>,
        index: u64,
        namespace: Option<String>,
    ) -> PyResult<EventStream> {
        let topics = topics.unwrap_or_default();
        host::subscribe_events(&self.inner, &topics, namespace.as_deref(), index)
            .map(|sub| EventStream {
                sub: std::sync::Mutex::new(sub),
            })
            .map_err(|e| to_py_err(py, e))
    }
}
