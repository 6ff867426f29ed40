//! A job's summary and scale status, and the scale request: Nomad's
//! `JobSummary`, `JobScaleStatus` and `JobScaleRequest`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::AllocClientStatus;

/// One task group's allocations by client status, and its queued ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskGroupSummary {
    /// Allocations the scheduler could not place yet (the latest evaluation
    /// that names the group says how many).
    pub queued: i64,
    /// Allocations that finished successfully.
    pub complete: i64,
    /// Allocations that failed.
    pub failed: i64,
    /// Allocations running.
    pub running: i64,
    /// Allocations placed, not started yet (client status `pending`).
    pub starting: i64,
    /// Allocations whose node went down.
    pub lost: i64,
    /// Allocations whose node is disconnected: always 0 in ordu.
    pub unknown: i64,
}

impl TaskGroupSummary {
    /// Counts one allocation of `status` in (`up`) or out.
    pub fn count(&mut self, status: AllocClientStatus, up: bool) {
        let n = match status {
            AllocClientStatus::Pending => &mut self.starting,
            AllocClientStatus::Running => &mut self.running,
            AllocClientStatus::Complete => &mut self.complete,
            AllocClientStatus::Failed => &mut self.failed,
            AllocClientStatus::Lost => &mut self.lost,
        };
        if up {
            *n += 1;
        } else {
            *n -= 1;
        }
    }

    /// No allocation counted and none queued.
    pub fn is_empty(&self) -> bool {
        *self == TaskGroupSummary::default()
    }
}

/// Child jobs of a periodic or parameterized job: always none in ordu.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobChildrenSummary {
    /// Children pending.
    pub pending: i64,
    /// Children running.
    pub running: i64,
    /// Children dead.
    pub dead: i64,
}

/// `GET /v1/job/<id>/summary`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobSummary {
    /// The job.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Its namespace.
    pub namespace: String,
    /// Per task group: every group of the job, and any other group its
    /// allocations or evaluations name.
    pub summary: BTreeMap<String, TaskGroupSummary>,
    /// Always zero: ordu has no periodic or parameterized jobs.
    pub children: JobChildrenSummary,
    /// The job's `CreateIndex`.
    pub create_index: u64,
    /// The last change to the job, its allocations or its evaluations.
    pub modify_index: u64,
}

/// One task group in a [`JobScaleStatus`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskGroupScaleStatus {
    /// The group's `Count`.
    pub desired: i64,
    /// Allocations of the job's current incarnation neither terminal nor
    /// unknown.
    pub placed: i64,
    /// Of those, running.
    pub running: i64,
    /// Healthy (deployments): always 0 in ordu.
    pub healthy: i64,
    /// Unhealthy (deployments): always 0 in ordu.
    pub unhealthy: i64,
    /// Scaling events: ordu keeps none (null).
    pub events: Option<Vec<serde_json::Value>>,
}

/// `GET /v1/job/<id>/scale`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobScaleStatus {
    /// The job.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Its namespace.
    pub namespace: String,
    /// The job's `CreateIndex`.
    pub job_create_index: u64,
    /// The job's `ModifyIndex`.
    pub job_modify_index: u64,
    /// The job is stopped.
    pub job_stopped: bool,
    /// Per task group of the job.
    pub task_groups: BTreeMap<String, TaskGroupScaleStatus>,
}

/// The body of `POST /v1/job/<id>/scale`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobScaleRequest {
    /// The group's new count; none: a scaling event only (ordu keeps none,
    /// so nothing is written).
    #[serde(default)]
    pub count: Option<i64>,
    /// `{"Group": "<group>"}` (and optionally `"Job"`, which must be the
    /// path's job, and `"Namespace"`).
    #[serde(default)]
    pub target: BTreeMap<String, String>,
    /// Why (kept in Nomad's scaling events; ordu keeps none).
    #[serde(default)]
    pub message: String,
    /// An error event: must not come with a count.
    #[serde(default)]
    pub error: bool,
    /// Overrides soft policy failures (ordu has no policies).
    #[serde(default)]
    pub policy_override: bool,
    /// Check-and-set: when above 0, the job's `JobModifyIndex` must be this.
    #[serde(default)]
    pub job_modify_index: u64,
    /// Event metadata (unused).
    #[serde(default)]
    pub meta: Option<BTreeMap<String, serde_json::Value>>,
}
