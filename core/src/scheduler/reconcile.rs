//! Reconciling what a service or batch job wants with what runs: which
//! allocations to stop, which to update, which to move off tainted nodes, and
//! which names to place (reference §5.4, §5.6, MODERN's reconciler).
//!
//! Names are `<job ID>.<group>[i]`. Counting up takes the lowest free indexes;
//! counting down stops the highest. An allocation terminal on either side
//! (server stop, or client complete/failed/lost) no longer holds its name,
//! except that a batch allocation that completed for the current job version
//! is done and is never replaced.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::{DESC_LOST, DESC_NOT_NEEDED};
use crate::state::State;
use crate::structs::{
    alloc_name, AllocClientStatus, AllocDesiredStatus, Allocation, Job, NodeStatus, JOB_TYPE_BATCH,
};

/// What a tainted node means for the allocations on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Taint {
    /// Ready (or initializing) and not draining.
    None,
    /// Down: its allocations are lost.
    Down,
    /// Draining or removed: its allocations migrate.
    Migrate,
}

/// The taint of the node an allocation runs on, for a job of the system
/// scheduler (`system`) or not: a drain that ignores system jobs leaves
/// theirs alone. An ineligible node is not tainted: what runs there stays.
pub(crate) fn taint(state: &State, node_id: &str, system: bool) -> Taint {
    match state.node(node_id) {
        None => Taint::Migrate,
        Some(n) if n.status == NodeStatus::Down => Taint::Down,
        Some(n)
            if n.drain
                && !(system
                    && n.drain_strategy
                        .as_ref()
                        .is_some_and(|d| d.ignore_system_jobs)) =>
        {
            Taint::Migrate
        }
        Some(_) => Taint::None,
    }
}

/// [`taint`], and an allocation marked to migrate (an allocation stop, a
/// drain) migrates wherever it runs.
pub(crate) fn alloc_taint(node: Taint, a: &Allocation) -> Taint {
    match node {
        Taint::None if a.desired_transition.should_migrate() => Taint::Migrate,
        t => t,
    }
}

/// A name to place.
#[derive(Clone, Debug)]
pub(crate) struct Placement {
    /// Index of the group in the job.
    pub(crate) group: usize,
    /// `<job>.<group>[i]`.
    pub(crate) name: String,
    /// The allocation this one replaces (lost, failed, migrated, updated).
    pub(crate) previous: Option<Arc<Allocation>>,
    /// Stop `previous` only if this placement succeeds, with this description.
    pub(crate) stop_previous: Option<&'static str>,
}

