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
