//! The state machine: tables of jobs, evaluations, allocations and nodes, their
//! indexes, and [`State::apply`].
//!
//! `apply` is pure: no clock, no randomness, no I/O. Every ID and time a command
//! needs is already in it, so the same commands at the same indexes give the same
//! state, byte for byte ([`State::snapshot`]), on every replica. A command that is
//! rejected (a check-and-set conflict, a plan that no longer fits) changes nothing.

mod key;
mod lists;
mod snapshot;
mod usage;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::error::{Error, Result};

use crate::structs::{job_key, split_job_key, Namespace, ANY_NAMESPACE, DEFAULT_NAMESPACE};
use crate::structs::{
    AllocClientStatus, AllocClientUpdate, Allocation, DesiredTransition, Evaluation, Job, Node,
    NodeStatus, Plan, JOB_STATUS_DEAD, JOB_STATUS_PENDING, JOB_STATUS_RUNNING, JOB_TYPE_SYSTEM,
    NODE_ELIGIBLE, NODE_INELIGIBLE,
};
use crate::structs::{JobScaleStatus, JobSummary, TaskGroupScaleStatus, TaskGroupSummary};
pub use key::Key;
pub use lists::{ListOptions, Page};
pub use snapshot::{OLDEST_SNAPSHOT_VERSION, SNAPSHOT_VERSION};
pub use usage::NodeUsage;

/// The watch keys of what reads cover.
pub mod keys {
    use super::Key;

    /// One job, by its table key ([`job_key`](super::job_key)).
    pub fn job(key: &str) -> Key {
        Key::new("job", key)
    }
    /// The job list.
    pub fn jobs() -> Key {
        Key::new("jobs", "")
    }
    /// A job's allocations, by the job's table key.
    pub fn job_allocs(key: &str) -> Key {
        Key::new("job-allocs", key)
    }
    /// A job's evaluations, by the job's table key.
    pub fn job_evals(key: &str) -> Key {
        Key::new("job-evals", key)
    }
    /// The namespace list.
    pub fn namespaces() -> Key {
        Key::new("namespaces", "")
    }
    /// One evaluation.
    pub fn eval(id: &str) -> Key {
        Key::new("eval", id)
    }
    /// One allocation.
    pub fn alloc(id: &str) -> Key {
        Key::new("alloc", id)
    }
    /// One node.
    pub fn node(id: &str) -> Key {
        Key::new("node", id)
    }
    /// The node list.
    pub fn nodes() -> Key {
        Key::new("nodes", "")
    }
    /// The list of every evaluation.
    pub fn evals() -> Key {
        Key::new("evals", "")
    }
    /// The list of every allocation.
    pub fn allocs() -> Key {
        Key::new("allocs", "")
    }
    /// A node's allocations.
    pub fn node_allocs(id: &str) -> Key {
        Key::new("node-allocs", id)
    }
    /// The allocations an evaluation placed or updated.
    pub fn eval_allocs(id: &str) -> Key {
        Key::new("eval-allocs", id)
    }
}

/// Last-change indexes of what a job's reads cover; kept after the job is gone
/// so that indexes never go backwards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct JobIndexes {
    job: u64,
    allocs: u64,
    evals: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct NodeIndexes {
    node: u64,
    allocs: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct TableIndexes {
    jobs: u64,
    evals: u64,
    allocs: u64,
    nodes: u64,
    /// Absent from snapshots before format 4.
    #[serde(default)]
    namespaces: u64,
}

/// Lookups derived from the tables; rebuilt on restore, never serialised.
#[derive(Clone, Debug, Default)]
struct Derived {
    evals_by_job: HashMap<String, HashSet<String>>,
    // Hashed, not ordered: these take a million inserts in a large cluster;
    // readers sort what they hand out.
    allocs_by_job: HashMap<String, HashSet<String>>,
    allocs_by_node: HashMap<String, HashSet<String>>,
    usage: HashMap<String, NodeUsage>,
    /// Per job, how many of its evaluations are pending or blocked: job status
    /// needs only whether there is one, and a job's evaluations pile up (one
    /// per register) until collected, so scanning them on every write would
    /// make writes slower the longer a job lives.
    open_evals: HashMap<String, usize>,
    /// Every evaluation as `(CreateIndex, ID)`, in the order of the
    /// evaluation list: a page of it costs its own size. New ones go at the
    /// end (create indexes grow), so keeping it costs little.
    evals_by_create: BTreeSet<(u64, String)>,
    /// Every allocation as `(CreateIndex, ID)`, as `evals_by_create`.
    allocs_by_create: BTreeSet<(u64, String)>,
    /// Per job, per task group: its allocations by client status (the
    /// counts of the job summary), kept by apply.
    summaries: HashMap<String, BTreeMap<String, TaskGroupSummary>>,
    /// Per job, per task group: the `QueuedAllocations` of every
    /// evaluation that names the group, by `(ModifyIndex, ID)`; the last is
    /// the summary's `Queued`. Kept by apply for every evaluation (not only
    /// the latest), so that collecting or rewriting one never needs a scan.
    queued: HashMap<String, BTreeMap<String, QueuedBy>>,
}

/// A group's `QueuedAllocations` by evaluation `(ModifyIndex, ID)`.
type QueuedBy = BTreeMap<(u64, String), i64>;

impl Derived {
    fn count_alloc(&mut self, a: &Allocation, up: bool) {
        let key = a.job_key();
        let groups = entry_mut(&mut self.summaries, &key);
        entry_mut_b(groups, &a.task_group).count(a.client_status, up);
        if !up {
            if groups.get(&a.task_group).is_some_and(|g| g.is_empty()) {
                groups.remove(&a.task_group);
            }
            if groups.is_empty() {
                self.summaries.remove(&key);
            }
        }
    }

    fn queue_eval(&mut self, e: &Evaluation, up: bool) {
        if e.queued_allocations.is_empty() {
            return;
        }
        let key = (e.modify_index, e.id.clone());
        let job = e.job_key();
        let groups = entry_mut(&mut self.queued, &job);
        for (g, n) in &e.queued_allocations {
            if up {
                entry_mut_b(groups, g).insert(key.clone(), *n);
            } else if let Some(set) = groups.get_mut(g) {
                set.remove(&key);
                if set.is_empty() {
                    groups.remove(g);
                }
            }
        }
        if groups.is_empty() {
            self.queued.remove(&job);
        }
    }
}

fn entry_mut_b<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("just inserted")
}

/// Pending or blocked: the job still has work queued.
fn is_open(e: &Evaluation) -> bool {
    e.status.is_open()
}

/// Counts one more (`up`) or one less at `key`, dropping keys that reach 0.
fn count(map: &mut HashMap<String, usize>, key: &str, up: bool) {
    if up {
        // The key is copied only when new.
        match map.get_mut(key) {
            Some(n) => *n += 1,
            None => {
                map.insert(key.to_string(), 1);
            }
        }
    } else if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

/// What an applied command touched.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    /// The index it was applied at.
    pub index: u64,
    /// Watch keys whose reads may have changed.
    pub keys: Vec<Key>,
    /// The job's `JobModifyIndex` after a register (for the reply).
    pub job_modify_index: u64,
    /// The objects the command wrote, each once and as stored after it (a
    /// removed job or node as it was), in the order it last wrote them: the
    /// source of the event stream ([`crate::events`]). Evaluations and
    /// allocations collected are not in it, as Nomad's stream has no event
    /// for them.
    pub changes: Vec<Change>,
    /// Nomad's event type of the command ([`crate::events`]): every event
    /// of one command has it, as in Nomad, where the type is the log
    /// message's.
    pub event_type: &'static str,
}

