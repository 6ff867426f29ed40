//! The state machine: tables of jobs, evaluations, allocations and nodes, their
//! indexes, and [`State::apply`].
//!
//! `apply` is pure: no clock, no randomness, no I/O. Every ID and time a command
//! needs is already in it, so the same commands at the same indexes give the same
//! state, byte for byte ([`State::snapshot`]), on every replica. A command that is
//! rejected (a check-and-set conflict, a plan that no longer fits) changes nothing.

mod apply;
mod key;
mod lists;
mod reads;
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

use apply::{as_registered, Tx};

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
