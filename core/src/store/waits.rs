//! Reads and blocking reads: the readers, each defined once, and the two ways
//! to wait on them (blocking and a `Future`).

use super::*;

type ReadFn<T> = Box<dyn Fn(&State) -> (Result<T>, u64) + Send + Sync>;

/// One read: the watch keys it covers and how to compute its answer and index.
/// Wait on it with [`Store::wait`] (blocking) or [`Store::wait_async`].
pub struct Reader<T> {
    keys: Vec<Key>,
    read: ReadFn<T>,
}

/// The reads a store serves, each defined once for both ways to wait.
pub mod reads {
    use super::*;

    /// Reads with no history answer 1 rather than 0 once the store has had a
    /// write, so that `min_index` 0 (which never blocks) is never handed back.
    fn floor(index: u64, state: &State) -> u64 {
        index.max(state.index().min(1))
    }

    /// One job; a missing job is [`Error::NotFound`] carrying the index.
    pub fn job(namespace: &str, id: &str) -> Reader<Arc<Job>> {
        let (ns, id, key) = (
            namespace.to_string(),
            id.to_string(),
            job_key(namespace, id),
        );
        Reader {
            keys: vec![keys::job(&key)],
            read: Box::new(move |s| {
                let index = floor(s.job_index(&ns, &id), s);
                let v = s.job(&ns, &id).cloned().ok_or_else(|| Error::NotFound {
                    what: "job",
                    id: id.clone(),
                    index,
                });
                (v, index)
            }),
        }
    }

    /// Every version a job keeps, newest (the job itself) first, as the
    /// versions endpoint answers them; a missing job is [`Error::NotFound`].
    /// The index is the job's: a register or a stability change wakes it.
    pub fn job_versions(namespace: &str, id: &str) -> Reader<JobVersionsResponse> {
        let (ns, id, key) = (
            namespace.to_string(),
            id.to_string(),
            job_key(namespace, id),
        );
        Reader {
            keys: vec![keys::job(&key)],
            read: Box::new(move |s| {
                let index = floor(s.job_index(&ns, &id), s);
                let versions = s.job_versions(&ns, &id);
                let v = if versions.is_empty() {
                    Err(Error::NotFound {
                        what: "job",
                        id: id.clone(),
                        index,
                    })
                } else {
                    Ok(JobVersionsResponse {
                        versions: versions.into_iter().map(JobVersion::new).collect(),
                        diffs: None,
                    })
                };
                (v, index)
            }),
        }
    }

    /// A job's summary (see [`State::job_summary`]); a missing job is
    /// [`Error::NotFound`]. Woken by any change to the job, its allocations
    /// or its evaluations; the index is the last of those.
    pub fn job_summary(namespace: &str, id: &str) -> Reader<JobSummary> {
        let (ns, id, key) = (
            namespace.to_string(),
            id.to_string(),
            job_key(namespace, id),
        );
        Reader {
            keys: vec![
                keys::job(&key),
                keys::job_allocs(&key),
                keys::job_evals(&key),
            ],
            read: Box::new(move |s| {
                let index = floor(s.job_summary_index(&ns, &id), s);
                let v = s.job_summary(&ns, &id).ok_or_else(|| Error::NotFound {
                    what: "job",
                    id: id.clone(),
                    index,
                });
                (v, index)
            }),
        }
    }

    /// A job's scale status (see [`State::job_scale_status`]); a missing
    /// job is [`Error::NotFound`]. Woken by any change to the job or its
    /// allocations; the index is the last of those.
    pub fn job_scale_status(namespace: &str, id: &str) -> Reader<JobScaleStatus> {
        let (ns, id, key) = (
            namespace.to_string(),
            id.to_string(),
            job_key(namespace, id),
        );
        Reader {
            keys: vec![keys::job(&key), keys::job_allocs(&key)],
            read: Box::new(move |s| {
                let index = floor(s.job_index(&ns, &id).max(s.job_allocs_index(&ns, &id)), s);
                let v = s.job_scale_status(&ns, &id).ok_or_else(|| Error::NotFound {
                    what: "job",
                    id: id.clone(),
                    index,
                });
                (v, index)
            }),
        }
    }

