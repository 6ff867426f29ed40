//! Raft's state machine: ordu's [`Store`], each committed entry applied at
//! its Raft index through [`Store::apply_committed_outcome`] on every
//! server, the leader's own entries among them; snapshots are the store's.
//!
//! The outcome of applying an entry this server proposed goes back to the
//! write waiting for it ([`Outcomes`]), so that a check-and-set that lost at
//! apply is answered as a conflict, on the server the client asked.

use std::collections::{HashMap, HashSet};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    AnyError, EntryPayload, LogId, RaftSnapshotBuilder, SnapshotMeta, StorageError, StorageIOError,
    StoredMembership,
};
use ordu::state::Applied;
use ordu::{ErrorKind, Store};
use parking_lot::Mutex;

use crate::{NodeId, Response, ServerNode, TypeConfig};

type Entry = openraft::Entry<TypeConfig>;

/// The outcomes of entries proposed here, for the writes waiting on them.
#[derive(Default)]
pub(crate) struct Outcomes {
    inner: Mutex<OutcomesInner>,
}

#[derive(Default)]
struct OutcomesInner {
    /// Proposals whose write still waits: only theirs are kept.
    waiting: HashSet<u64>,
    done: HashMap<u64, ordu::Result<Applied>>,
}

impl Outcomes {
    pub(crate) fn wait_for(&self, proposal: u64) {
        self.inner.lock().waiting.insert(proposal);
    }

    /// The outcome of `proposal` if it was applied; it is forgotten then.
    pub(crate) fn take(&self, proposal: u64) -> Option<ordu::Result<Applied>> {
        let mut g = self.inner.lock();
        g.waiting.remove(&proposal);
        g.done.remove(&proposal)
    }

    fn record(&self, proposal: u64, outcome: ordu::Result<Applied>) {
        let mut g = self.inner.lock();
        if g.waiting.contains(&proposal) {
            g.done.insert(proposal, outcome);
        }
    }
}

/// What the machine has applied, under one lock with the store's apply so
/// that a snapshot's state and its log id always match.
struct Applied_ {
    last: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, ServerNode>,
}

#[derive(Clone)]
pub struct Machine {
    me: NodeId,
    store: Arc<Store>,
    dir: PathBuf,
    applied: Arc<Mutex<Applied_>>,
    outcomes: Arc<Outcomes>,
}

fn sm_err(e: impl std::fmt::Display) -> StorageError<NodeId> {
    StorageIOError::write_state_machine(AnyError::error(e.to_string())).into()
}

fn snap_err(e: impl std::fmt::Display) -> StorageError<NodeId> {
    StorageIOError::read_snapshot(None, AnyError::error(e.to_string())).into()
}

const SNAPSHOT_FILE: &str = "raft-snapshot.snap";

/// A snapshot file's body: the meta as JSON, its length first (u32, little
/// endian), then the store's snapshot bytes.
fn encode(meta: &SnapshotMeta<NodeId, ServerNode>, state: &[u8]) -> Vec<u8> {
    let m = serde_json::to_vec(meta).expect("snapshot meta serialises");
    let mut out = Vec::with_capacity(4 + m.len() + state.len());
    out.extend_from_slice(&(m.len() as u32).to_le_bytes());
    out.extend_from_slice(&m);
    out.extend_from_slice(state);
    out
}