/// An object a command wrote (see [`Applied::changes`]).
#[derive(Clone, Debug)]
pub enum Change {
    /// A job written, or removed (then as it was).
    Job(Arc<Job>),
    /// An evaluation written.
    Eval(Arc<Evaluation>),
    /// An allocation written.
    Alloc(Arc<Allocation>),
    /// A node written, or removed (then as it was).
    Node(Arc<Node>),
}

impl Change {
    /// The object's kind (0 job, 1 evaluation, 2 allocation, 3 node) and ID.
    fn identity(&self) -> (u8, &str) {
        match self {
            Change::Job(j) => (0, &j.id),
            Change::Eval(e) => (1, &e.id),
            Change::Alloc(a) => (2, &a.id),
            Change::Node(n) => (3, &n.id),
        }
    }
}

/// Keeps the last change of each object: an object written twice by one
/// command (a job registered, then its status derived) is one event.
fn dedup_changes(changes: &mut Vec<Change>) {
    if changes.len() < 2 {
        return;
    }
    // A few (a register: the job, its evaluation, the job again): pairwise
    // is cheaper than hashing.
    if changes.len() <= 8 {
        let mut i = 0;
        while i < changes.len() {
            let id = changes[i].identity();
            if changes[i + 1..].iter().any(|c| c.identity() == id) {
                changes.remove(i);
            } else {
                i += 1;
            }
        }
        return;
    }
    let keep: Vec<bool> = {
        let mut seen = HashSet::with_capacity(changes.len());
        let mut keep: Vec<bool> = changes
            .iter()
            .rev()
            .map(|c| seen.insert(c.identity()))
            .collect();
        keep.reverse();
        keep
    };
    let mut i = 0;
    changes.retain(|_| {
        i += 1;
        keep[i - 1]
    });
}

/// Nomad's event type of a command: its log message's.
fn event_type(cmd: &Command) -> &'static str {
    match cmd {
        // A stability mark rewrites the job as a register does.
        Command::JobRegister { .. } | Command::JobStability { .. } => "JobRegistered",
        Command::JobDeregister { .. } => "JobDeregistered",
        Command::EvalUpsert { .. } => "EvaluationUpdated",
        Command::PlanApply { .. } => "PlanResult",
        Command::NodeRegister { .. } => "NodeRegistration",
        Command::NodeDeregister { .. } => "NodeDeregistration",
        Command::NodeUpdateStatus { .. } => "NodeEvent",
        Command::NodeUpdateDrain { .. }
        | Command::NodeUpdateDrainStrategy { .. }
        | Command::NodeUpdateEligibility { .. } => "NodeDrain",
        Command::AllocClientUpdate { .. } => "AllocationUpdated",
        Command::AllocUpdateDesiredTransition { .. } => "AllocationUpdateDesiredStatus",
        Command::GarbageCollect { .. } => "JobBatchDeregistered",
        // Nomad's stream has no namespace topic: these write no events.
        Command::NamespaceUpsert { .. } => "NamespaceUpsert",
        Command::NamespaceDelete { .. } => "NamespaceDelete",
    }
}

/// The tables and their indexes. Written and read as bytes by
/// [`State::snapshot`] and [`State::restore`].
#[derive(Clone, Debug, Default)]
pub struct State {
    index: u64,
    /// By [`job_key`]: a namespace's jobs together, in ID order.
    jobs: BTreeMap<String, Arc<Job>>,
    /// Created ones, by name; `default` only once a write changed it.
    namespaces: BTreeMap<String, Arc<Namespace>>,
    /// Hashed, not ordered, as allocations are: a job re-registered all day
    /// piles up evaluations until they are collected, and every write would
    /// walk a deep tree of string keys. Written in ID order.
    evals: HashMap<String, Arc<Evaluation>>,
    /// Hashed, not ordered: with a million allocations every write would
    /// otherwise walk a deep tree of string keys. Written in ID order.
    allocs: HashMap<String, Arc<Allocation>>,
    nodes: BTreeMap<String, Arc<Node>>,
    job_indexes: BTreeMap<String, JobIndexes>,
    node_indexes: BTreeMap<String, NodeIndexes>,
    tables: TableIndexes,
    /// The versions each job replaced, newest first: at most
    /// `tracked_versions - 1` of them (the current version is the job).
    job_versions: BTreeMap<String, VecDeque<Arc<Job>>>,
    tracked_versions: TrackedVersions,
    derived: Derived,
}

/// How many versions of a job apply keeps, the current one included: a
/// setting of the replica, never written to a snapshot.
#[derive(Clone, Copy, Debug)]
struct TrackedVersions(usize);

impl Default for TrackedVersions {
    fn default() -> Self {
        TrackedVersions(crate::store::DEFAULT_JOB_TRACKED_VERSIONS)
    }
}

impl State {
    /// An empty state at index 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Index of the last command applied (0 when none was).
    pub fn index(&self) -> u64 {
        self.index
    }

    fn rebuild(&mut self) {
        let mut d = Derived {
            evals_by_create: by_create(&self.evals, |e| e.create_index),
            ..Derived::default()
        };
        for (id, e) in &self.evals {
            d.queue_eval(e, true);
            entry_mut(&mut d.evals_by_job, &e.job_key()).insert(id.clone());
            if is_open(e) {
                count(&mut d.open_evals, &e.job_key(), true);
            }
        }
        // By job here, by node on another thread when there are many: the
        // two take about as long, and a restart waits for both.
        let allocs = &self.allocs;
        let by_job = || (group_ids(allocs), by_create(allocs, |a| a.create_index));
        let by_node = || node_side(allocs);
        let ((by_job, allocs_by_create), (by_node, usage)) = if allocs.len() >= PARALLEL_REBUILD {
            std::thread::scope(
                |s| match std::thread::Builder::new().spawn_scoped(s, by_node) {
                    Ok(h) => (
                        by_job(),
                        h.join().expect("the rebuild's thread does not panic"),
                    ),
                    Err(_) => (by_job(), by_node()),
                },
            )
        } else {
            (by_job(), by_node())
        };
        d.allocs_by_job = by_job;
        d.allocs_by_create = allocs_by_create;
        d.allocs_by_node = by_node;
        d.usage = usage;
        for a in self.allocs.values() {
            d.count_alloc(a, true);
        }
        self.derived = d;
    }

    /// Sets how many versions of each job apply keeps, the current one
    /// included (0 counts as 1); [`crate::Store`] sets it from
    /// [`crate::Config::job_tracked_versions`]. Versions already kept beyond
    /// it go at the job's next spec change.
    pub fn set_job_tracked_versions(&mut self, n: usize) {
        self.tracked_versions = TrackedVersions(n.max(1));
    }

    // ---- reads ----

    /// Every version kept of a job, newest (the job itself) first; empty
    /// when the job does not exist.
    pub fn job_versions(&self, namespace: &str, id: &str) -> Vec<Arc<Job>> {
        let key = job_key(namespace, id);
        let Some(job) = self.jobs.get(&key) else {
            return Vec::new();
        };
        let mut out = vec![job.clone()];
        out.extend(self.job_versions.get(&key).into_iter().flatten().cloned());
        out
    }

    /// One version of a job, the current one or a kept one.
    pub fn job_version(&self, namespace: &str, id: &str, version: u64) -> Option<Arc<Job>> {
        self.job_version_by_key(&job_key(namespace, id), version)
    }

    fn job_version_by_key(&self, key: &str, version: u64) -> Option<Arc<Job>> {
        let job = self.jobs.get(key)?;
        if job.version == version {
            return Some(job.clone());
        }
        self.job_versions
            .get(key)?
            .iter()
            .find(|j| j.version == version)
            .cloned()
    }

