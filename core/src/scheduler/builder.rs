//! Building a plan: the stops and placements of one scheduler run, and what
//! they do to each node's usage and to the job's allocation counts per node,
//! so that later placements of the same evaluation see the earlier ones.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::state::{NodeUsage, State};
use crate::structs::{
    AllocClientStatus, AllocDesiredStatus, AllocMetric, AllocStop, Allocation, EvalStatus,
    Evaluation, Job, Node, Plan, Resources, TRIGGER_QUEUED_ALLOCS, TRIGGER_ROLLING_UPDATE,
};

use super::feasible::{self, Verdict, DISTINCT_HOSTS};
use super::group::{tasks_updated, GroupPlan};
use super::rank::{self, Rng};
use super::DESC_BLOCKED;

/// A multiply-rotate hasher for the scheduler's own maps, keyed by node
/// addresses and small integers: no string hashing on the hot path.
#[derive(Default)]
pub(crate) struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// The identity of a node within one scheduler run: its address in the
/// state being read, which does not change while the run borrows it.
fn node_key(node: &Node) -> usize {
    node as *const Node as usize
}

/// Counts of the job's allocations per node and group; this group index
/// stands for "every group".
const ALL_GROUPS: u32 = u32::MAX;

/// Usage of a node nothing runs on.
static NO_USAGE: NodeUsage = NodeUsage {
    cpu: 0,
    memory_mb: 0,
    disk_mb: 0,
    iops: 0,
    mbits: BTreeMap::new(),
    ports: BTreeMap::new(),
    allocs: 0,
};

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

/// A node that survived the filters and fits.
pub(crate) struct Fit {
    /// Assigned network per task, when the group asks for networks.
    pub(crate) nets: Option<BTreeMap<String, Resources>>,
    pub(crate) binpack: f64,
    pub(crate) penalty: Option<f64>,
}

/// The plan being built: stops and placements, and what they do to each
/// node's usage and to the job's allocation counts per node, so that later
/// placements of the same evaluation see the earlier ones.
pub(crate) struct Builder<'s> {
    pub(crate) state: &'s State,
    pub(crate) eval: &'s Evaluation,
    pub(crate) job: Option<Arc<Job>>,
    now: i64,
    stops: Vec<(AllocStop, bool)>,
    stop_pos: HashMap<String, usize>,
    tentative: Vec<String>,
    placements: Vec<Allocation>,
    /// Per node (by [`node_key`]) looked at: its usage as the state has it.
    base: FastMap<usize, &'s NodeUsage>,
    /// Per node the plan changed: its usage with the plan so far.
    changed: FastMap<usize, NodeUsage>,
    /// Per (node, group index or [`ALL_GROUPS`]): the job's live allocations
    /// with the plan so far.
    counts: FastMap<(usize, u32), u32>,
}

impl<'s> Builder<'s> {
    pub(crate) fn new(
        state: &'s State,
        eval: &'s Evaluation,
        job: Option<Arc<Job>>,
        live: &[Arc<Allocation>],
        now: i64,
    ) -> Self {
        let mut b = Builder {
            state,
            eval,
            job,
            now,
            stops: Vec::new(),
            stop_pos: HashMap::new(),
            tentative: Vec::new(),
            placements: Vec::new(),
            base: FastMap::default(),
            changed: FastMap::default(),
            counts: FastMap::default(),
        };
        for a in live {
            b.count_add(a, 1);
        }
        b
    }

    /// Sizes the bookkeeping for `nodes` candidate nodes and `placements`
    /// placements, so that it does not rehash while the plan grows.
    pub(crate) fn reserve(&mut self, nodes: usize, placements: usize) {
        self.base.reserve(nodes);
        self.placements.reserve(placements);
        self.counts
            .reserve(placements.saturating_mul(2).min(nodes.saturating_mul(2)));
    }

    /// What the node uses with the plan so far.
    pub(crate) fn usage(&mut self, node: &'s Node) -> &NodeUsage {
        let key = node_key(node);
        if self.changed.contains_key(&key) {
            return &self.changed[&key];
        }
        self.base_usage(node)
    }

