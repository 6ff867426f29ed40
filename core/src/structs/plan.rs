//! A plan: what one scheduler run wants changed, applied as one command.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::alloc::Allocation;
use super::eval::Evaluation;
use super::job::Job;
use super::status::{AllocClientStatus, AllocDesiredStatus};

/// An allocation the plan stops (or marks lost).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocStop {
    /// The allocation.
    #[serde(rename = "ID")]
    pub id: String,
    /// Stop or evict.
    pub desired_status: AllocDesiredStatus,
    /// Why, e.g. `alloc not needed due to job update`.
    pub desired_description: String,
    /// Set to `lost` when its node is down; otherwise the client's status stays.
    #[serde(default)]
    pub client_status: Option<AllocClientStatus>,
    /// The allocation replacing it, if any.
    #[serde(default)]
    pub next_allocation: String,
}

/// The output of one scheduler run over one evaluation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Plan {
    /// The evaluation processed.
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// The job the placements run; `None` when the job is gone.
    pub job: Option<Arc<Job>>,
    /// Commit every placement or none.
    pub all_at_once: bool,
    /// Allocations to stop.
    pub stops: Vec<AllocStop>,
    /// New allocations, and in-place updates (same ID as the one they update).
    /// Written without their job, which is [`Plan::job`] for all of them (as
    /// Nomad lifts the job out of its plan results): a plan of a thousand
    /// placements would otherwise carry a thousand copies of the job.
    #[serde(serialize_with = "placements_without_jobs")]
    pub placements: Vec<Allocation>,
    /// The processed evaluation's new status, and evaluations it creates
    /// (blocked, rolling follow-up).
    pub evals: Vec<Evaluation>,
    /// Unix nanoseconds, stamped on everything the plan changes.
    pub time: i64,
}

fn placements_without_jobs<S: serde::Serializer>(
    placements: &[Allocation],
    s: S,
) -> Result<S::Ok, S::Error> {
    super::alloc::without_jobs(|| placements.serialize(s))
}

impl Plan {
    /// True when the plan changes no allocation.
    pub fn is_noop(&self) -> bool {
        self.stops.is_empty() && self.placements.is_empty()
    }
}

/// The body of `PUT /v1/job/<id>/plan` (Nomad's `JobPlanRequest`):
/// `{"Job": {...}, "Diff": bool, "PolicyOverride": bool}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobPlanRequest {
    /// The job to plan; required.
    #[serde(default)]
    pub job: Option<Job>,
    /// Whether the answer carries the [`JobDiff`](super::JobDiff) against the stored job.
    #[serde(default)]
    pub diff: bool,
    /// Accepted and ignored: ordu has no Sentinel policies to override.
    #[serde(default)]
    pub policy_override: bool,
}

/// What the scheduler would do to one task group (Nomad's
/// `DesiredUpdates`): how many allocations it would leave, place, stop,
/// update in place or replace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DesiredUpdates {
    /// Live allocations left as they are (also destructive updates over
    /// `Update.MaxParallel`, which a later evaluation makes).
    pub ignore: u64,
    /// New allocations, including those that could not be placed (see
    /// `FailedTGAllocs`) and replacements of lost or failed ones.
    pub place: u64,
    /// Allocations moved off a draining or removed node.
    pub migrate: u64,
    /// Allocations stopped without a replacement of the same name.
    pub stop: u64,
    /// Allocations updated where they run.
    pub in_place_update: u64,
    /// Allocations stopped and replaced by a new one.
    pub destructive_update: u64,
    /// Always 0: ordu has no deployments, so no canaries.
    pub canary: u64,
    /// Always 0: ordu does not preempt.
    pub preemptions: u64,
}

/// The scheduler's decisions in a plan (Nomad's `PlanAnnotations`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PlanAnnotations {
    /// Per task group of the job (and of stopped groups it no longer has).
    #[serde(rename = "DesiredTGUpdates")]
    pub desired_tg_updates: std::collections::BTreeMap<String, DesiredUpdates>,
    /// Always `null`: ordu does not preempt.
    pub preempted_allocs: Option<Vec<serde_json::Value>>,
}

/// The answer to a plan (Nomad's `JobPlanResponse`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobPlanResponse {
    /// What the scheduler would do, per group.
    pub annotations: PlanAnnotations,
    /// Per group, why allocations could not be placed; `null` when all fit.
    #[serde(rename = "FailedTGAllocs")]
    pub failed_tg_allocs: Option<std::collections::BTreeMap<String, super::AllocMetric>>,
    /// The stored job's `JobModifyIndex` (0 when it does not exist): a
    /// register with `EnforceIndex` and this index succeeds only if the job
    /// did not change since the plan.
    pub job_modify_index: u64,
    /// Always `null`: the evaluations a plan would create are not reported.
    pub created_evals: Option<Vec<Evaluation>>,
    /// The difference to the stored job, when the request asked for it.
    pub diff: Option<super::JobDiff>,
    /// Always Go's zero time: ordu has no periodic jobs.
    pub next_periodic_launch: String,
    /// Non-fatal remarks on the job.
    pub warnings: String,
    /// As Nomad answers: the stored job's `JobModifyIndex`.
    pub index: u64,
}