    /// A job's summary (Nomad's `JobSummary`): per task group of the job
    /// (and any other group its allocations or evaluations name), its
    /// allocations by client status, of every incarnation of the job ID,
    /// and `Queued` from the evaluation written last that names the group.
    /// `ModifyIndex` is [`State::job_summary_index`]. None without the job.
    pub fn job_summary(&self, namespace: &str, id: &str) -> Option<JobSummary> {
        let key = job_key(namespace, id);
        let job = self.jobs.get(&key)?;
        let mut summary: BTreeMap<String, TaskGroupSummary> = job
            .task_groups
            .iter()
            .map(|g| (g.name.clone(), TaskGroupSummary::default()))
            .collect();
        for (g, counts) in self.derived.summaries.get(&key).into_iter().flatten() {
            let queued = summary.get(g).map_or(0, |s| s.queued);
            summary.insert(g.clone(), TaskGroupSummary { queued, ..*counts });
        }
        for (g, by_eval) in self.derived.queued.get(&key).into_iter().flatten() {
            if let Some((_, n)) = by_eval.last_key_value() {
                entry_mut_b(&mut summary, g).queued = *n;
            }
        }
        Some(JobSummary {
            job_id: job.id.clone(),
            namespace: job.namespace.clone(),
            summary,
            children: Default::default(),
            create_index: job.create_index,
            modify_index: self.job_summary_index(namespace, id),
        })
    }

    /// The index of a job summary: the last change to the job, its
    /// allocations or its evaluations.
    pub fn job_summary_index(&self, namespace: &str, id: &str) -> u64 {
        self.job_indexes
            .get(&job_key(namespace, id))
            .map_or(0, |i| i.job.max(i.allocs).max(i.evals))
    }

    /// A job's scale status (Nomad's `JobScaleStatus`): per task group, its
    /// `Count` and its allocations of the current incarnation that are
    /// neither terminal nor unknown (`Placed`), and of those the running.
    /// None without the job.
    pub fn job_scale_status(&self, namespace: &str, id: &str) -> Option<JobScaleStatus> {
        let job = self.jobs.get(&job_key(namespace, id))?;
        let mut groups: BTreeMap<String, TaskGroupScaleStatus> = job
            .task_groups
            .iter()
            .map(|g| {
                let status = TaskGroupScaleStatus {
                    desired: g.count,
                    ..TaskGroupScaleStatus::default()
                };
                (g.name.clone(), status)
            })
            .collect();
        for a in self.allocs_by_job(namespace, id) {
            if a.job.create_index != job.create_index || a.is_terminal() {
                continue;
            }
            if let Some(g) = groups.get_mut(&a.task_group) {
                g.placed += 1;
                if a.client_status == AllocClientStatus::Running {
                    g.running += 1;
                }
            }
        }
        Some(JobScaleStatus {
            job_id: job.id.clone(),
            namespace: job.namespace.clone(),
            job_create_index: job.create_index,
            job_modify_index: job.modify_index,
            job_stopped: job.stop,
            task_groups: groups,
        })
    }

    /// A namespace; `default` always exists.
    pub fn namespace(&self, name: &str) -> Option<Arc<Namespace>> {
        match self.namespaces.get(name) {
            Some(ns) => Some(ns.clone()),
            None if name == DEFAULT_NAMESPACE => Some(Arc::new(Namespace::default_namespace())),
            None => None,
        }
    }

    /// Every namespace whose name starts with `prefix`, by name.
    pub fn namespaces(&self, prefix: &str) -> Vec<Arc<Namespace>> {
        let mut out: Vec<Arc<Namespace>> = self
            .namespaces
            .range(prefix.to_string()..)
            .take_while(|(name, _)| name.starts_with(prefix))
            .map(|(_, ns)| ns.clone())
            .collect();
        if DEFAULT_NAMESPACE.starts_with(prefix) && !self.namespaces.contains_key(DEFAULT_NAMESPACE)
        {
            let at = out.partition_point(|ns| ns.name.as_str() < DEFAULT_NAMESPACE);
            out.insert(at, Arc::new(Namespace::default_namespace()));
        }
        out
    }

    /// Index of the last change to any namespace.
    pub fn namespaces_index(&self) -> u64 {
        self.tables.namespaces
    }

    /// Whether jobs of `namespace` may be registered: it exists.
    pub fn has_namespace(&self, name: &str) -> bool {
        name == DEFAULT_NAMESPACE || self.namespaces.contains_key(name)
    }

    /// A job by namespace and ID.
    pub fn job(&self, namespace: &str, id: &str) -> Option<&Arc<Job>> {
        self.jobs.get(&job_key(namespace, id))
    }

    /// The job as a register of `job` at `index` would store it, without
    /// storing it: the stored job when the spec is the same, else `job` with
    /// the indexes, version and status [`State::apply`] gives it.
    pub fn job_as_registered(&self, job: Job, index: u64) -> Arc<Job> {
        let existing = self.jobs.get(&job.key());
        match as_registered(existing, Cow::Owned(job), index) {
            Some(j) => Arc::new(j),
            None => existing.expect("only a stored job is the same").clone(),
        }
    }

