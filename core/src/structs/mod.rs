//! The data model in Nomad's JSON names, the request and response envelopes, and
//! validation.

mod alloc;
mod constraint;
mod diff;
mod eval;
mod extra;
mod job;
mod namespace;
mod node;
mod plan;
mod policies;
pub(crate) mod regexp;
mod resources;
mod serde_util;
mod status;
mod summary;
mod task;
mod validate;
pub mod version;

pub use alloc::*;
pub use constraint::*;
pub use diff::*;
pub use eval::*;
pub use extra::*;
pub use job::*;
pub use namespace::*;
pub use node::*;
pub use plan::*;
pub use policies::*;
pub use regexp::{JOB_REGEX_BUDGET, MAX_PATTERN_BYTES, PATTERN_SIZE_LIMIT};
pub use resources::*;
pub use status::{AllocClientStatus, AllocDesiredStatus, EvalStatus, NodeStatus};
pub use summary::*;
pub use task::*;
pub use validate::{
    check_constraint, validate_alloc_update, validate_job, validate_node, validate_node_status,
    Limits, MAX_RESOURCE, OPERANDS,
};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, Stage};

/// Decodes a JSON request body: over `limits.max_request_bytes` is a limit error;
/// malformed JSON or a wrong type is an invalid error whose path names the field.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], limits: &Limits) -> Result<T, Error> {
    if bytes.len() > limits.max_request_bytes {
        return Err(Error::Limit {
            path: "body".into(),
            limit: limits.max_request_bytes as u64,
            message: format!(
                "request body of {} bytes is over the limit of {} bytes",
                bytes.len(),
                limits.max_request_bytes
            ),
        });
    }
    // The plain decoder first: tracking the path of every field costs as much
    // again as decoding, and only a failure needs it. The body is checked to be
    // UTF-8 once, as a whole: read from bytes, serde_json checks every string
    // on its own, which costs more than the whole body's check. A body that is
    // not UTF-8 fails either way, with the error of the path below.
    if let Ok(text) = std::str::from_utf8(bytes) {
        if let Ok(value) = serde_json::from_str(text) {
            return Ok(value);
        }
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        Error::Invalid {
            stage: Stage::Decode,
            errors: vec![FieldError::new(path, e.into_inner().to_string())],
        }
    })?;
    // The plain decoder above refuses bytes after the value; this path must too,
    // or `{"Job":{..}} garbage` would decode as the job.
    de.end().map_err(|e| Error::Invalid {
        stage: Stage::Decode,
        errors: vec![FieldError::new(String::new(), e.to_string())],
    })?;
    Ok(value)
}

/// Decodes a node a host registers: `{"Node": {...}}` or the bare node.
pub fn decode_node(bytes: &[u8], limits: &Limits) -> Result<Node, Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Body {
        Wrapped {
            #[serde(rename = "Node")]
            node: Node,
        },
        Bare(Node),
    }
    match decode::<Body>(bytes, limits)? {
        Body::Wrapped { node } | Body::Bare(node) => Ok(node),
    }
}

/// The body of a job register: `{"Job": {...}, "EnforceIndex", "JobModifyIndex"}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobRegisterRequest {
    /// The job; required.
    #[serde(default)]
    pub job: Option<Job>,
    /// Check-and-set: register only if the job's `JobModifyIndex` is
    /// `job_modify_index` (0: only if the job does not exist).
    #[serde(default)]
    pub enforce_index: bool,
    /// The index `enforce_index` compares with.
    #[serde(default)]
    pub job_modify_index: u64,
}

/// The answer to register, evaluate and deregister.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobWriteResponse {
    /// The evaluation created; empty when none was (deregister of a missing job).
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// Index at which the evaluation was created.
    pub eval_create_index: u64,
    /// The job's `JobModifyIndex` after the write.
    pub job_modify_index: u64,
    /// Non-fatal remarks on the job.
    pub warnings: String,
    /// Index of the write (0 when nothing was written).
    pub index: u64,
    /// Always 0 for an embedded store.
    pub last_contact: u64,
    /// As Nomad's write replies: false.
    pub known_leader: bool,
}

/// The answer to node register, status and drain updates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeUpdateResponse {
    /// Evaluations the change created.
    #[serde(rename = "EvalIDs")]
    pub eval_ids: Vec<String>,
    /// Index at which they were created (0 if none).
    pub eval_create_index: u64,
    /// The node's `ModifyIndex`.
    pub node_modify_index: u64,
    /// Index of the write.
    pub index: u64,
}

/// The answer to an allocation stop (Nomad's `AllocStopResponse`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocStopResponse {
    /// The `alloc-stop` evaluation that moves it.
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// Index of the write.
    pub index: u64,
}

/// The body of `POST /v1/node/<id>/eligibility`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeEligibilityRequest {
    /// The node (the path's wins, as Nomad's).
    #[serde(rename = "NodeID", default)]
    pub node_id: String,
    /// `eligible` or `ineligible`.
    #[serde(default)]
    pub eligibility: String,
}

/// The body of `POST /v1/node/<id>/drain` (Nomad 1.x).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeDrainRequest {
    /// The node (the path's wins, as Nomad's).
    #[serde(rename = "NodeID", default)]
    pub node_id: String,
    /// The drain; absent or null ends the node's drain.
    #[serde(default)]
    pub drain_spec: Option<DrainSpec>,
    /// When ending the drain: make the node eligible again.
    #[serde(default)]
    pub mark_eligible: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_names_the_field() {
        let err = decode::<JobRegisterRequest>(
            br#"{"Job":{"ID":"x","TaskGroups":[{"Name":"g","Count":"many"}]}}"#,
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(err.field_errors()[0].path, "Job.TaskGroups[0].Count");
        assert_eq!(err.http_status(false), 400);
    }

    #[test]
    fn decode_bounds_the_body() {
        let limits = Limits {
            max_request_bytes: 10,
            ..Limits::default()
        };
        let err = decode::<JobRegisterRequest>(b"{\"Job\":{\"ID\":\"abc\"}}", &limits).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Limit);
    }

    #[test]
    fn legacy_ports_and_defaults() {
        let job: Job = serde_json::from_str(
            r#"{"ID":"j","TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Driver":"d",
            "Resources":{"MemoryMB":0,"Networks":[{"ReservedPorts":[80],"DynamicPorts":["http"]}]}}]}]}"#,
        )
        .unwrap();
        let t = &job.task_groups[0].tasks[0];
        assert_eq!(t.resources.cpu, 100);
        assert_eq!(t.resources.memory_mb, 0, "a 0 the client sent is kept");
        let n = &t.resources.networks()[0];
        assert_eq!(n.reserved()[0].value, 80);
        assert_eq!(n.dynamic()[0].label, "http");
        assert_eq!(job.priority, 50);
        assert_eq!(job.datacenters, vec!["*"]);
        assert_eq!(job.task_groups[0].count, 1);
    }
}