/// The reconciler's verdict for one job.
#[derive(Debug, Default)]
pub(crate) struct Reconciled {
    /// Stops made whatever else happens: (allocation, description, client status).
    pub(crate) stops: Vec<(Arc<Allocation>, &'static str, Option<AllocClientStatus>)>,
    /// Names to place, by group then index.
    pub(crate) place: Vec<Placement>,
    /// Kept allocations of an older job version, per group index.
    pub(crate) updates: Vec<(usize, Arc<Allocation>)>,
    /// Kept allocations on draining or removed nodes, per group index.
    pub(crate) migrate: Vec<(usize, Arc<Allocation>)>,
}

/// True when `a` was placed for this version of `job`.
pub(crate) fn current_version(a: &Allocation, job: &Job) -> bool {
    a.job.job_modify_index == job.job_modify_index && a.job.create_index == job.create_index
}

/// Reconciles `job` (`None`: gone or stopped) with all of its allocations.
pub(crate) fn generic(state: &State, job: Option<&Job>, allocs: &[Arc<Allocation>]) -> Reconciled {
    let mut out = Reconciled::default();
    let Some(job) = job else {
        for a in allocs.iter().filter(|a| !a.is_terminal()) {
            out.stops.push((a.clone(), DESC_NOT_NEEDED, None));
        }
        return out;
    };
    let batch = job.job_type == JOB_TYPE_BATCH;
    let mut by_group: HashMap<&str, Vec<&Arc<Allocation>>> = HashMap::new();
    for a in allocs {
        by_group.entry(a.task_group.as_str()).or_default().push(a);
    }
    // Live allocations of groups the job no longer has.
    for (g, list) in &by_group {
        if job.group(g).is_none() {
            for a in list.iter().filter(|a| !a.is_terminal()) {
                out.stops.push(((*a).clone(), DESC_NOT_NEEDED, None));
            }
        }
    }
    let mut taints: HashMap<&str, Taint> = HashMap::new();
    for (gi, group) in job.task_groups.iter().enumerate() {
        let list = by_group.remove(group.name.as_str()).unwrap_or_default();
        let count = group.count.max(0) as usize;
        // Names held for good: batch work done for this version.
        let mut occupied: BTreeSet<usize> = BTreeSet::new();
        if batch {
            for a in &list {
                if a.client_status == AllocClientStatus::Complete
                    && a.desired_status == AllocDesiredStatus::Run
                    && current_version(a, job)
                {
                    if let Some(i) = a.index() {
                        occupied.insert(i);
                    }
                }
            }
        }
        // The latest client-failed or lost allocation per name: what a new
        // placement of that name replaces.
        let mut failed: BTreeMap<String, &Arc<Allocation>> = BTreeMap::new();
        for a in &list {
            if a.is_terminal()
                && matches!(
                    a.client_status,
                    AllocClientStatus::Failed | AllocClientStatus::Lost
                )
                && a.next_allocation.is_empty()
            {
                let e = failed.entry(a.name.clone()).or_insert(a);
                if a.create_index > e.create_index {
                    *e = a;
                }
            }
        }
        let mut live: Vec<&Arc<Allocation>> =
            list.iter().copied().filter(|a| !a.is_terminal()).collect();
        live.sort_by(|a, b| {
            (a.index().unwrap_or(usize::MAX), a.create_index, &a.id).cmp(&(
                b.index().unwrap_or(usize::MAX),
                b.create_index,
                &b.id,
            ))
        });
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for a in live {
            let index = a.index();
            let keep = occupied.len() < count
                && seen.insert(a.name.as_str())
                && index.is_some_and(|i| !occupied.contains(&i));
            let t = *taints
                .entry(a.node_id.as_str())
                .or_insert_with(|| taint(state, &a.node_id, false));
            let t = alloc_taint(t, a);
            if !keep {
                let (desc, cs) = match t {
                    Taint::Down => (DESC_LOST, Some(AllocClientStatus::Lost)),
                    _ => (DESC_NOT_NEEDED, None),
                };
                out.stops.push((a.clone(), desc, cs));
                continue;
            }
            let index = index.expect("kept allocations have an index");
            occupied.insert(index);
            match t {
                Taint::Down => {
                    out.stops
                        .push((a.clone(), DESC_LOST, Some(AllocClientStatus::Lost)));
                    out.place.push(Placement {
                        group: gi,
                        name: a.name.clone(),
                        previous: Some(a.clone()),
                        stop_previous: None,
                    });
                }
                Taint::Migrate => out.migrate.push((gi, a.clone())),
                Taint::None if !current_version(a, job) => out.updates.push((gi, a.clone())),
                Taint::None => {}
            }
        }
        // Fill the lowest free names up to the count.
        let mut missing = count.saturating_sub(occupied.len());
        let mut i = 0usize;
        while missing > 0 {
            if !occupied.contains(&i) {
                let name = alloc_name(&job.id, &group.name, i);
                let previous = failed.get(&name).map(|a| (*a).clone());
                out.place.push(Placement {
                    group: gi,
                    name,
                    previous,
                    stop_previous: None,
                });
                missing -= 1;
            }
            i += 1;
        }
    }
    // Each key parsed once, not once per comparison.
    out.place
        .sort_by_cached_key(|p| (p.group, name_index(&p.name)));
    out
}

fn name_index(name: &str) -> usize {
    let open = name.rfind('[').unwrap_or(name.len());
    name.get(open + 1..)
        .and_then(|s| s.strip_suffix(']'))
        .and_then(|s| s.parse().ok())
        .unwrap_or(usize::MAX)
}
