//! The system scheduler: one allocation of each group on every feasible node
//! (reference §5.5). The diff runs per node; placements are pinned to their
//! node; allocations on tainted or no longer feasible nodes are stopped, not
//! moved. Every allocation of a group is named `<job>.<group>[0]`, as Nomad
//! names them: the identity is the name on a node.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::feasible::{in_datacenters, Datacenters, Verdict};
use super::rank::Rng;
use super::reconcile::{alloc_taint, current_version, taint, Taint};
use super::{
    nodes_available, Builder, Context, GroupPlan, DESC_LOST, DESC_MIGRATING, DESC_NOT_NEEDED,
    DESC_UPDATING,
};
use crate::state::State;
use crate::structs::regexp::Regexes;
use crate::structs::{
    alloc_name, AllocClientStatus, AllocMetric, Allocation, Evaluation, Job, Node, Plan,
};

pub(super) fn process(
    state: &State,
    eval: &Evaluation,
    job: Option<Arc<Job>>,
    ctx: &mut Context<'_>,
) -> Plan {
    let job = job.filter(|j| !j.stop);
    let allocs = state.allocs_by_job(&eval.namespace, &eval.job_id);
    let live: Vec<Arc<Allocation>> = allocs
        .iter()
        .filter(|a| !a.is_terminal())
        .cloned()
        .collect();
    let mut b = Builder::new(state, eval, job.clone(), &live, ctx.now);
    let Some(job) = job else {
        for a in &live {
            b.stop(a, DESC_NOT_NEEDED, None);
        }
        return b.finish(BTreeMap::new(), BTreeMap::new(), false, ctx.new_id);
    };
    let mut rng = Rng::new(ctx.seed);
    // Every node in the job's datacenters that takes work, in ID order.
    let dcs = Datacenters::new(&job);
    let nodes: Vec<&Arc<Node>> = state
        .nodes()
        .filter(|n| n.is_schedulable() && dcs.contains(n))
        .collect();
    let position: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    b.reserve(nodes.len(), nodes.len() * job.task_groups.len());
    let mut regexes = Regexes::default();
    let mut groups: Vec<GroupPlan> = (0..job.task_groups.len())
        .map(|g| GroupPlan::new(&job, g, nodes.len(), &mut regexes))
        .collect();

    // The live allocations per (node, group); extras and strays are stopped.
    let mut existing: BTreeMap<(&str, usize), &Arc<Allocation>> = BTreeMap::new();
    let mut destructive: Vec<(usize, Arc<Allocation>)> = Vec::new();
    let mut sorted: Vec<&Arc<Allocation>> = live.iter().collect();
    sorted.sort_by_key(|a| (a.create_index, a.id.clone()));
    for a in sorted {
        let Some(gi) = job.task_groups.iter().position(|g| g.name == a.task_group) else {
            b.stop(a, DESC_NOT_NEEDED, None);
            continue;
        };
        // A stopped allocation (marked to migrate) on a node still taking
        // work is stopped here and placed again by the loop below.
        match alloc_taint(taint(state, &a.node_id, true), a) {
            Taint::Down => {
                b.stop(a, DESC_LOST, Some(AllocClientStatus::Lost));
                continue;
            }
            Taint::Migrate => {
                b.stop(a, DESC_MIGRATING, None);
                continue;
            }
            Taint::None => {}
        }
        // A node that is not taking new work but is not tainted either
        // (initializing again) keeps what runs there, as long as the job may
        // still use it.
        let feasible = match position.get(a.node_id.as_str()) {
            Some(&i) => groups[gi].verdict(i, nodes[i]) == Verdict::Feasible,
            None => state.node(&a.node_id).is_some_and(|n| {
                in_datacenters(&job, n) && groups[gi].checker.check(n) == Verdict::Feasible
            }),
        };
        if !feasible || existing.contains_key(&(a.node_id.as_str(), gi)) {
            b.stop(a, DESC_NOT_NEEDED, None);
            continue;
        }
        existing.insert((a.node_id.as_str(), gi), a);
        if !current_version(a, &job) && !b.try_inplace(a, &groups[gi]) {
            destructive.push((gi, a.clone()));
        }
    }

    let mut budget = if job.update.max_parallel > 0 {
        job.update.max_parallel as usize
    } else {
        usize::MAX
    };
    let mut left_over = 0usize;
    let mut replaced = 0usize;
    let mut failed: BTreeMap<String, AllocMetric> = BTreeMap::new();
    let mut queued: BTreeMap<String, i64> = job
        .task_groups
        .iter()
        .map(|g| (g.name.clone(), 0))
        .collect();

    // (node position, group, allocation replaced destructively)
    let mut places: Vec<(usize, usize, Option<Arc<Allocation>>)> = Vec::new();
    for (gi, old) in destructive {
        if budget == 0 {
            left_over += 1;
            continue;
        }
        budget -= 1;
        if let Some(&i) = position.get(old.node_id.as_str()) {
            places.push((i, gi, Some(old)));
        }
    }
    for (i, node) in nodes.iter().enumerate() {
        for (gi, gp) in groups.iter_mut().enumerate() {
            if existing.contains_key(&(node.id.as_str(), gi)) {
                continue;
            }
            if gp.verdict(i, node) != Verdict::Feasible {
                continue;
            }
            places.push((i, gi, None));
        }
    }
    places.sort_by_key(|(i, gi, _)| (*i, *gi));

    for (i, gi, previous) in places {
        let node = nodes[i];
        let gp = &mut groups[gi];
        if let Some(prev) = &previous {
            b.stop_tentatively(prev, DESC_UPDATING);
        }
        let mut metric = AllocMetric::default();
        let verdict = gp.verdict(i, node);
        match b.try_node(node, verdict, gp, &mut metric, &mut rng) {
            Some(fit) => {
                metric
                    .scores
                    .insert(format!("{}.binpack", node.id), fit.binpack);
                let name = alloc_name(&job.id, &gp.name, 0);
                let mut a = b.new_alloc((ctx.new_id)(), name, node, gp, fit, metric);
                if let Some(prev) = &previous {
                    a.previous_allocation = prev.id.clone();
                    b.link_next(&prev.id, &a.id);
                    replaced += 1;
                }
                b.place_new(a, node, gp);
            }
            None => {
                if let Some(prev) = &previous {
                    b.unstop(prev);
                }
                *queued.entry(gp.name.clone()).or_default() += 1;
                match failed.get_mut(&gp.name) {
                    Some(m) => {
                        m.coalesced_failures += 1;
                        m.nodes_evaluated += metric.nodes_evaluated;
                        m.nodes_filtered += metric.nodes_filtered;
                        m.nodes_exhausted += metric.nodes_exhausted;
                        for (k, v) in metric.dimension_exhausted {
                            *m.dimension_exhausted.entry(k).or_default() += v;
                        }
                        for (k, v) in metric.constraint_filtered {
                            *m.constraint_filtered.entry(k).or_default() += v;
                        }
                        for (k, v) in metric.class_exhausted {
                            *m.class_exhausted.entry(k).or_default() += v;
                        }
                    }
                    None => {
                        metric.nodes_available = nodes_available(&nodes);
                        failed.insert(gp.name.clone(), metric);
                    }
                }
            }
        }
    }
    if !failed.is_empty() && job.all_at_once && b.placed() > 0 {
        b.abandon_placements();
        replaced = 0;
    }
    let follow_up = left_over > 0 && replaced > 0;
    b.finish(failed, queued, follow_up, ctx.new_id)
}