    /// A job's deployments (Nomad's `GET /v1/job/<id>/deployments`): ordu
    /// has none, so always `[]`, as Nomad answers for a job without any
    /// (or no job); the index is the job's.
    pub fn job_deployments(namespace: &str, id: &str) -> Reader<Vec<serde_json::Value>> {
        let (ns, id, key) = (
            namespace.to_string(),
            id.to_string(),
            job_key(namespace, id),
        );
        Reader {
            keys: vec![keys::job(&key)],
            read: Box::new(move |s| (Ok(Vec::new()), floor(s.job_index(&ns, &id), s))),
        }
    }

    /// A job's latest deployment (Nomad's `GET /v1/job/<id>/deployment`):
    /// always none (`null`); the index is the job's.
    pub fn job_deployment(namespace: &str, id: &str) -> Reader<Option<serde_json::Value>> {
        let (ns, id, key) = (
            namespace.to_string(),
            id.to_string(),
            job_key(namespace, id),
        );
        Reader {
            keys: vec![keys::job(&key)],
            read: Box::new(move |s| (Ok(None), floor(s.job_index(&ns, &id), s))),
        }
    }

    /// Job list stubs in ID order, of the jobs whose ID starts with `prefix`.
    pub fn jobs(namespace: &str, prefix: &str) -> Reader<Vec<JobListStub>> {
        let (ns, prefix) = (namespace.to_string(), prefix.to_string());
        Reader {
            keys: vec![keys::jobs()],
            read: Box::new(move |s| {
                let v = s.jobs_with_prefix(&ns, &prefix).map(|j| j.stub()).collect();
                (Ok(v), floor(s.jobs_index(), s))
            }),
        }
    }

    /// A page of the job list (see [`State::job_page`]); the index is the job
    /// list's.
    pub fn jobs_page(namespace: &str, opts: &ListOptions) -> Reader<Page<JobListStub>> {
        let (ns, opts) = (namespace.to_string(), opts.clone());
        Reader {
            keys: vec![keys::jobs()],
            read: Box::new(move |s| (s.job_page(&ns, &opts), floor(s.jobs_index(), s))),
        }
    }

    /// A page of the node list (see [`State::node_page`]); the index is the
    /// node list's.
    pub fn nodes_page(opts: &ListOptions) -> Reader<Page<NodeListStub>> {
        let opts = opts.clone();
        Reader {
            keys: vec![keys::nodes()],
            read: Box::new(move |s| (s.node_page(&opts), floor(s.nodes_index(), s))),
        }
    }

    /// A page of every evaluation (see [`State::eval_page`]). The index is
    /// that of the last change to any evaluation, as Nomad's (its `evals`
    /// table index), filtered or not; any evaluation write wakes it.
    pub fn evaluations(namespace: &str, opts: &ListOptions) -> Reader<Page<Arc<Evaluation>>> {
        let (ns, opts) = (namespace.to_string(), opts.clone());
        Reader {
            keys: vec![keys::evals()],
            read: Box::new(move |s| (s.eval_page(&ns, &opts), floor(s.evals_index(), s))),
        }
    }

    /// A page of every allocation's stub (see [`State::alloc_page`]). The
    /// index is that of the last change to any allocation, as Nomad's.
    pub fn allocations(namespace: &str, opts: &ListOptions) -> Reader<Page<AllocListStub>> {
        let (ns, opts) = (namespace.to_string(), opts.clone());
        Reader {
            keys: vec![keys::allocs()],
            read: Box::new(move |s| (s.alloc_page(&ns, &opts), floor(s.allocs_index(), s))),
        }
    }

    /// A job's allocation stubs: of the current incarnation of the job, or of
    /// every incarnation with `all` (or when the job no longer exists).
    pub fn job_allocations(namespace: &str, id: &str, all: bool) -> Reader<Vec<AllocListStub>> {
        let (ns, id, key) = (
            namespace.to_string(),
            id.to_string(),
            job_key(namespace, id),
        );
        Reader {
            keys: vec![keys::job_allocs(&key)],
            read: Box::new(move |s| {
                let current = if all {
                    None
                } else {
                    s.job(&ns, &id).map(|j| j.create_index)
                };
                let v = s
                    .allocs_by_job(&ns, &id)
                    .iter()
                    .filter(|a| current.is_none_or(|c| a.job.create_index == c))
                    .map(|a| a.stub())
                    .collect();
                (Ok(v), floor(s.job_allocs_index(&ns, &id), s))
            }),
        }
    }