fn decode(bytes: &[u8]) -> Result<(SnapshotMeta<NodeId, ServerNode>, &[u8]), String> {
    let n = bytes
        .get(..4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
        .ok_or("snapshot too short")?;
    let m = bytes.get(4..4 + n).ok_or("snapshot meta cut short")?;
    let meta = serde_json::from_slice(m).map_err(|e| format!("snapshot meta: {e}"))?;
    Ok((meta, &bytes[4 + n..]))
}

impl Machine {
    /// The machine over `store` (a follower until Raft makes it lead),
    /// restored from the snapshot file in `dir` when there is one.
    pub(crate) fn open(
        me: NodeId,
        dir: &Path,
        store: Arc<Store>,
        outcomes: Arc<Outcomes>,
    ) -> Result<Machine, String> {
        let mut applied = Applied_ {
            last: None,
            membership: StoredMembership::default(),
        };
        let file = dir.join(SNAPSHOT_FILE);
        if file.exists() {
            let bytes = ordu_durable::snapshot_file::read(&file).map_err(|e| e.to_string())?;
            let (meta, state) = decode(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
            store
                .restore_snapshot(state)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            applied.last = meta.last_log_id;
            applied.membership = meta.last_membership;
        }
        Ok(Machine {
            me,
            store,
            dir: dir.to_path_buf(),
            applied: Arc::new(Mutex::new(applied)),
            outcomes,
        })
    }

    fn save(&self, bytes: &[u8], index: u64) -> Result<(), String> {
        ordu_durable::snapshot_file::save(&self.dir, SNAPSHOT_FILE, index, bytes)
            .map_err(|e| format!("{}: {e}", self.dir.join(SNAPSHOT_FILE).display()))
    }

    fn current(&self) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        let file = self.dir.join(SNAPSHOT_FILE);
        if !file.exists() {
            return Ok(None);
        }
        let bytes = ordu_durable::snapshot_file::read(&file).map_err(snap_err)?;
        let (meta, state) = decode(&bytes).map_err(snap_err)?;
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(state.to_vec())),
        }))
    }
}

impl RaftSnapshotBuilder<TypeConfig> for Machine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            // The state and the log id it matches, read together.
            let (state, last, membership) = {
                let g = me.applied.lock();
                let state = me.store.with_state(|s| s.clone());
                (state, g.last, g.membership.clone())
            };
            let bytes = state.snapshot();
            let id = match last {
                Some(l) => format!("{}-{}", l.leader_id.term, l.index),
                None => "0-0".into(),
            };
            let meta = SnapshotMeta {
                last_log_id: last,
                last_membership: membership,
                snapshot_id: id,
            };
            me.save(&encode(&meta, &bytes), last.map_or(0, |l| l.index))
                .map_err(sm_err)?;
            Ok(Snapshot {
                meta,
                snapshot: Box::new(Cursor::new(bytes)),
            })
        })
        .await
        .map_err(sm_err)?
    }
}

impl RaftStateMachine<TypeConfig> for Machine {
    type SnapshotBuilder = Machine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, ServerNode>), StorageError<NodeId>>
    {
        let g = self.applied.lock();
        Ok((g.last, g.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut out = Vec::new();
        for e in entries {
            let mut g = self.applied.lock();
            match e.payload {
                EntryPayload::Blank => {}
                EntryPayload::Membership(m) => {
                    g.membership = StoredMembership::new(Some(e.log_id), m);
                }
                EntryPayload::Normal(req) => {
                    let index = e.log_id.index;
                    let outcome = ordu::log::decode_entry(req.entry.get().as_bytes())
                        .and_then(|cmd| self.store.apply_committed_outcome(index, cmd));
                    if let Err(err) = &outcome {
                        // Refusals at apply are decided alike on every
                        // server; anything else is worth a line.
                        if !matches!(err.kind(), ErrorKind::Conflict | ErrorKind::NotFound) {
                            tracing::warn!(index, "entry not applied: {err}");
                        }
                    }
                    if req.origin == self.me {
                        self.outcomes.record(req.proposal, outcome);
                    }
                }
            }
            g.last = Some(e.log_id);
            out.push(Response {});
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, ServerNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let state = snapshot.into_inner();
        let mut g = self.applied.lock();
        self.store.restore_snapshot(&state).map_err(sm_err)?;
        g.last = meta.last_log_id;
        g.membership = meta.last_membership.clone();
        drop(g);
        self.save(
            &encode(meta, &state),
            meta.last_log_id.map_or(0, |l| l.index),
        )
        .map_err(sm_err)
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        self.current()
    }
}
