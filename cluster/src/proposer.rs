//! The store's log on a cluster server: a write becomes a Raft entry
//! proposed to the leader's Raft, and is answered with the outcome of
//! applying it here, once Raft committed it and the state machine ran it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use ordu::log::{Log, LogError};
use ordu::state::Applied;
use ordu::Command;

use crate::machine::Outcomes;
use crate::{NodeId, Raft, Request};

pub(crate) struct RaftLog {
    pub me: NodeId,
    pub raft: Arc<OnceLock<Raft>>,
    pub runtime: tokio::runtime::Handle,
    pub outcomes: Arc<Outcomes>,
    pub next: AtomicU64,
}

impl Log for RaftLog {
    fn append(&self, _: u64, _: &Command) -> Result<u64, LogError> {
        Err(LogError(
            "a cluster's log takes writes through append_applied".into(),
        ))
    }

    /// Writes made together share Raft's appends and round trips; and a
    /// write must be made off the runtime's threads, as it waits for them.
    fn batches(&self) -> bool {
        true
    }

    fn applies(&self) -> bool {
        true
    }

    fn append_applied(&self, command: &Command) -> Result<ordu::Result<Applied>, LogError> {
        let raft = self
            .raft
            .get()
            .ok_or_else(|| LogError("the cluster is starting".into()))?;
        let proposal = self.next.fetch_add(1, Ordering::Relaxed);
        let entry = String::from_utf8(ordu::log::encode_entry(command))
            .ok()
            .and_then(|s| serde_json::value::RawValue::from_string(s).ok())
            .ok_or_else(|| LogError("an entry is not JSON".into()))?;
        let req = Request {
            origin: self.me,
            proposal,
            entry,
        };
        self.outcomes.wait_for(proposal);
        // Raft's future runs on the cluster's runtime; this thread (any: a
        // host's, a blocking-pool one, a runtime's own) waits for it, giving
        // a multi-threaded runtime's worker up meanwhile.
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let raft = raft.clone();
        self.runtime.spawn(async move {
            let _ = tx.send(raft.client_write(req).await);
        });
        let wait = || rx.recv();
        let written = match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        };
        let Ok(written) = written else {
            self.outcomes.take(proposal);
            return Err(LogError("the cluster stopped".into()));
        };
        let outcome = self.outcomes.take(proposal);
        match (written, outcome) {
            (_, Some(outcome)) => Ok(outcome),
            (Ok(r), None) => Err(LogError(format!(
                "entry {} committed but not applied here",
                r.log_id.index
            ))),
            (Err(e), None) => Err(LogError(match e.forward_to_leader() {
                Some(_) => "No cluster leader: this server is not the leader".into(),
                None => format!("not committed: {e}"),
            })),
        }
    }
}
