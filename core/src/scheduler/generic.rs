//! The generic scheduler of `service` and `batch` jobs (reference §5.4 with
//! MODERN's failure reporting): reconcile, update in place where possible,
//! limit destructive changes to `Update.MaxParallel`, then place each name on
//! the best of a limited number of randomly ordered candidates.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::feasible::Datacenters;
use super::rank::{candidate_limit, final_score, Rng};
use super::reconcile::{self, Placement};
use super::{nodes_available, Builder, Context, GroupPlan, DESC_MIGRATING, DESC_UPDATING};
use crate::state::State;
use crate::structs::regexp::Regexes;
use crate::structs::{AllocMetric, Evaluation, Job, Node, Plan, JOB_TYPE_BATCH};

/// The shuffled candidate nodes of one evaluation and the cursor that carries
/// over from one placement to the next (Nomad's round-robin effect).
struct Candidates<'s> {
    nodes: Vec<&'s Arc<Node>>,
    cursor: usize,
    limit: usize,
}

pub(super) fn process(
    state: &State,
    eval: &Evaluation,
    job: Option<Arc<Job>>,
    ctx: &mut Context<'_>,
) -> Plan {
    let job = job.filter(|j| !j.stop);
    let allocs = state.allocs_by_job(&eval.namespace, &eval.job_id);
    let live: Vec<_> = allocs
        .iter()
        .filter(|a| !a.is_terminal())
        .cloned()
        .collect();
    let mut b = Builder::new(state, eval, job.clone(), &live, ctx.now);
    let rec = reconcile::generic(state, job.as_deref(), &allocs);
    for (a, desc, cs) in &rec.stops {
        b.stop(a, desc, *cs);
    }
    let Some(job) = job else {
        return b.finish(BTreeMap::new(), BTreeMap::new(), false, ctx.new_id);
    };
    if rec.place.is_empty() && rec.updates.is_empty() && rec.migrate.is_empty() {
        // Nothing to place, update or move (a re-register of an unchanged
        // job): no candidate nodes to list, nothing queued.
        let queued = job
            .task_groups
            .iter()
            .map(|g| (g.name.clone(), 0))
            .collect();
        return b.finish(BTreeMap::new(), queued, false, ctx.new_id);
    }

    let mut rng = Rng::new(ctx.seed);
    let dcs = Datacenters::new(&job);
    let mut nodes: Vec<&Arc<Node>> = state
        .nodes()
        .filter(|n| n.is_schedulable() && dcs.contains(n))
        .collect();
    rng.shuffle(&mut nodes);
    let batch = job.job_type == JOB_TYPE_BATCH;
    let mut cands = Candidates {
        limit: candidate_limit(batch, nodes.len()),
        nodes,
        cursor: 0,
    };
    let placements: usize = job
        .task_groups
        .iter()
        .map(|g| g.count.max(0) as usize)
        .sum();
    b.reserve(cands.nodes.len(), placements);
    let mut regexes = Regexes::default();
    let mut groups: Vec<GroupPlan> = (0..job.task_groups.len())
        .map(|g| GroupPlan::new(&job, g, cands.nodes.len(), &mut regexes))
        .collect();

    // Updates: in place where the change allows and the node has room,
    // destructive otherwise.
    let mut destructive = Vec::new();
    for (gi, old) in &rec.updates {
        if !b.try_inplace(old, &groups[*gi]) {
            destructive.push((*gi, old.clone()));
        }
    }

    // Migrations, then destructive updates, at most MaxParallel of them.
    let mut budget = if job.update.max_parallel > 0 {
        job.update.max_parallel as usize
    } else {
        usize::MAX
    };
    let mut left_over = 0usize;
    let mut places = rec.place;
    let limited = rec
        .migrate
        .iter()
        .map(|(gi, a)| (*gi, a, DESC_MIGRATING))
        .chain(destructive.iter().map(|(gi, a)| (*gi, a, DESC_UPDATING)));
    for (gi, a, desc) in limited {
        if budget == 0 {
            left_over += 1;
            continue;
        }
        budget -= 1;
        places.push(Placement {
            group: gi,
            name: a.name.clone(),
            previous: Some(a.clone()),
            stop_previous: Some(desc),
        });
    }

    let mut failed: BTreeMap<String, AllocMetric> = BTreeMap::new();
    let mut queued: BTreeMap<String, i64> = job
        .task_groups
        .iter()
        .map(|g| (g.name.clone(), 0))
        .collect();
    let mut replaced = 0usize;
    for p in &places {
        let gp = &mut groups[p.group];
        if let Some(m) = failed.get_mut(&gp.name) {
            m.coalesced_failures += 1;
            *queued.entry(gp.name.clone()).or_default() += 1;
            continue;
        }
        if let (Some(prev), Some(desc)) = (&p.previous, p.stop_previous) {
            b.stop_tentatively(prev, desc);
        }
        match select(&mut b, &mut cands, gp, &mut rng) {
            Ok((node, fit, metric)) => {
                let id = (ctx.new_id)();
                let mut a = b.new_alloc(id, p.name.clone(), node, gp, fit, metric);
                if let Some(prev) = &p.previous {
                    a.previous_allocation = prev.id.clone();
                    b.link_next(&prev.id, &a.id);
                    if p.stop_previous.is_some() {
                        replaced += 1;
                    }
                }
                b.place_new(a, node, gp);
            }
            Err(mut metric) => {
                if let (Some(prev), Some(_)) = (&p.previous, p.stop_previous) {
                    b.unstop(prev);
                }
                metric.nodes_available = nodes_available(&cands.nodes);
                failed.insert(gp.name.clone(), *metric);
                *queued.entry(gp.name.clone()).or_default() += 1;
            }
        }
    }

    if !failed.is_empty() && job.all_at_once && b.placed() > 0 {
        // All or nothing: everything this evaluation meant to place waits.
        b.abandon_placements();
        queued = job
            .task_groups
            .iter()
            .map(|g| (g.name.clone(), 0))
            .collect();
        for p in &places {
            *queued
                .entry(job.task_groups[p.group].name.clone())
                .or_default() += 1;
        }
        replaced = 0;
    }
    let follow_up = left_over > 0 && replaced > 0;
    b.finish(failed, queued, follow_up, ctx.new_id)
}

