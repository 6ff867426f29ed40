//! Turning evaluations into plans: the broker, feasibility, ranking and the
//! service/batch (generic) and system schedulers.
//!
//! A scheduler reads a consistent [`State`] and returns a [`Plan`]; it never
//! writes. The store applies the plan as one command, so scheduling results
//! replicate and replay like every other write.
//!
//! - `feasible`: may a node run a group at all (datacenters, drivers,
//!   constraints).
//! - `rank`: does it fit (every resource dimension, addresses and ports),
//!   and how well (bin-packing, job anti-affinity).
//! - `reconcile`: what the job wants against what runs (names, counts,
//!   updates, tainted nodes).
//! - `generic` (service, batch) and `system` put these together.
//! - `group`: each of the job's groups prepared once per evaluation;
//!   `builder`: the plan, and the node usage it changes, as it grows.
//!
//! Placement failures are reported as Nomad 1.x does: the evaluation completes
//! with `FailedTGAllocs` and `QueuedAllocations`, and a `blocked` evaluation
//! waits for capacity. Processing a blocked evaluation that still cannot place
//! everything blocks the same evaluation again.
//!
//! Choices where Nomad leaves room or where ordu differs, on purpose:
//!
//! - Scoring is MODERN's: bin-packing (BestFit-v3, reference §5.8) normalised
//!   to `[0, 1]`, averaged with the job anti-affinity penalty
//!   `−(collisions+1)/count` (same job and group) when there is a collision.
//! - A placed allocation's `Metrics` keep the counts and its own node's
//!   scores (`<node>.binpack`, `<node>.job-anti-affinity`); the per-reason
//!   maps are kept whole on `FailedTGAllocs`. `AllocationTime` is 0, so the
//!   same inputs give byte-identical plans.
//! - A system job's allocations are all named `<job>.<group>[0]`, as Nomad
//!   names them; their identity is the name on a node.
//! - Failed allocations are replaced at once (no reschedule policy or
//!   delay); a batch allocation that completed for the current job version
//!   is done and never replaced.
//! - Bandwidth asked is accounted on the node (SEED's offers forgot it), and
//!   a node's CIDR is walked for at most 256 addresses.

pub(crate) mod annotate;
pub mod broker;
mod builder;
pub(crate) mod feasible;
mod generic;
mod group;
pub(crate) mod rank;
pub(crate) mod reconcile;
mod system;

use std::sync::Arc;

use crate::state::State;
use crate::structs::{
    Evaluation, Job, Plan, JOB_TYPE_SYSTEM, TRIGGER_ALLOC_FAILURE, TRIGGER_ALLOC_STOP,
    TRIGGER_JOB_DEREGISTER, TRIGGER_JOB_REGISTER, TRIGGER_NODE_DRAIN, TRIGGER_NODE_UPDATE,
    TRIGGER_QUEUED_ALLOCS, TRIGGER_ROLLING_UPDATE, TRIGGER_SCALING,
};

pub(crate) use builder::{nodes_available, Builder, Fit};
pub(crate) use group::GroupPlan;

/// What a scheduler run may use besides the state: the time to stamp, a seed
/// for its random choices, and a source of new IDs.
pub struct Context<'a> {
    /// Unix nanoseconds.
    pub now: i64,
    /// Seed for node shuffling and dynamic ports; the same seed, state and
    /// evaluation give the same plan.
    pub seed: u64,
    /// Mints IDs for new allocations and evaluations.
    pub new_id: &'a mut dyn FnMut() -> String,
}

/// Description of an allocation stopped because the job no longer wants it.
pub const DESC_NOT_NEEDED: &str = "alloc not needed due to job update";
/// Description of an allocation replaced by a destructive update.
pub const DESC_UPDATING: &str = "alloc is being updated due to job update";
/// Description of an allocation moved off a draining or removed node.
pub const DESC_MIGRATING: &str = "alloc is being migrated";
/// Description of an allocation whose node went down.
pub const DESC_LOST: &str = "alloc is lost since its node is down";
/// Status description of a blocked evaluation.
pub const DESC_BLOCKED: &str = "created to place remaining allocations";