    /// A job's evaluations, in ID order.
    pub fn job_evaluations(namespace: &str, id: &str) -> Reader<Vec<Arc<Evaluation>>> {
        let (ns, id, key) = (
            namespace.to_string(),
            id.to_string(),
            job_key(namespace, id),
        );
        Reader {
            keys: vec![keys::job_evals(&key)],
            read: Box::new(move |s| {
                (
                    Ok(s.evals_by_job(&ns, &id)),
                    floor(s.job_evals_index(&ns, &id), s),
                )
            }),
        }
    }

    /// Every namespace whose name starts with `prefix`, by name.
    pub fn namespaces(prefix: &str) -> Reader<Vec<Arc<Namespace>>> {
        let prefix = prefix.to_string();
        Reader {
            keys: vec![keys::namespaces()],
            read: Box::new(move |s| (Ok(s.namespaces(&prefix)), floor(s.namespaces_index(), s))),
        }
    }

    /// One namespace; a missing one is [`Error::NotFound`]. The index is
    /// the namespace table's, as Nomad's.
    pub fn namespace(name: &str) -> Reader<Arc<Namespace>> {
        let name = name.to_string();
        Reader {
            keys: vec![keys::namespaces()],
            read: Box::new(move |s| {
                let index = floor(s.namespaces_index(), s);
                let v = s.namespace(&name).ok_or_else(|| Error::NotFound {
                    what: "namespace",
                    id: name.clone(),
                    index,
                });
                (v, index)
            }),
        }
    }

    /// One evaluation.
    pub fn evaluation(id: &str) -> Reader<Arc<Evaluation>> {
        let id = id.to_string();
        Reader {
            keys: vec![keys::eval(&id)],
            read: Box::new(move |s| match s.eval(&id) {
                Some(e) => (Ok(e.clone()), e.modify_index),
                None => {
                    let index = floor(s.evals_index(), s);
                    let err = Error::NotFound {
                        what: "eval",
                        id: id.clone(),
                        index,
                    };
                    (Err(err), index)
                }
            }),
        }
    }

    /// One allocation.
    pub fn allocation(id: &str) -> Reader<Arc<Allocation>> {
        let id = id.to_string();
        Reader {
            keys: vec![keys::alloc(&id)],
            read: Box::new(move |s| match s.alloc(&id) {
                Some(a) => (Ok(a.clone()), a.modify_index),
                None => {
                    let index = floor(s.allocs_index(), s);
                    let err = Error::NotFound {
                        what: "alloc",
                        id: id.clone(),
                        index,
                    };
                    (Err(err), index)
                }
            }),
        }
    }

    /// One node.
    pub fn node(id: &str) -> Reader<Arc<Node>> {
        let id = id.to_string();
        Reader {
            keys: vec![keys::node(&id)],
            read: Box::new(move |s| {
                let index = floor(s.node_index(&id), s);
                let v = s
                    .node(&id)
                    .map(|n| {
                        if n.scheduling_eligibility.is_empty() {
                            // Written before ordu modelled it: eligible.
                            let mut n = (**n).clone();
                            n.scheduling_eligibility = n.eligibility().to_string();
                            Arc::new(n)
                        } else {
                            n.clone()
                        }
                    })
                    .ok_or_else(|| Error::NotFound {
                        what: "node",
                        id: id.clone(),
                        index,
                    });
                (v, index)
            }),
        }
    }

    /// Node stubs in ID order, of the nodes whose ID starts with `prefix`.
    pub fn nodes(prefix: &str) -> Reader<Vec<NodeListStub>> {
        let prefix = prefix.to_string();
        Reader {
            keys: vec![keys::nodes()],
            read: Box::new(move |s| {
                let v = s
                    .nodes()
                    .filter(|n| n.id.starts_with(&prefix))
                    .map(|n| n.stub())
                    .collect();
                (Ok(v), floor(s.nodes_index(), s))
            }),
        }
    }

    /// The allocation stubs of an evaluation's job that name it as their
    /// `EvalID`, in ID order; `[]` for an unknown evaluation, as Nomad
    /// answers. The index is the allocation table's, as Nomad's.
    pub fn eval_allocations(id: &str) -> Reader<Vec<AllocListStub>> {
        let id = id.to_string();
        Reader {
            keys: vec![keys::eval_allocs(&id)],
            read: Box::new(move |s| {
                let v = match s.eval(&id) {
                    Some(e) => s
                        .allocs_by_job(&e.namespace, &e.job_id)
                        .iter()
                        .filter(|a| a.eval_id == id)
                        .map(|a| a.stub())
                        .collect(),
                    None => Vec::new(),
                };
                (Ok(v), floor(s.allocs_index(), s))
            }),
        }
    }