/// Picks a node for one allocation of `gp`: walks the shuffled candidates
/// from the cursor, scores the first `limit` that pass the filters and fit,
/// and returns the best; when no node fits, the metrics of the search.
fn select<'s>(
    b: &mut Builder<'s>,
    cands: &mut Candidates<'s>,
    gp: &mut GroupPlan,
    rng: &mut Rng,
) -> Result<(&'s Arc<Node>, super::Fit, AllocMetric), Box<AllocMetric>> {
    let n = cands.nodes.len();
    let mut metric = AllocMetric::default();
    let mut best: Option<(usize, super::Fit, f64)> = None;
    let mut found = 0;
    for _ in 0..n {
        let i = cands.cursor;
        cands.cursor = (i + 1) % n;
        let node = cands.nodes[i];
        let verdict = gp.verdict(i, node);
        let Some(fit) = b.try_node(node, verdict, gp, &mut metric, rng) else {
            continue;
        };
        let score = final_score(fit.binpack, fit.penalty);
        if best.as_ref().is_none_or(|(_, _, s)| score > *s) {
            best = Some((i, fit, score));
        }
        found += 1;
        if found >= cands.limit {
            break;
        }
    }
    let Some((i, fit, _)) = best else {
        return Err(Box::new(metric));
    };
    let node = cands.nodes[i];
    metric
        .scores
        .insert(format!("{}.binpack", node.id), fit.binpack);
    if let Some(p) = fit.penalty {
        metric
            .scores
            .insert(format!("{}.job-anti-affinity", node.id), p);
    }
    Ok((node, fit, metric))
}