    fn base_usage(&mut self, node: &'s Node) -> &'s NodeUsage {
        let state = self.state;
        self.base
            .entry(node_key(node))
            .or_insert_with(|| state.node_usage(&node.id).unwrap_or(&NO_USAGE))
    }

    /// The node's usage to change; `None` for a node no longer in the state
    /// (nothing can be placed there, so its usage does not matter).
    fn usage_mut(&mut self, node_id: &str) -> Option<&mut NodeUsage> {
        let node = self.state.node(node_id)?;
        Some(self.usage_mut_at(node))
    }

    fn usage_mut_at(&mut self, node: &'s Node) -> &mut NodeUsage {
        let key = node_key(node);
        if !self.changed.contains_key(&key) {
            let base = self.base_usage(node).clone();
            self.changed.insert(key, base);
        }
        self.changed.get_mut(&key).expect("inserted")
    }

    fn group_index(&self, name: &str) -> Option<u32> {
        let job = self.job.as_ref()?;
        job.task_groups
            .iter()
            .position(|g| g.name == name)
            .map(|i| i as u32)
    }

    fn count_add(&mut self, a: &Allocation, delta: i32) {
        let Some(node) = self.state.node(&a.node_id) else {
            return;
        };
        let group = self.group_index(&a.task_group);
        self.count_add_at(node, group, delta);
    }

    fn count_add_at(&mut self, node: &Node, group: Option<u32>, delta: i32) {
        let key = node_key(node);
        for g in std::iter::once(ALL_GROUPS).chain(group) {
            let n = self.counts.entry((key, g)).or_default();
            *n = n.saturating_add_signed(delta);
        }
    }

    /// Allocations of the job on the node with the plan so far: of the group
    /// at `group`, or of every group ([`ALL_GROUPS`]).
    pub(crate) fn count(&self, node: &Node, group: u32) -> u32 {
        self.counts
            .get(&(node_key(node), group))
            .copied()
            .unwrap_or(0)
    }

    /// Stops `a` (once).
    pub(crate) fn stop(
        &mut self,
        a: &Allocation,
        desc: &str,
        client_status: Option<AllocClientStatus>,
    ) {
        if self.stop_pos.contains_key(&a.id) {
            return;
        }
        self.stop_pos.insert(a.id.clone(), self.stops.len());
        self.stops.push((
            AllocStop {
                id: a.id.clone(),
                desired_status: AllocDesiredStatus::Stop,
                desired_description: desc.to_string(),
                client_status,
                next_allocation: String::new(),
            },
            true,
        ));
        if !a.is_terminal() {
            if let Some(u) = self.usage_mut(&a.node_id) {
                u.remove(a);
            }
            self.count_add(a, -1);
        }
    }

    /// Stops `a` only if its replacement is placed (see [`Builder::unstop`]).
    pub(crate) fn stop_tentatively(&mut self, a: &Allocation, desc: &str) {
        self.stop(a, desc, None);
        self.tentative.push(a.id.clone());
    }

    /// Backs out a tentative stop whose replacement found no node.
    pub(crate) fn unstop(&mut self, a: &Allocation) {
        if let Some(pos) = self.stop_pos.remove(&a.id) {
            self.stops[pos].1 = false;
            if !a.is_terminal() {
                if let Some(u) = self.usage_mut(&a.node_id) {
                    u.add(a);
                }
                self.count_add(a, 1);
            }
        }
    }

    /// Records on a stopped allocation the one replacing it.
    pub(crate) fn link_next(&mut self, old: &str, new: &str) {
        if let Some(&pos) = self.stop_pos.get(old) {
            self.stops[pos].0.next_allocation = new.to_string();
        }
    }

    /// Adds a placement (new, or an in-place update of `replaces`).
    pub(crate) fn place(&mut self, a: Allocation, replaces: Option<&Allocation>) {
        if let Some(old) = replaces {
            if !old.is_terminal() {
                if let Some(u) = self.usage_mut(&old.node_id) {
                    u.remove(old);
                }
                self.count_add(old, -1);
            }
        }
        if let Some(u) = self.usage_mut(&a.node_id) {
            u.add(&a);
        }
        self.count_add(&a, 1);
        self.placements.push(a);
    }

    /// Adds a new allocation of group `gp` on `node` (which it names).
    pub(crate) fn place_new(&mut self, a: Allocation, node: &'s Node, gp: &GroupPlan) {
        self.usage_mut_at(node).add(&a);
        self.count_add_at(node, Some(gp.index), 1);
        self.placements.push(a);
    }

    /// Number of placements so far.
    pub(crate) fn placed(&self) -> usize {
        self.placements.len()
    }

    /// `AllAtOnce` with something unplaced: drops every placement and the
    /// stops that only made room for them.
    pub(crate) fn abandon_placements(&mut self) {
        self.placements.clear();
        for id in std::mem::take(&mut self.tentative) {
            if let Some(pos) = self.stop_pos.remove(&id) {
                self.stops[pos].1 = false;
            }
        }
        for (s, _) in &mut self.stops {
            s.next_allocation.clear();
        }
    }

    /// Tries one node for a group: `distinct_hosts`, then fit and score.
    /// Counts the outcome into `metric`.
    pub(crate) fn try_node(
        &mut self,
        node: &'s Node,
        verdict: Verdict,
        gp: &GroupPlan,
        metric: &mut AllocMetric,
        rng: &mut Rng,
    ) -> Option<Fit> {
        metric.nodes_evaluated += 1;
        let reason = match verdict {
            Verdict::Filtered(r) => Some(gp.checker.reason(r)),
            Verdict::Feasible => {
                let distinct = (gp.checker.distinct_job && self.count(node, ALL_GROUPS) > 0)
                    || (gp.checker.distinct_group && self.count(node, gp.index) > 0);
                distinct.then_some(DISTINCT_HOSTS)
            }
        };
        if let Some(reason) = reason {
            metric.nodes_filtered += 1;
            if !node.node_class.is_empty() {
                bump(&mut metric.class_filtered, &node.node_class);
            }
            bump(&mut metric.constraint_filtered, reason);
            return None;
        }
        let collisions = self.count(node, gp.index);
        let used = self.usage(node);
        let nets = if gp.ask.networked {
            rank::fit(node, used, &gp.ask, rng).map(Some)
        } else {
            rank::fit_scalars(node, used, &gp.ask.total).map(|_| None)
        };
        match nets {
            Err(dimension) => {
                metric.nodes_exhausted += 1;
                if !node.node_class.is_empty() {
                    bump(&mut metric.class_exhausted, &node.node_class);
                }
                bump(&mut metric.dimension_exhausted, &dimension);
                None
            }
            Ok(nets) => Some(Fit {
                nets,
                binpack: rank::binpack(
                    node,
                    used.cpu + gp.ask.total.cpu,
                    used.memory_mb + gp.ask.total.memory_mb,
                ),
                penalty: rank::anti_affinity(collisions, gp.count),
            }),
        }
    }

    /// A new allocation of group `gp` named `name` on `node`.
    pub(crate) fn new_alloc(
        &self,
        id: String,
        name: String,
        node: &Node,
        gp: &GroupPlan,
        fit: Fit,
        metric: AllocMetric,
    ) -> Allocation {
        let job = self.job.as_ref().expect("placements need a job");
        let task_resources = match fit.nets {
            Some(t) => Arc::new(t),
            None => gp.ask.plain.clone(),
        };
        Allocation {
            id,
            namespace: job.namespace.clone(),
            eval_id: self.eval.id.clone(),
            name,
            node_id: node.id.clone(),
            node_name: node.name.clone(),
            job_id: job.id.clone(),
            job: job.clone(),
            task_group: gp.name.clone(),
            resources: gp.ask.total.clone(),
            task_resources,
            metrics: Arc::new(placed_metric(metric)),
            desired_status: AllocDesiredStatus::Run,
            desired_description: String::new(),
            desired_transition: Default::default(),
            client_status: AllocClientStatus::Pending,
            client_description: String::new(),
            task_states: None,
            previous_allocation: String::new(),
            next_allocation: String::new(),
            create_index: 0,
            modify_index: 0,
            alloc_modify_index: 0,
            create_time: 0,
            modify_time: 0,
        }
    }

    /// Tries to update `old` in place to group `gp` of the current job: only
    /// when nothing but resources changed and the new ask fits its node with
    /// the old one's resources given back. Returns false when the update must
    /// be destructive.
    pub(crate) fn try_inplace(&mut self, old: &Arc<Allocation>, gp: &GroupPlan) -> bool {
        let job = self.job.clone().expect("updates need a job");
        let Some(new_group) = job.group(&gp.name) else {
            return false;
        };
        let Some(old_group) = old.job.group(&old.task_group) else {
            return false;
        };
        if tasks_updated(old_group, new_group) {
            return false;
        }
        let state = self.state;
        let Some(node) = state.node(&old.node_id) else {
            return false;
        };
        // The node must still be one the job may use: its datacenters or
        // constraints may be what changed.
        if !feasible::in_datacenters(&job, node) || gp.checker.check(node) != Verdict::Feasible {
            return false;
        }
        let used = self.usage(node);
        let delta = Resources {
            cpu: gp.ask.total.cpu - old.resources.cpu,
            memory_mb: gp.ask.total.memory_mb - old.resources.memory_mb,
            disk_mb: gp.ask.total.disk_mb - old.resources.disk_mb,
            iops: gp.ask.total.iops - old.resources.iops,
            ..Resources::default()
        };
        if rank::fit_scalars(node, used, &delta).is_err() {
            return false;
        }
        let mut a = (**old).clone();
        a.eval_id = self.eval.id.clone();
        a.job = job.clone();
        a.resources = gp.ask.total.clone();
        a.task_resources = if gp.ask.networked {
            Arc::new(
                gp.ask
                    .tasks
                    .iter()
                    .map(|(name, r)| {
                        let mut r = r.clone();
                        // The networks are unchanged: keep the address and ports.
                        if let Some(assigned) = old.task_resources.get(name) {
                            r.networks = assigned.networks.clone();
                        }
                        (name.clone(), r)
                    })
                    .collect(),
            )
        } else {
            gp.ask.plain.clone()
        };
        a.desired_status = AllocDesiredStatus::Run;
        a.desired_description.clear();
        let old_alloc = old.clone();
        self.place(a, Some(&old_alloc));
        true
    }

    /// A new evaluation of this job, created by this run.
    pub(crate) fn new_eval(&self, id: String, status: EvalStatus, trigger: &str) -> Evaluation {
        let e = self.eval;
        Evaluation {
            id,
            namespace: e.namespace.clone(),
            priority: e.priority,
            eval_type: e.eval_type.clone(),
            triggered_by: trigger.to_string(),
            job_id: e.job_id.clone(),
            job_modify_index: self
                .job
                .as_ref()
                .map_or(e.job_modify_index, |j| j.job_modify_index),
            status,
            previous_eval: e.id.clone(),
            create_time: self.now,
            modify_time: self.now,
            ..Evaluation::default()
        }
    }

    /// The evaluation ends `failed` with `why`; nothing changes.
    pub(crate) fn fail(self, why: &str) -> Plan {
        let mut done = self.eval.clone();
        done.status = EvalStatus::Failed;
        done.status_description = why.to_string();
        done.modify_time = self.now;
        done.snapshot_index = self.state.index();
        Plan {
            eval_id: self.eval.id.clone(),
            job: self.job.clone(),
            evals: vec![done],
            time: self.now,
            ..Plan::default()
        }
    }

    /// Builds the plan: the processed evaluation completes (or blocks again,
    /// if it was a blocked one and something is still unplaced), with a new
    /// blocked evaluation for what could not be placed and a rolling-update
    /// follow-up when the update limit left work over.
    pub(crate) fn finish(
        self,
        failed: BTreeMap<String, AllocMetric>,
        queued: BTreeMap<String, i64>,
        follow_up: bool,
        new_id: &mut dyn FnMut() -> String,
    ) -> Plan {
        let mut done = self.eval.clone();
        done.status = EvalStatus::Complete;
        done.status_description.clear();
        done.modify_time = self.now;
        done.snapshot_index = self.state.index();
        let mut evals = Vec::new();
        if follow_up {
            let mut next = self.new_eval(new_id(), EvalStatus::Pending, TRIGGER_ROLLING_UPDATE);
            next.wait = self.job.as_ref().map_or(0, |j| j.update.stagger.max(0));
            done.next_eval = next.id.clone();
            evals.push(next);
        }
        if !failed.is_empty() {
            if self.eval.status == EvalStatus::Blocked {
                done.status = EvalStatus::Blocked;
            } else {
                let mut blocked =
                    self.new_eval(new_id(), EvalStatus::Blocked, TRIGGER_QUEUED_ALLOCS);
                blocked.status_description = DESC_BLOCKED.to_string();
                done.blocked_eval = blocked.id.clone();
                evals.push(blocked);
            }
        }
        done.failed_tg_allocs = failed;
        done.queued_allocations = queued;
        evals.insert(0, done);
        Plan {
            eval_id: self.eval.id.clone(),
            job: self.job.clone(),
            all_at_once: self.job.as_ref().is_some_and(|j| j.all_at_once),
            stops: self
                .stops
                .into_iter()
                .filter_map(|(s, live)| live.then_some(s))
                .collect(),
            placements: self.placements,
            evals,
            time: self.now,
        }
    }
}

/// The metrics a placed allocation keeps: the counts and its node's scores.
/// The per-reason breakdowns (which constraint, which dimension, which
/// class) are kept whole where they explain something, on the evaluation's
/// `FailedTGAllocs`; on a million placed allocations they would cost
/// hundreds of megabytes for what the counts already say.
pub(crate) fn placed_metric(m: AllocMetric) -> AllocMetric {
    AllocMetric {
        nodes_evaluated: m.nodes_evaluated,
        nodes_filtered: m.nodes_filtered,
        nodes_exhausted: m.nodes_exhausted,
        scores: m.scores,
        allocation_time: m.allocation_time,
        ..AllocMetric::default()
    }
}

/// Ready nodes per datacenter among the candidates, for failure metrics.
pub(crate) fn nodes_available(nodes: &[&Arc<Node>]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for n in nodes {
        bump(&mut out, &n.datacenter);
    }
    out
}