/// The triggers the schedulers handle.
const TRIGGERS: [&str; 9] = [
    TRIGGER_JOB_REGISTER,
    TRIGGER_JOB_DEREGISTER,
    TRIGGER_NODE_UPDATE,
    TRIGGER_NODE_DRAIN,
    TRIGGER_ROLLING_UPDATE,
    TRIGGER_QUEUED_ALLOCS,
    TRIGGER_ALLOC_FAILURE,
    TRIGGER_ALLOC_STOP,
    TRIGGER_SCALING,
];

/// Runs the scheduler of the evaluation's type for `eval` against `state`:
/// `system` jobs get the system scheduler, `service` and `batch` the generic
/// one. Deterministic: the same state, evaluation, seed and IDs give the same
/// plan.
pub fn process(state: &State, eval: &Evaluation, ctx: &mut Context<'_>) -> Plan {
    process_job(
        state,
        eval,
        state.job(&eval.namespace, &eval.job_id).cloned(),
        ctx,
    )
}

/// [`process`] with `job` standing for the state's job of the evaluation
/// (`None`: no such job): a dry run schedules a job that is not registered
/// without writing it into a copy of the state.
pub(crate) fn process_job(
    state: &State,
    eval: &Evaluation,
    job: Option<Arc<Job>>,
    ctx: &mut Context<'_>,
) -> Plan {
    if !TRIGGERS.contains(&eval.triggered_by.as_str()) {
        let why = format!(
            "scheduler cannot handle '{}' evaluation reason",
            eval.triggered_by
        );
        let b = Builder::new(state, eval, None, &[], ctx.now);
        return b.fail(&why);
    }
    // The job as stored decides the scheduler: a deregister evaluation of a
    // system job is typed `service` by Nomad, but must still stop per node.
    let system = match &job {
        Some(j) => j.job_type == JOB_TYPE_SYSTEM,
        None => eval.eval_type == JOB_TYPE_SYSTEM,
    };
    if system {
        system::process(state, eval, job, ctx)
    } else {
        generic::process(state, eval, job, ctx)
    }
}

#[cfg(test)]
mod tests {
    /// A pattern is compiled once per evaluation, however many groups, tasks
    /// and nodes use it; and once by validation.
    #[test]
    fn an_evaluation_compiles_each_pattern_once() {
        use crate::structs::regexp::COMPILES;
        use crate::{Store, WriteOptions};
        let store = Store::new(crate::Config::default());
        for i in 0..20 {
            let node = serde_json::json!({"Node": {"ID": format!("n{i}"), "Name": format!("n{i}"),
                "Datacenter": "dc1", "Status": "ready",
                "Attributes": {"driver.exec": "1", "kernel.os": "linux"},
                "Resources": {"CPU": 4000, "MemoryMB": 8192, "DiskMB": 10000}}});
            store
                .register_node_json(node.to_string().as_bytes())
                .unwrap();
        }
        let os = serde_json::json!({"LTarget": "${attr.kernel.os}", "Operand": "regexp", "RTarget": "^lin"});
        let name = serde_json::json!({"LTarget": "${node.unique.name}", "Operand": "regexp", "RTarget": "^n"});
        let g = |n: &str| {
            serde_json::json!({"Name": n, "Count": 2, "Constraints": [os, name],
            "Tasks": [{"Name": "t", "Driver": "exec", "Constraints": [os],
                       "Resources": {"CPU": 100, "MemoryMB": 64}}]})
        };
        let job = serde_json::json!({"Job": {"ID": "j", "Datacenters": ["dc1"],
            "Constraints": [os], "TaskGroups": [g("a"), g("b"), g("c")]}});
        let before = COMPILES.with(|n| n.get());
        store
            .register_job_json(job.to_string().as_bytes(), &WriteOptions::default())
            .unwrap();
        // Two distinct patterns: two compiles validating, two scheduling.
        assert_eq!(COMPILES.with(|n| n.get()) - before, 4);
        let placed = store.with_state(|s| s.allocs_by_job("default", "j").len());
        assert_eq!(placed, 6, "the patterns match");
    }
}