    /// A node's allocations (full objects).
    pub fn node_allocations(id: &str) -> Reader<Vec<Arc<Allocation>>> {
        let id = id.to_string();
        Reader {
            keys: vec![keys::node_allocs(&id)],
            read: Box::new(move |s| {
                (
                    Ok(s.allocs_by_node(&id)),
                    floor(s.node_allocs_index(&id), s),
                )
            }),
        }
    }
}

impl Store {
    // ---- reads ----

    /// Answers `reader`, blocking as `opts` says (see [`QueryOptions`]).
    pub fn wait<T>(&self, reader: Reader<T>, opts: &QueryOptions) -> Result<Query<T>> {
        self.check_region(opts.region.as_deref())?;
        self.read_barrier();
        let deadline = self.deadline(opts);
        loop {
            match self.attempt(&reader, opts) {
                (_, Settled::Done(r)) => return r,
                (sub, Settled::Wait(r)) => {
                    let sub = sub.expect("subscribed when blocking");
                    if !sub.wait_until(deadline) {
                        return r;
                    }
                }
            }
        }
    }

    /// [`Store::wait`] as a `Future` that runs on any executor; thousands of
    /// them cost no thread each.
    pub async fn wait_async<T>(&self, reader: Reader<T>, opts: &QueryOptions) -> Result<Query<T>> {
        self.check_region(opts.region.as_deref())?;
        // Short (a group of evaluations) and only right after writes: taken
        // on the polling thread rather than as a future of its own.
        self.read_barrier();
        let deadline = self.deadline(opts);
        loop {
            match self.attempt(&reader, opts) {
                (_, Settled::Done(r)) => return r,
                (sub, Settled::Wait(r)) => {
                    let sub = sub.expect("subscribed when blocking");
                    if !sub.changed(deadline).await {
                        return r;
                    }
                }
            }
        }
    }

    /// One try of a read: subscribe (before reading, so no write is missed),
    /// read, and decide whether that answers it.
    fn attempt<T>(
        &self,
        reader: &Reader<T>,
        opts: &QueryOptions,
    ) -> (Option<crate::watch::Subscription>, Settled<T>) {
        let sub = (opts.min_index > 0).then(|| self.watch.subscribe(&reader.keys));
        let (value, index, current) = {
            let st = self.state.read();
            let (v, i) = (reader.read)(&st);
            (v, i, st.index())
        };
        (sub, self.settle(value, index, current, opts))
    }

    fn deadline(&self, opts: &QueryOptions) -> Instant {
        let wait = opts.effective_wait();
        Instant::now() + wait + jitter(wait / 16)
    }

    /// Decides whether a read answers now or waits for a change.
    fn settle<T>(
        &self,
        value: Result<T>,
        index: u64,
        current: u64,
        opts: &QueryOptions,
    ) -> Settled<T> {
        let meta = QueryMeta {
            index,
            known_leader: true,
            last_contact: 0,
        };
        let result = match value {
            Ok(value) => Ok(Query { value, meta }),
            Err(Error::NotFound { what, id, .. }) => Err(Error::NotFound { what, id, index }),
            Err(e) => return Settled::Done(Err(e)),
        };
        // A min_index past everything the store has means the caller's view is
        // from another history (a reset): answer at once.
        if opts.min_index == 0 || index > opts.min_index || opts.min_index > current {
            Settled::Done(result)
        } else {
            Settled::Wait(result)
        }
    }

    /// A job.
    pub fn job(&self, id: &str, opts: &QueryOptions) -> Result<Query<Arc<Job>>> {
        self.wait(reads::job(opts.namespace(), id), opts)
    }

    /// Every version a job keeps (see [`reads::job_versions`]).
    pub fn job_versions(
        &self,
        id: &str,
        opts: &QueryOptions,
    ) -> Result<Query<JobVersionsResponse>> {
        self.wait(reads::job_versions(opts.namespace(), id), opts)
    }

    /// A job's summary (see [`reads::job_summary`]).
    pub fn job_summary(&self, id: &str, opts: &QueryOptions) -> Result<Query<JobSummary>> {
        self.wait(reads::job_summary(opts.namespace(), id), opts)
    }

    /// A job's scale status (see [`reads::job_scale_status`]).
    pub fn job_scale_status(&self, id: &str, opts: &QueryOptions) -> Result<Query<JobScaleStatus>> {
        self.wait(reads::job_scale_status(opts.namespace(), id), opts)
    }

