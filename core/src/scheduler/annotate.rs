//! What a plan does to each task group, counted as Nomad's plan annotations
//! count it (`DesiredTGUpdates`).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{DESC_MIGRATING, DESC_UPDATING};
use crate::state::State;
use crate::structs::{DesiredUpdates, Job, Plan};

/// Counts, per group, what `plan` (made for `job` against `state`) does to
/// the job's allocations: a placement with the ID of a live allocation is an
/// in-place update; a stop for an update or a migration with its
/// replacement placed is a destructive update or a migration; other stops
/// are stops, other placements are places, and so is every allocation the
/// processed evaluation left queued (it could not be placed). Live
/// allocations the plan does not touch are ignored.
pub(crate) fn desired_updates(
    state: &State,
    job: &Job,
    plan: &Plan,
) -> BTreeMap<String, DesiredUpdates> {
    let mut out: BTreeMap<String, DesiredUpdates> = job
        .task_groups
        .iter()
        .map(|g| (g.name.clone(), DesiredUpdates::default()))
        .collect();
    let allocs = state.allocs_by_job(&job.namespace, &job.id);
    let live: HashMap<&str, &str> = allocs
        .iter()
        .filter(|a| !a.is_terminal())
        .map(|a| (a.id.as_str(), a.task_group.as_str()))
        .collect();
    let mut touched: HashSet<&str> = HashSet::new();
    let mut replaced: HashSet<&str> = HashSet::new();
    for s in &plan.stops {
        touched.insert(&s.id);
        let group = state
            .alloc(&s.id)
            .map_or_else(String::new, |a| a.task_group.clone());
        let g = out.entry(group).or_default();
        let replacing = !s.next_allocation.is_empty();
        match s.desired_description.as_str() {
            DESC_UPDATING if replacing => {
                g.destructive_update += 1;
                replaced.insert(&s.id);
            }
            DESC_MIGRATING if replacing => {
                g.migrate += 1;
                replaced.insert(&s.id);
            }
            _ => g.stop += 1,
        }
    }
    for a in &plan.placements {
        let g = out.entry(a.task_group.clone()).or_default();
        if live.contains_key(a.id.as_str()) {
            touched.insert(&a.id);
            g.in_place_update += 1;
        } else if !replaced.contains(a.previous_allocation.as_str()) {
            g.place += 1;
        }
    }
    if let Some(done) = plan.evals.first() {
        for (group, n) in &done.queued_allocations {
            out.entry(group.clone()).or_default().place += (*n).max(0) as u64;
        }
    }
    for (id, group) in live {
        if !touched.contains(id) {
            out.entry(group.to_string()).or_default().ignore += 1;
        }
    }
    out
}