    /// Jobs of `namespace` (`*`: of every namespace) whose ID starts with
    /// `prefix`, in namespace and then ID order.
    pub fn jobs_with_prefix<'a>(
        &'a self,
        namespace: &'a str,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a Arc<Job>> {
        // In one namespace its keys with the prefix are one run of the map.
        let run = (namespace != ANY_NAMESPACE).then(|| job_key(namespace, prefix));
        self.jobs
            .range(run.clone().unwrap_or_default()..)
            .take_while(move |(k, _)| run.as_ref().is_none_or(|r| k.starts_with(r.as_str())))
            .filter(move |(_, j)| j.id.starts_with(prefix))
            .map(|(_, j)| j)
    }

    /// Every job, in namespace and then ID order.
    pub fn jobs(&self) -> impl Iterator<Item = &Arc<Job>> {
        self.jobs.values()
    }

    /// An evaluation by ID.
    pub fn eval(&self, id: &str) -> Option<&Arc<Evaluation>> {
        self.evals.get(id)
    }

    /// Every evaluation, in ID order.
    pub fn evals(&self) -> impl Iterator<Item = &Arc<Evaluation>> {
        let mut all: Vec<(&String, &Arc<Evaluation>)> = self.evals.iter().collect();
        all.sort_unstable_by_key(|(id, _)| *id);
        all.into_iter().map(|(_, e)| e)
    }

    /// A job's evaluations, in ID order.
    pub fn evals_by_job(&self, namespace: &str, job_id: &str) -> Vec<Arc<Evaluation>> {
        let Some(ids) = self.derived.evals_by_job.get(&job_key(namespace, job_id)) else {
            return Vec::new();
        };
        let mut evals: Vec<Arc<Evaluation>> = ids.iter().map(|id| self.evals[id].clone()).collect();
        evals.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        evals
    }

    /// An allocation by ID.
    pub fn alloc(&self, id: &str) -> Option<&Arc<Allocation>> {
        self.allocs.get(id)
    }

    /// Every allocation, in ID order.
    pub fn allocs(&self) -> impl Iterator<Item = &Arc<Allocation>> {
        let mut all: Vec<(&String, &Arc<Allocation>)> = self.allocs.iter().collect();
        all.sort_unstable_by_key(|(id, _)| *id);
        all.into_iter().map(|(_, a)| a)
    }

    /// Number of allocations (every status).
    pub fn alloc_count(&self) -> usize {
        self.allocs.len()
    }

    /// Number of jobs.
    pub fn job_count(&self) -> usize {
        self.jobs.len()
    }

    /// Number of evaluations (every status).
    pub fn eval_count(&self) -> usize {
        self.evals.len()
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// A job's allocations (every incarnation), in ID order.
    pub fn allocs_by_job(&self, namespace: &str, job_id: &str) -> Vec<Arc<Allocation>> {
        let mut out: Vec<Arc<Allocation>> = self
            .derived
            .allocs_by_job
            .get(&job_key(namespace, job_id))
            .map(|ids| ids.iter().map(|id| self.allocs[id].clone()).collect())
            .unwrap_or_default();
        out.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// A node's allocations, in ID order.
    pub fn allocs_by_node(&self, node_id: &str) -> Vec<Arc<Allocation>> {
        let mut out: Vec<Arc<Allocation>> = self
            .derived
            .allocs_by_node
            .get(node_id)
            .map(|ids| ids.iter().map(|id| self.allocs[id].clone()).collect())
            .unwrap_or_default();
        out.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// A node by ID.
    pub fn node(&self, id: &str) -> Option<&Arc<Node>> {
        self.nodes.get(id)
    }

    /// Every node, in ID order.
    pub fn nodes(&self) -> impl Iterator<Item = &Arc<Node>> {
        self.nodes.values()
    }

    /// What the node's live (non-terminal) allocations use.
    pub fn node_usage(&self, node_id: &str) -> Option<&NodeUsage> {
        self.derived.usage.get(node_id)
    }

    /// Index of the last change to a job (also its removal).
    pub fn job_index(&self, namespace: &str, id: &str) -> u64 {
        self.job_index_by_key(&job_key(namespace, id))
    }
    fn job_index_by_key(&self, key: &str) -> u64 {
        self.job_indexes.get(key).map_or(0, |i| i.job)
    }
    /// Index of the last change to a job's allocations.
    pub fn job_allocs_index(&self, namespace: &str, id: &str) -> u64 {
        self.job_indexes
            .get(&job_key(namespace, id))
            .map_or(0, |i| i.allocs)
    }
    /// Index of the last change to a job's evaluations.
    pub fn job_evals_index(&self, namespace: &str, id: &str) -> u64 {
        self.job_indexes
            .get(&job_key(namespace, id))
            .map_or(0, |i| i.evals)
    }
    /// Index of the last change to the job list.
    pub fn jobs_index(&self) -> u64 {
        self.tables.jobs
    }
    /// Index of the last change to any evaluation.
    pub fn evals_index(&self) -> u64 {
        self.tables.evals
    }
    /// Index of the last change to any allocation.
    pub fn allocs_index(&self) -> u64 {
        self.tables.allocs
    }
    /// Index of the last change to a node.
    pub fn node_index(&self, id: &str) -> u64 {
        self.node_indexes.get(id).map_or(0, |i| i.node)
    }
    /// Index of the last change to a node's allocations.
    pub fn node_allocs_index(&self, id: &str) -> u64 {
        self.node_indexes.get(id).map_or(0, |i| i.allocs)
    }
    /// Index of the last change to the node list.
    pub fn nodes_index(&self) -> u64 {
        self.tables.nodes
    }

    // ---- apply ----

    /// Applies `cmd` at `index`, which must be above [`State::index`]. On error
    /// nothing changed.
    pub fn apply(&mut self, index: u64, cmd: &Command) -> Result<Applied> {
        self.check_index(index);
        // Checks first, so that a rejected command changes nothing.
        self.check(cmd)?;
        Ok(self.transact(index, |tx| {
            tx.applied.event_type = event_type(cmd);
            tx.run(cmd)
        }))
    }

    /// [`State::apply`] for a command the caller gives up: a job, its
    /// evaluation and a plan's allocations are moved into the tables instead
    /// of copied. Same result.
    pub fn apply_owned(&mut self, index: u64, cmd: Command) -> Result<Applied> {
        self.check_index(index);
        self.check(&cmd)?;
        Ok(self.transact(index, |tx| {
            tx.applied.event_type = event_type(&cmd);
            tx.run_owned(cmd)
        }))
    }

    /// [`State::apply_owned`] for a command [`State::check`]ed at this very
    /// state: the store checks before it logs and holds its log turn until
    /// the entry applies, so checking again would find the same.
    pub(crate) fn apply_checked_owned(&mut self, index: u64, cmd: Command) -> Applied {
        self.check_index(index);
        self.transact(index, |tx| {
            tx.applied.event_type = event_type(&cmd);
            tx.run_owned(cmd)
        })
    }

    fn check_index(&self, index: u64) {
        assert!(
            index > self.index,
            "index {index} is not above the last applied index {}",
            self.index
        );
    }

    /// Runs `f` as the change at `index` (already checked) and moves the
    /// state to that index.
    fn transact(&mut self, index: u64, f: impl FnOnce(&mut Tx)) -> Applied {
        let mut tx = Tx {
            state: self,
            index,
            applied: Applied {
                index,
                ..Applied::default()
            },
            jobs_to_status: BTreeSet::new(),
        };
        f(&mut tx);
        let applied = tx.finish();
        self.index = index;
        applied
    }

    /// What [`State::apply`] would refuse `cmd` for at this state (a
    /// check-and-set that does not match, a plan that no longer fits, an
    /// object gone), decided the same way on every replica.
    pub fn check(&self, cmd: &Command) -> Result<()> {
        match cmd {
            Command::JobRegister {
                job,
                enforce_index: Some(want),
                ..
            } => self.check_enforce_index(&job.key(), *want),
            Command::JobDeregister { job_id, eval } => {
                self.require_job(&job_key(&eval.namespace, job_id))
            }
            Command::JobStability {
                namespace,
                job_id,
                version,
                ..
            } => {
                let key = job_key(namespace, job_id);
                self.require_job(&key)?;
                match self.job_version_by_key(&key, *version) {
                    Some(_) => Ok(()),
                    None => Err(Error::NotFound {
                        what: "job version",
                        id: job_version_id(job_id, *version),
                        index: self.job_index_by_key(&key),
                    }),
                }
            }
            Command::NamespaceDelete { names } => self.check_namespace_delete(names),
            Command::PlanApply { plan } => self.check_plan(plan),
            Command::NodeDeregister { node_id, .. }
            | Command::NodeUpdateStatus { node_id, .. }
            | Command::NodeUpdateDrain { node_id, .. }
            | Command::NodeUpdateEligibility { node_id, .. }
            | Command::NodeUpdateDrainStrategy { node_id, .. } => self.require_node(node_id),
            Command::AllocUpdateDesiredTransition { allocs, .. } => {
                for id in allocs {
                    if !self.allocs.contains_key(id) {
                        return Err(Error::NotFound {
                            what: "allocation",
                            id: id.clone(),
                            index: self.tables.allocs,
                        });
                    }
                }
                Ok(())
            }
            Command::AllocClientUpdate { updates, .. } => {
                for u in updates {
                    if !self.allocs.contains_key(&u.id) {
                        return Err(Error::NotFound {
                            what: "alloc",
                            id: u.id.clone(),
                            index: self.tables.allocs,
                        });
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The job of table key `key` exists (the error names its ID).
    fn require_job(&self, key: &str) -> Result<()> {
        if self.jobs.contains_key(key) {
            Ok(())
        } else {
            Err(Error::NotFound {
                what: "job",
                id: split_job_key(key).1.to_string(),
                index: self.job_index_by_key(key),
            })
        }
    }

    /// A namespace is removed only when it exists, is not `default`, and
    /// holds no job (stopped ones included: purge them first).
    fn check_namespace_delete(&self, names: &[String]) -> Result<()> {
        for name in names {
            if name == DEFAULT_NAMESPACE {
                return Err(Error::Conflict {
                    message: "the default namespace cannot be deleted".into(),
                    current_index: self.tables.namespaces,
                });
            }
            if !self.namespaces.contains_key(name) {
                return Err(Error::NotFound {
                    what: "namespace",
                    id: name.clone(),
                    index: self.tables.namespaces,
                });
            }
            let run = job_key(name, "");
            if let Some((key, _)) = self.jobs.range(run.clone()..).next() {
                if key.starts_with(&run) {
                    return Err(Error::Conflict {
                        message: format!(
                            "namespace {name:?} has jobs (job {:?}); deregister and purge them first",
                            split_job_key(key).1
                        ),
                        current_index: self.tables.namespaces,
                    });
                }
            }
        }
        Ok(())
    }

    fn require_node(&self, id: &str) -> Result<()> {
        if self.nodes.contains_key(id) {
            Ok(())
        } else {
            Err(Error::NotFound {
                what: "node",
                id: id.to_string(),
                index: self.tables.nodes,
            })
        }
    }

    fn check_enforce_index(&self, key: &str, want: u64) -> Result<()> {
        let current = self.jobs.get(key).map(|j| j.job_modify_index);
        let message = match current {
            Some(_) if want == 0 => {
                format!("Enforcing job modify index {want}: job already exists")
            }
            Some(cur) if cur != want => format!(
                "Enforcing job modify index {want}: job exists with conflicting job modify index: {cur}"
            ),
            None if want != 0 => {
                format!("Enforcing job modify index {want}: job does not exist")
            }
            _ => return Ok(()),
        };
        Err(Error::Conflict {
            message,
            current_index: current.unwrap_or(0),
        })
    }

    /// The stored allocation a placement updates in place, if any. Every
    /// allocation is in its job's (small) index, which is asked first: a new
    /// placement, the common case, then costs no search of the whole table.
    fn existing_alloc(&self, a: &Allocation) -> Option<&Arc<Allocation>> {
        self.derived
            .allocs_by_job
            .get(&a.job_key())
            .filter(|ids| ids.contains(&a.id))
            .and_then(|_| self.allocs.get(&a.id))
    }

    /// A plan is committed only if every node it places on is still
    /// schedulable and, with the plan's stops, has room for its placements.
    fn check_plan(&self, plan: &Plan) -> Result<()> {
        // The placements' job is the plan's (they are logged without it).
        if !plan.placements.is_empty() {
            let Some(job) = &plan.job else {
                return Err(Error::Conflict {
                    message: "plan places allocations but carries no job".into(),
                    current_index: 0,
                });
            };
            if let Some(a) = plan
                .placements
                .iter()
                .find(|a| a.job_id != job.id || a.namespace != job.namespace)
            {
                return Err(Error::Conflict {
                    message: format!(
                        "plan of job {:?} places allocation {} of job {:?}",
                        job.id, a.id, a.job_id
                    ),
                    current_index: 0,
                });
            }
        }
        let mut by_node: BTreeMap<&str, Vec<&Allocation>> = BTreeMap::new();
        for a in &plan.placements {
            by_node.entry(a.node_id.as_str()).or_default().push(a);
        }
        // The live allocations the plan stops on those nodes, each looked up
        // once (not once per node).
        let mut stopped: HashMap<&str, Vec<&Allocation>> = HashMap::new();
        for stop in &plan.stops {
            if let Some(a) = self.allocs.get(&stop.id) {
                if !a.is_terminal() && by_node.contains_key(a.node_id.as_str()) {
                    stopped.entry(a.node_id.as_str()).or_default().push(a);
                }
            }
        }
        for (node_id, placed) in by_node {
            let Some(node) = self.nodes.get(node_id) else {
                return Err(plan_conflict(node_id, "node does not exist"));
            };
            let mut usage = self.derived.usage.get(node_id).cloned().unwrap_or_default();
            let mut newly_placed = false;
            for a in stopped.get(node_id).into_iter().flatten() {
                usage.remove(a);
            }
            for a in &placed {
                match self.existing_alloc(a) {
                    Some(old) if old.node_id == node_id => {
                        if !old.is_terminal() {
                            usage.remove(old);
                        }
                    }
                    _ => newly_placed = true,
                }
                usage.add(a);
            }
            if newly_placed && !node.is_schedulable() {
                return Err(plan_conflict(node_id, "node is not ready or is draining"));
            }
            if let Err(dimension) = usage.fits(node) {
                return Err(plan_conflict(node_id, &dimension));
            }
        }
        Ok(())
    }
}

/// The `id` of a [`Error::NotFound`] of a job version: `<job>@v<version>`.
pub(crate) fn job_version_id(job_id: &str, version: u64) -> String {
    format!("{job_id}@v{version}")
}

/// The value at `key`, inserted empty if absent, without allocating a key
/// when it is already there (this runs for every allocation written).
/// Allocations from which [`State::rebuild`] uses a second thread.
const PARALLEL_REBUILD: usize = 20_000;

/// The allocations' IDs by job, each set sized once rather than grown.
/// The `(CreateIndex, ID)` set of a table, built sorted in one go.
fn by_create<T>(
    table: &HashMap<String, Arc<T>>,
    index: impl Fn(&T) -> u64,
) -> BTreeSet<(u64, String)> {
    let mut all: Vec<(u64, String)> = table.iter().map(|(id, x)| (index(x), id.clone())).collect();
    all.sort_unstable();
    all.into_iter().collect()
}

fn group_ids(allocs: &HashMap<String, Arc<Allocation>>) -> HashMap<String, HashSet<String>> {
    let mut groups: HashMap<(&str, &str), Vec<&String>> = HashMap::new();
    for (id, a) in allocs {
        groups
            .entry((a.namespace.as_str(), a.job_id.as_str()))
            .or_default()
            .push(id);
    }
    groups
        .into_iter()
        .map(|((ns, job), ids)| (job_key(ns, job), ids.into_iter().cloned().collect()))
        .collect()
}

/// The allocations' IDs by node (those on none left out) and what the live
/// ones use on each, in one pass: one lookup of the node per allocation.
#[allow(clippy::type_complexity)]
fn node_side(
    allocs: &HashMap<String, Arc<Allocation>>,
) -> (HashMap<String, HashSet<String>>, HashMap<String, NodeUsage>) {
    let mut nodes: HashMap<&str, (Vec<&String>, Option<NodeUsage>)> = HashMap::new();
    for (id, a) in allocs {
        let live = !a.is_terminal();
        if a.node_id.is_empty() && !live {
            continue;
        }
        let (ids, usage) = nodes.entry(a.node_id.as_str()).or_default();
        if !a.node_id.is_empty() {
            ids.push(id);
        }
        if live {
            usage.get_or_insert_with(NodeUsage::default).add(a);
        }
    }
    let (mut by_node, mut usage) = (HashMap::new(), HashMap::new());
    for (node, (ids, used)) in nodes {
        if !ids.is_empty() {
            by_node.insert(node.to_string(), ids.into_iter().cloned().collect());
        }
        if let Some(used) = used {
            usage.insert(node.to_string(), used);
        }
    }
    (by_node, usage)
}

fn entry_mut<'m, V: Default>(map: &'m mut HashMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted")
}

/// [`entry_mut`] for an ordered map.
fn ordered_entry_mut<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted")
}

/// `job`, or the stored job of its ID when that is the same job, so that
/// allocations share the job table's copy.
fn share_job(jobs: &BTreeMap<String, Arc<Job>>, job: Arc<Job>) -> Arc<Job> {
    match jobs.get(&job.key()) {
        Some(stored) if Arc::ptr_eq(stored, &job) || **stored == *job => stored.clone(),
        _ => job,
    }
}

fn plan_conflict(node_id: &str, why: &str) -> Error {
    Error::Conflict {
        message: format!("plan does not fit node {node_id}: {why}"),
        current_index: 0,
    }
}

/// The job a register of `job` at `index` stores over `existing`: `None`
/// when the spec is the same (the stored job stays as it is), else the job
/// with the indexes, version and status the register gives it. One rule for
/// apply and for a dry run ([`State::job_as_registered`]).
fn as_registered(existing: Option<&Arc<Job>>, job: Cow<'_, Job>, index: u64) -> Option<Job> {
    if existing.is_some_and(|old| old.same_spec(&job)) {
        return None;
    }
    let mut j = job.into_owned();
    j.create_index = existing.map_or(index, |o| o.create_index);
    j.modify_index = index;
    j.job_modify_index = index;
    j.version = existing.map_or(0, |o| o.version + 1);
    j.status = existing.map_or(JOB_STATUS_PENDING.to_string(), |o| o.status.clone());
    j.status_description.clear();
    Some(j)
}

/// One command being applied: every mutation goes through here so that the
/// indexes and watch keys stay in step with the tables.
struct Tx<'a> {
    state: &'a mut State,
    index: u64,
    applied: Applied,
    jobs_to_status: BTreeSet<String>,
}

impl Tx<'_> {
    fn run(&mut self, cmd: &Command) {
        match cmd {
            Command::JobRegister { job, eval, .. } => {
                self.job_register(Cow::Borrowed(job), eval.clone())
            }
            Command::JobDeregister { job_id, eval } => {
                let key = job_key(&eval.namespace, job_id);
                if let Some(old) = self.state.jobs.remove(&key) {
                    self.applied.changes.push(Change::Job(old));
                }
                self.state.job_versions.remove(&key);
                self.touch_job(&key);
                self.upsert_eval(eval.clone());
            }
            Command::EvalUpsert { evals } => self.upsert_evals(evals),
            Command::PlanApply { plan } => self.plan_apply(plan.clone()),
            Command::NodeRegister { node, evals } => {
                self.node_register(node);
                self.upsert_evals(evals);
            }
            Command::NodeDeregister { node_id, evals } => {
                if let Some(old) = self.state.nodes.remove(node_id) {
                    self.applied.changes.push(Change::Node(old));
                }
                self.touch_node(node_id);
                self.upsert_evals(evals);
            }
            Command::NodeUpdateStatus {
                node_id,
                status,
                evals,
            } => {
                self.update_node(node_id, |n| n.status = status.clone());
                self.upsert_evals(evals);
            }
            Command::NodeUpdateDrain {
                node_id,
                drain,
                evals,
            } => {
                self.update_node(node_id, |n| n.drain = *drain);
                self.upsert_evals(evals);
            }
            Command::AllocClientUpdate {
                updates,
                evals,
                time,
            } => {
                for u in updates {
                    self.client_update(u, *time);
                }
                self.upsert_evals(evals);
            }
            Command::AllocUpdateDesiredTransition {
                allocs,
                transition,
                evals,
                time,
            } => {
                for id in allocs {
                    self.desired_transition(id, transition, *time);
                }
                self.upsert_evals(evals);
            }
            Command::NodeUpdateEligibility {
                node_id,
                eligibility,
                evals,
            } => {
                self.update_node(node_id, |n| n.scheduling_eligibility = eligibility.clone());
                self.upsert_evals(evals);
            }
            Command::NodeUpdateDrainStrategy {
                node_id,
                drain_strategy,
                mark_eligible,
                migrate,
                evals,
                time,
            } => {
                self.update_node(node_id, |n| {
                    n.drain = drain_strategy.is_some();
                    n.drain_strategy = drain_strategy.clone();
                    if drain_strategy.is_some() {
                        n.scheduling_eligibility = NODE_INELIGIBLE.to_string();
                    } else if *mark_eligible {
                        n.scheduling_eligibility = NODE_ELIGIBLE.to_string();
                    }
                });
                let ask = DesiredTransition {
                    migrate: Some(true),
                    ..DesiredTransition::default()
                };
                for id in migrate {
                    self.desired_transition(id, &ask, *time);
                }
                self.upsert_evals(evals);
            }
            Command::JobStability {
                namespace,
                job_id,
                version,
                stable,
            } => self.job_stability(&job_key(namespace, job_id), *version, *stable),
            Command::NamespaceUpsert { namespaces } => {
                for n in namespaces {
                    self.namespace_upsert(n);
                }
            }
            Command::NamespaceDelete { names } => {
                for name in names {
                    self.namespace_delete(name);
                }
            }
            Command::GarbageCollect {
                evals,
                allocs,
                jobs,
            } => {
                for id in evals {
                    self.delete_eval(id);
                }
                for id in allocs {
                    self.delete_alloc(id);
                }
                for job in jobs {
                    let key = job.key();
                    // Registered again since it was chosen: it lives on.
                    if self.state.jobs.get(&key).is_some_and(|j| j.stop) {
                        if let Some(old) = self.state.jobs.remove(&key) {
                            self.applied.changes.push(Change::Job(old));
                        }
                        self.state.job_versions.remove(&key);
                        self.touch_job(&key);
                    }
                }
            }
        }
    }

    /// [`Tx::run`] for a command given up: what it carries moves into the
    /// tables.
    fn run_owned(&mut self, cmd: Command) {
        match cmd {
            Command::JobRegister { job, eval, .. } => self.job_register(Cow::Owned(job), eval),
            Command::PlanApply { plan } => self.plan_apply(plan),
            Command::EvalUpsert { evals } => {
                for e in evals {
                    self.upsert_eval(e);
                }
            }
            other => self.run(&other),
        }
    }

    fn finish(mut self) -> Applied {
        let jobs = std::mem::take(&mut self.jobs_to_status);
        for id in jobs {
            self.refresh_job_status(&id);
        }
        // The lists of every evaluation and every allocation: one key each,
        // however many rows the command wrote.
        if self.state.tables.evals == self.index {
            self.applied.keys.push(keys::evals());
        }
        if self.state.tables.allocs == self.index {
            self.applied.keys.push(keys::allocs());
        }
        self.applied.keys.sort_unstable();
        self.applied.keys.dedup();
        dedup_changes(&mut self.applied.changes);
        self.applied
    }

    // ---- indexes and keys ----

    /// `key`: the job's table key, as for every job-keyed table below.
    fn touch_job(&mut self, key: &str) {
        self.state
            .job_indexes
            .entry(key.to_string())
            .or_default()
            .job = self.index;
        self.state.tables.jobs = self.index;
        self.applied.keys.push(keys::job(key));
        self.applied.keys.push(keys::jobs());
    }

    fn touch_job_evals(&mut self, job_key: &str) {
        ordered_entry_mut(&mut self.state.job_indexes, job_key).evals = self.index;
        self.state.tables.evals = self.index;
        self.applied.keys.push(keys::job_evals(job_key));
    }

    /// Runs for every allocation a command writes (a plan writes thousands
    /// of the same job): no key is cloned for an entry that exists.
    fn touch_alloc(&mut self, a: &Allocation) {
        let job = a.job_key();
        ordered_entry_mut(&mut self.state.job_indexes, &job).allocs = self.index;
        self.state.tables.allocs = self.index;
        self.applied.keys.push(keys::alloc(&a.id));
        self.applied.keys.push(keys::job_allocs(&job));
        if !a.eval_id.is_empty() {
            self.applied.keys.push(keys::eval_allocs(&a.eval_id));
        }
        if !a.node_id.is_empty() {
            ordered_entry_mut(&mut self.state.node_indexes, &a.node_id).allocs = self.index;
            self.applied.keys.push(keys::node_allocs(&a.node_id));
        }
        if !self.jobs_to_status.contains(&job) {
            self.jobs_to_status.insert(job);
        }
    }

    fn touch_node(&mut self, id: &str) {
        self.state
            .node_indexes
            .entry(id.to_string())
            .or_default()
            .node = self.index;
        self.state.tables.nodes = self.index;
        self.applied.keys.push(keys::node(id));
        self.applied.keys.push(keys::nodes());
    }

    // ---- jobs ----

    fn job_register(&mut self, job: Cow<'_, Job>, mut eval: Evaluation) {
        let key = job.key();
        if !self.state.has_namespace(&job.namespace) {
            // The store refuses a job of a namespace that does not exist;
            // one deleted since (or a log written before namespaces) makes
            // it here, and the namespace comes back rather than the job
            // being refused on one replica's log and not on another's.
            self.namespace_upsert(&Namespace::named(&job.namespace));
        }
        let existing = self.state.jobs.get(&key).cloned();
        let job_modify_index = match as_registered(existing.as_ref(), job, self.index) {
            Some(j) => {
                let id = key;
                let j = Arc::new(j);
                self.applied.changes.push(Change::Job(j.clone()));
                if let Some(old) = self.state.jobs.insert(id.clone(), j) {
                    let keep = self.state.tracked_versions.0 - 1;
                    let kept = self.state.job_versions.entry(id.clone()).or_default();
                    kept.push_front(old);
                    kept.truncate(keep);
                    if kept.is_empty() {
                        self.state.job_versions.remove(&id);
                    }
                }
                self.touch_job(&id);
                self.index
            }
            None => existing.as_ref().map_or(0, |o| o.job_modify_index),
        };
        self.applied.job_modify_index = job_modify_index;
        eval.job_modify_index = job_modify_index;
        self.upsert_eval(eval);
    }

    /// Marks a version stable or not: the job itself (its `ModifyIndex`
    /// moves, its `JobModifyIndex` and `Version` stay, as Nomad's) or a kept
    /// version. Checked: the version exists.
    fn job_stability(&mut self, id: &str, version: u64, stable: bool) {
        let Some(job) = self.state.jobs.get(id) else {
            return;
        };
        if job.version == version {
            let mut j = (**job).clone();
            j.stable = stable;
            j.modify_index = self.index;
            let j = Arc::new(j);
            self.applied.changes.push(Change::Job(j.clone()));
            self.state.jobs.insert(id.to_string(), j);
        } else if let Some(old) = self
            .state
            .job_versions
            .get_mut(id)
            .and_then(|kept| kept.iter_mut().find(|j| j.version == version))
        {
            Arc::make_mut(old).stable = stable;
        } else {
            return;
        }
        self.touch_job(id);
    }

    // ---- namespaces ----

    fn namespace_upsert(&mut self, ns: &Namespace) {
        let mut ns = ns.clone();
        ns.create_index = self
            .state
            .namespaces
            .get(&ns.name)
            .map_or(self.index, |old| old.create_index);
        ns.modify_index = self.index;
        self.state.tables.namespaces = self.index;
        self.state.namespaces.insert(ns.name.clone(), Arc::new(ns));
        self.applied.keys.push(keys::namespaces());
    }

    fn namespace_delete(&mut self, name: &str) {
        if self.state.namespaces.remove(name).is_some() {
            self.state.tables.namespaces = self.index;
            self.applied.keys.push(keys::namespaces());
        }
    }

    /// Job status as Nomad derives it: system jobs run unless stopped; any live
    /// allocation means running; any open evaluation pending; else dead once it
    /// has had evaluations, pending before.
    fn refresh_job_status(&mut self, id: &str) {
        let Some(job) = self.state.jobs.get(id) else {
            return;
        };
        let status = if job.job_type == JOB_TYPE_SYSTEM {
            if job.stop {
                JOB_STATUS_DEAD
            } else {
                JOB_STATUS_RUNNING
            }
        } else {
            let live_alloc = self
                .state
                .derived
                .allocs_by_job
                .get(id)
                .is_some_and(|ids| ids.iter().any(|a| !self.state.allocs[a].is_terminal()));
            let evals = self.state.derived.evals_by_job.get(id);
            let open_eval = self.state.derived.open_evals.contains_key(id);
            debug_assert_eq!(
                open_eval,
                evals.is_some_and(|ids| ids.iter().any(|e| is_open(&self.state.evals[e]))),
                "open evaluations of job {id} miscounted"
            );
            if live_alloc {
                JOB_STATUS_RUNNING
            } else if open_eval {
                JOB_STATUS_PENDING
            } else if job.stop || evals.is_some_and(|e| !e.is_empty()) {
                JOB_STATUS_DEAD
            } else {
                JOB_STATUS_PENDING
            }
        };
        if job.status != status {
            let mut j = (**job).clone();
            j.status = status.to_string();
            j.modify_index = self.index;
            let j = Arc::new(j);
            self.applied.changes.push(Change::Job(j.clone()));
            self.state.jobs.insert(id.to_string(), j);
            self.touch_job(id);
        }
    }

    // ---- evaluations ----

    fn upsert_evals(&mut self, evals: &[Evaluation]) {
        for e in evals {
            self.upsert_eval(e.clone());
        }
    }

    /// Terminal statuses are absorbing: an update to a terminal evaluation is
    /// dropped.
    fn upsert_eval(&mut self, mut e: Evaluation) {
        let existing = self.state.evals.get(&e.id);
        if existing.is_some_and(|e| e.is_terminal()) {
            return;
        }
        e.create_index = existing.map_or(self.index, |o| o.create_index);
        if let Some(old) = existing {
            let old = old.clone();
            self.state.derived.queue_eval(&old, false);
        }
        let existing = self.state.evals.get(&e.id);
        match existing {
            Some(old) => {
                e.create_time = old.create_time;
                if is_open(old) {
                    count(&mut self.state.derived.open_evals, &old.job_key(), false);
                }
                if old.job_key() != e.job_key() {
                    // Moved to another job (a host's own command may do it).
                    let (old_job, id) = (old.job_key(), e.id.clone());
                    let sets = &mut self.state.derived.evals_by_job;
                    if let Some(set) = sets.get_mut(&old_job) {
                        set.remove(&id);
                        if set.is_empty() {
                            sets.remove(&old_job);
                        }
                    }
                    entry_mut(sets, &e.job_key()).insert(id);
                    self.touch_job_evals(&old_job);
                    self.jobs_to_status.insert(old_job);
                }
            }
            None => {
                entry_mut(&mut self.state.derived.evals_by_job, &e.job_key()).insert(e.id.clone());
                self.state
                    .derived
                    .evals_by_create
                    .insert((self.index, e.id.clone()));
            }
        }
        if is_open(&e) {
            count(&mut self.state.derived.open_evals, &e.job_key(), true);
        }
        e.modify_index = self.index;
        self.state.derived.queue_eval(&e, true);
        self.applied.keys.push(keys::eval(&e.id));
        self.touch_job_evals(&e.job_key());
        if !self.jobs_to_status.contains(&e.job_key()) {
            self.jobs_to_status.insert(e.job_key());
        }
        let e = Arc::new(e);
        self.applied.changes.push(Change::Eval(e.clone()));
        self.state.evals.insert(e.id.clone(), e);
    }

    fn delete_eval(&mut self, id: &str) {
        if let Some(e) = self.state.evals.remove(id) {
            self.state.derived.queue_eval(&e, false);
            self.state
                .derived
                .evals_by_create
                .remove(&(e.create_index, e.id.clone()));
            if let Some(set) = self.state.derived.evals_by_job.get_mut(&e.job_key()) {
                set.remove(id);
                if set.is_empty() {
                    self.state.derived.evals_by_job.remove(&e.job_key());
                }
            }
            if is_open(&e) {
                count(&mut self.state.derived.open_evals, &e.job_key(), false);
            }
            self.applied.keys.push(keys::eval(id));
            self.touch_job_evals(&e.job_key());
            self.jobs_to_status.insert(e.job_key());
        }
    }

    // ---- allocations ----

    /// Stores `a`, keeping the lookups and the node's usage in step.
    fn put_alloc(&mut self, a: Allocation) {
        // One walk of the (large) allocation table: insert, and get the old
        // value back.
        let a = Arc::new(a);
        self.applied.changes.push(Change::Alloc(a.clone()));
        let old = self.state.allocs.insert(a.id.clone(), a.clone());
        let d = &mut self.state.derived;
        if let Some(o) = &old {
            d.count_alloc(o, false);
        }
        d.count_alloc(&a, true);
        if old
            .as_ref()
            .is_none_or(|o| o.create_index != a.create_index)
        {
            if let Some(o) = &old {
                d.allocs_by_create.remove(&(o.create_index, o.id.clone()));
            }
            d.allocs_by_create.insert((a.create_index, a.id.clone()));
        }
        if let Some(old) = &old {
            if !old.is_terminal() {
                entry_mut(&mut d.usage, &old.node_id).remove(old);
            }
            if old.node_id != a.node_id {
                if let Some(set) = d.allocs_by_node.get_mut(&old.node_id) {
                    set.remove(&old.id);
                }
            }
            if old.job_key() != a.job_key() {
                if let Some(set) = d.allocs_by_job.get_mut(&old.job_key()) {
                    set.remove(&old.id);
                }
            }
            if old.eval_id != a.eval_id && !old.eval_id.is_empty() {
                // It leaves the old evaluation's list.
                self.applied.keys.push(keys::eval_allocs(&old.eval_id));
            }
        }
        if !a.is_terminal() {
            entry_mut(&mut d.usage, &a.node_id).add(&a);
        }
        entry_mut(&mut d.allocs_by_job, &a.job_key()).insert(a.id.clone());
        if !a.node_id.is_empty() {
            entry_mut(&mut d.allocs_by_node, &a.node_id).insert(a.id.clone());
        }
        self.touch_alloc(&a);
    }

    fn delete_alloc(&mut self, id: &str) {
        let Some(a) = self.state.allocs.remove(id) else {
            return;
        };
        let d = &mut self.state.derived;
        d.count_alloc(&a, false);
        d.allocs_by_create.remove(&(a.create_index, a.id.clone()));
        if !a.is_terminal() {
            d.usage.entry(a.node_id.clone()).or_default().remove(&a);
        }
        for map in [&mut d.allocs_by_job] {
            if let Some(set) = map.get_mut(&a.job_key()) {
                set.remove(id);
                if set.is_empty() {
                    map.remove(&a.job_key());
                }
            }
        }
        if let Some(set) = d.allocs_by_node.get_mut(&a.node_id) {
            set.remove(id);
            if set.is_empty() {
                d.allocs_by_node.remove(&a.node_id);
            }
        }
        self.touch_alloc(&a);
    }

    fn plan_apply(&mut self, plan: Plan) {
        for stop in &plan.stops {
            let Some(old) = self.state.allocs.get(&stop.id) else {
                continue;
            };
            let mut a = (**old).clone();
            a.desired_status = stop.desired_status;
            a.desired_description = stop.desired_description.clone();
            if let Some(cs) = &stop.client_status {
                a.client_status = *cs;
            }
            if !stop.next_allocation.is_empty() {
                a.next_allocation = stop.next_allocation.clone();
            }
            a.modify_index = self.index;
            a.alloc_modify_index = self.index;
            a.modify_time = plan.time;
            self.put_alloc(a);
        }
        // Every placement runs the plan's job; the stored job is shared when
        // it is the same one (it is, unless the job changed since the plan
        // was made), so that a replayed log holds one copy as the leader does.
        let job = plan.job.map(|j| share_job(&self.state.jobs, j));
        for mut a in plan.placements {
            if let Some(job) = &job {
                a.job = job.clone();
            }
            match self.state.existing_alloc(&a) {
                // An in-place update keeps what the client reported.
                Some(old) => {
                    a.create_index = old.create_index;
                    a.create_time = old.create_time;
                    a.client_status = old.client_status;
                    a.client_description = old.client_description.clone();
                    a.task_states = old.task_states.clone();
                }
                None => {
                    a.create_index = self.index;
                    a.create_time = plan.time;
                }
            }
            a.modify_index = self.index;
            a.alloc_modify_index = self.index;
            a.modify_time = plan.time;
            self.put_alloc(a);
        }
        for e in plan.evals {
            self.upsert_eval(e);
        }
    }

    /// Merges `t` into an allocation's `DesiredTransition` (the fields it
    /// sets; the others stay).
    fn desired_transition(&mut self, id: &str, t: &DesiredTransition, time: i64) {
        let Some(old) = self.state.allocs.get(id) else {
            return;
        };
        let mut a = (**old).clone();
        let d = &mut a.desired_transition;
        for (to, from) in [
            (&mut d.migrate, t.migrate),
            (&mut d.reschedule, t.reschedule),
            (&mut d.force_reschedule, t.force_reschedule),
            (&mut d.no_shutdown_delay, t.no_shutdown_delay),
        ] {
            if from.is_some() {
                *to = from;
            }
        }
        a.modify_index = self.index;
        a.modify_time = time;
        self.put_alloc(a);
    }

    fn client_update(&mut self, u: &AllocClientUpdate, time: i64) {
        let Some(old) = self.state.allocs.get(&u.id) else {
            return;
        };
        let mut a = (**old).clone();
        // Complete, failed and lost are final: the allocation's node room
        // was given back and its name may already run elsewhere, so a late
        // report cannot bring it back to life.
        // The update was checked when it was proposed; a status this ordu
        // does not know (an entry from a newer one) leaves the stored one.
        if let Some(status) = AllocClientStatus::parse(&u.client_status) {
            if !a.client_terminal() {
                a.client_status = status;
            }
        }
        a.client_description = u.client_description.clone();
        if u.task_states.is_some() {
            a.task_states = u.task_states.clone();
        }
        a.modify_index = self.index;
        a.modify_time = time;
        self.put_alloc(a);
    }

    // ---- nodes ----

    fn node_register(&mut self, node: &Node) {
        let mut n = node.clone();
        if let Some(old) = self.state.nodes.get(&n.id) {
            n.create_index = old.create_index;
            // Server-owned: a client's re-registration keeps them.
            n.drain = old.drain;
            n.drain_strategy = old.drain_strategy.clone();
            if !old.scheduling_eligibility.is_empty() {
                n.scheduling_eligibility = old.scheduling_eligibility.clone();
            }
        } else {
            n.create_index = self.index;
        }
        if n.status.is_empty() {
            n.status = NodeStatus::Initializing.to_string();
        }
        n.modify_index = self.index;
        let n = Arc::new(n);
        self.applied.changes.push(Change::Node(n.clone()));
        self.state.nodes.insert(n.id.clone(), n);
        self.touch_node(&node.id);
    }

    fn update_node(&mut self, id: &str, f: impl FnOnce(&mut Node)) {
        let Some(old) = self.state.nodes.get(id) else {
            return;
        };
        let mut n = (**old).clone();
        f(&mut n);
        n.modify_index = self.index;
        let n = Arc::new(n);
        self.applied.changes.push(Change::Node(n.clone()));
        self.state.nodes.insert(id.to_string(), n);
        self.touch_node(id);
    }
}