    /// The job list, sorted by ID, filtered by ID prefix.
    pub fn jobs(&self, prefix: &str, opts: &QueryOptions) -> Result<Query<Vec<JobListStub>>> {
        self.wait(reads::jobs(opts.namespace(), prefix), opts)
    }

    /// A page of the job list (see [`reads::jobs_page`]).
    pub fn jobs_page(
        &self,
        list: &ListOptions,
        opts: &QueryOptions,
    ) -> Result<Query<Page<JobListStub>>> {
        self.wait(reads::jobs_page(opts.namespace(), list), opts)
    }

    /// A page of the node list (see [`reads::nodes_page`]).
    pub fn nodes_page(
        &self,
        list: &ListOptions,
        opts: &QueryOptions,
    ) -> Result<Query<Page<NodeListStub>>> {
        self.wait(reads::nodes_page(list), opts)
    }

    /// A page of every evaluation (see [`reads::evaluations`]).
    pub fn evaluations(
        &self,
        list: &ListOptions,
        opts: &QueryOptions,
    ) -> Result<Query<Page<Arc<Evaluation>>>> {
        self.wait(reads::evaluations(opts.namespace(), list), opts)
    }

    /// A page of every allocation's stub (see [`reads::allocations`]).
    pub fn allocations(
        &self,
        list: &ListOptions,
        opts: &QueryOptions,
    ) -> Result<Query<Page<AllocListStub>>> {
        self.wait(reads::allocations(opts.namespace(), list), opts)
    }

    /// A job's allocations (see [`reads::job_allocations`]).
    pub fn job_allocations(
        &self,
        id: &str,
        all: bool,
        opts: &QueryOptions,
    ) -> Result<Query<Vec<AllocListStub>>> {
        self.wait(reads::job_allocations(opts.namespace(), id, all), opts)
    }

    /// A job's evaluations.
    pub fn job_evaluations(
        &self,
        id: &str,
        opts: &QueryOptions,
    ) -> Result<Query<Vec<Arc<Evaluation>>>> {
        self.wait(reads::job_evaluations(opts.namespace(), id), opts)
    }

    /// Every namespace whose name starts with `prefix`.
    pub fn namespaces(
        &self,
        prefix: &str,
        opts: &QueryOptions,
    ) -> Result<Query<Vec<Arc<Namespace>>>> {
        self.wait(reads::namespaces(prefix), opts)
    }

    /// A namespace by name.
    pub fn namespace(&self, name: &str, opts: &QueryOptions) -> Result<Query<Arc<Namespace>>> {
        self.wait(reads::namespace(name), opts)
    }

    /// An evaluation by ID.
    pub fn evaluation(&self, id: &str, opts: &QueryOptions) -> Result<Query<Arc<Evaluation>>> {
        self.wait(reads::evaluation(id), opts)
    }

    /// The allocations of an evaluation (see [`reads::eval_allocations`]).
    pub fn eval_allocations(
        &self,
        id: &str,
        opts: &QueryOptions,
    ) -> Result<Query<Vec<AllocListStub>>> {
        self.wait(reads::eval_allocations(id), opts)
    }

    /// An allocation by ID.
    pub fn allocation(&self, id: &str, opts: &QueryOptions) -> Result<Query<Arc<Allocation>>> {
        self.wait(reads::allocation(id), opts)
    }

    /// A node by ID.
    pub fn node(&self, id: &str, opts: &QueryOptions) -> Result<Query<Arc<Node>>> {
        self.wait(reads::node(id), opts)
    }

    /// The node list, sorted by ID, filtered by ID prefix.
    pub fn nodes(&self, prefix: &str, opts: &QueryOptions) -> Result<Query<Vec<NodeListStub>>> {
        self.wait(reads::nodes(prefix), opts)
    }

    /// A node's allocations.
    pub fn node_allocations(
        &self,
        id: &str,
        opts: &QueryOptions,
    ) -> Result<Query<Vec<Arc<Allocation>>>> {
        self.wait(reads::node_allocations(id), opts)
    }
}

enum Settled<T> {
    Done(Result<Query<T>>),
    Wait(Result<Query<T>>),
}

/// Up to `max` of jitter, so that many waiters with the same wait do not all
/// time out at once. Not part of any state decision.
fn jitter(max: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let nanos = max.as_nanos() as u64;
    if nanos == 0 {
        return Duration::ZERO;
    }
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(nanos);
    Duration::from_nanos(h.finish() % nanos)
}
