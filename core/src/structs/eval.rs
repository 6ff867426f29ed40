//! Evaluations: the requests to (re)schedule a job, and their metrics.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::extra::Extra;
use super::status::EvalStatus;

/// A job was registered, updated or evaluated on demand.
pub const TRIGGER_JOB_REGISTER: &str = "job-register";
/// A job was deregistered.
pub const TRIGGER_JOB_DEREGISTER: &str = "job-deregister";
/// A node the job uses, or could use, changed.
pub const TRIGGER_NODE_UPDATE: &str = "node-update";
/// A node started draining.
pub const TRIGGER_NODE_DRAIN: &str = "node-drain";
/// The next batch of a rolling update.
pub const TRIGGER_ROLLING_UPDATE: &str = "rolling-update";
/// Placements left over by an earlier evaluation.
pub const TRIGGER_QUEUED_ALLOCS: &str = "queued-allocs";
/// An allocation stopped by the client and needs a look.
pub const TRIGGER_ALLOC_FAILURE: &str = "alloc-failure";
/// An operator stopped an allocation (it is moved).
pub const TRIGGER_ALLOC_STOP: &str = "alloc-stop";
/// A job scaled (`POST /v1/job/<id>/scale`).
pub const TRIGGER_SCALING: &str = "job-scaling";

/// An evaluation: one request to reconcile a job with the cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct Evaluation {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub priority: i64,
    /// Scheduler: the job's type.
    #[serde(rename = "Type", default)]
    pub eval_type: String,
    #[serde(default)]
    pub triggered_by: String,
    #[serde(rename = "JobID", default)]
    pub job_id: String,
    /// The job's `JobModifyIndex` when the evaluation was created.
    #[serde(default)]
    pub job_modify_index: u64,
    /// Set for node-triggered evaluations.
    #[serde(rename = "NodeID", default)]
    pub node_id: String,
    #[serde(default)]
    pub node_modify_index: u64,
    #[serde(default)]
    pub status: EvalStatus,
    #[serde(default)]
    pub status_description: String,
    /// Nanoseconds the broker holds it before it is ready (rolling updates).
    #[serde(default)]
    pub wait: i64,
    #[serde(default)]
    pub next_eval: String,
    #[serde(default)]
    pub previous_eval: String,
    /// The blocked evaluation created for what this one could not place.
    #[serde(default)]
    pub blocked_eval: String,
    /// Per group, why placements failed.
    #[serde(rename = "FailedTGAllocs", default)]
    pub failed_tg_allocs: BTreeMap<String, AllocMetric>,
    /// Per group, placements still to be made.
    #[serde(default)]
    pub queued_allocations: BTreeMap<String, i64>,
    /// Index of the state the scheduler worked from.
    #[serde(default)]
    pub snapshot_index: u64,
    #[serde(default)]
    pub create_index: u64,
    #[serde(default)]
    pub modify_index: u64,
    /// Unix nanoseconds.
    #[serde(default)]
    pub create_time: i64,
    /// Unix nanoseconds.
    #[serde(default)]
    pub modify_time: i64,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Evaluation {
    /// The table key of the evaluation's job ([`super::job_key`]).
    pub fn job_key(&self) -> String {
        super::job_key(&self.namespace, &self.job_id)
    }

    /// Complete, failed or canceled: the status never changes again.
    pub fn is_terminal(&self) -> bool {
        self.status.is_terminal()
    }
}

/// Why a placement went where it did, or nowhere.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct AllocMetric {
    /// Nodes the scheduler looked at.
    #[serde(default)]
    pub nodes_evaluated: u64,
    /// Nodes rejected by a constraint, driver or `distinct_hosts`.
    #[serde(default)]
    pub nodes_filtered: u64,
    /// Ready nodes per datacenter.
    #[serde(default)]
    pub nodes_available: BTreeMap<String, u64>,
    #[serde(default)]
    pub class_filtered: BTreeMap<String, u64>,
    /// Rejections by reason: the constraint as `LTarget Operand RTarget`,
    /// `missing drivers`, `distinct_hosts`.
    #[serde(default)]
    pub constraint_filtered: BTreeMap<String, u64>,
    /// Nodes that passed the filters but had no room.
    #[serde(default)]
    pub nodes_exhausted: u64,
    #[serde(default)]
    pub class_exhausted: BTreeMap<String, u64>,
    /// Exhaustion by dimension: `cpu exhausted`, `memory exhausted`, ...
    #[serde(default)]
    pub dimension_exhausted: BTreeMap<String, u64>,
    /// Scores as `<node ID>.<scorer>`.
    #[serde(default)]
    pub scores: Scores,
    /// Nanoseconds spent on the placement.
    #[serde(default)]
    pub allocation_time: i64,
    /// Further failures of the same group folded into this one.
    #[serde(default)]
    pub coalesced_failures: u64,
}

/// Scores of a placement as `<node ID>.<scorer>` → score, written as a JSON
/// object. A placed allocation keeps only its node's few scores, so this is
/// a small sorted list rather than a map: a million allocations each holding
/// a map node would cost hundreds of megabytes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scores(Vec<(String, f64)>);

impl Scores {
    /// Sets a score; returns the one it replaced.
    pub fn insert(&mut self, key: String, value: f64) -> Option<f64> {
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(&key)) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }
    /// A score by key.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| self.0[i].1)
    }
    /// True when the key has a score.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
    /// Number of scores.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }
    /// Key and score pairs, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }
}

impl std::ops::Index<&str> for Scores {
    type Output = f64;
    fn index(&self, key: &str) -> &f64 {
        let i = self
            .0
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .unwrap_or_else(|_| panic!("no score {key:?}"));
        &self.0[i].1
    }
}

impl Serialize for Scores {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Scores {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = Option::<BTreeMap<String, f64>>::deserialize(d)?.unwrap_or_default();
        Ok(Scores(map.into_iter().collect()))
    }
}

#[cfg(test)]
mod scores_tests {
    use super::*;

    #[test]
    fn scores_read_and_write_as_an_object() {
        let mut s = Scores::default();
        assert_eq!(s.insert("n2.binpack".into(), 2.0), None);
        s.insert("n1.binpack".into(), 1.0);
        assert_eq!(s.insert("n2.binpack".into(), 3.0), Some(2.0));
        assert_eq!(s.len(), 2);
        assert_eq!(s["n1.binpack"], 1.0);
        assert_eq!(s.get("n2.binpack"), Some(3.0));
        assert!(!s.contains_key("n3.binpack"));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"n1.binpack":1.0,"n2.binpack":3.0}"#);
        let back: Scores = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        let null: Scores = serde_json::from_str("null").unwrap();
        assert!(null.is_empty());
    }
}
