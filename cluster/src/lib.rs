//! A replicated ordu store: three or five servers agree on one log with
//! [openraft](https://docs.rs/openraft) (0.9, storage v2), and every server
//! applies it to its own [`ordu::Store`] at Raft's index.
//!
//! - **Log**: Raft's log on disk in `raft.redb` ([`logstore`]), each append
//!   synced before the leader hears it is stored.
//! - **State machine**: the store ([`machine`]); its snapshots are the
//!   store's, in a checksummed file (`raft-snapshot.snap`).
//! - **Writes**: the store's log is Raft ([`proposer`]): a write on the
//!   leader becomes a Raft entry, and is answered with the outcome of
//!   applying it, once committed by a quorum. The store leads only while
//!   Raft says this server does, and only once it applied every entry its
//!   term began with, so the broker it rebuilds sees the whole state.
//! - **Network**: Raft's messages are JSON over HTTP between the servers'
//!   Raft ports ([`network`], [`rpc`]).
//!
//! Core knows nothing of Raft: this crate hosts the log seam
//! (`docs/log-seam.md`) as the durable crate does.

// openraft's error types are large, and its traits return them, as do the
// helpers here that feed them.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Cursor;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ordu::{Config, Store};
use serde::{Deserialize, Serialize};

pub mod logstore;
pub mod machine;
pub mod network;
mod proposer;
mod rpc;

/// A server's ID in the cluster.
pub type NodeId = u64;

/// An ordu entry as Raft carries it: the entry bytes
/// ([`ordu::log::encode_entry`]), and who proposed it, so that the server
/// that did can answer its write with the outcome.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Request {
    pub origin: NodeId,
    pub proposal: u64,
    pub entry: Box<serde_json::value::RawValue>,
}

/// What applying an entry answers Raft (the outcome goes to the proposing
/// write directly).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Response {}

/// Where a server is reached: its Raft port and its HTTP API.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerNode {
    pub raft_addr: String,
    pub api_addr: String,
}

impl std::fmt::Display for ServerNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "raft {} api {}", self.raft_addr, self.api_addr)
    }
}

openraft::declare_raft_types!(
    /// The cluster's Raft types.
    pub TypeConfig:
        D = Request,
        R = Response,
        NodeId = NodeId,
        Node = ServerNode,
        SnapshotData = Cursor<Vec<u8>>,
);

/// This crate's Raft.
pub type Raft = openraft::Raft<TypeConfig>;

/// How one server of a cluster is run.
#[derive(Clone, Debug)]
pub struct Options {
    pub id: NodeId,
    pub dir: PathBuf,
    /// Where this server listens for Raft's messages.
    pub raft_addr: SocketAddr,
    /// Every server of the cluster, this one among them. A new cluster
    /// starts with these as its voters (the server with the lowest ID
    /// proposes it); a restarted one keeps the membership in its log.
    pub servers: BTreeMap<NodeId, ServerNode>,
    pub heartbeat: Duration,
    pub election_timeout: (Duration, Duration),
    /// Snapshot (and purge the log before it) every this many entries.
    pub snapshot_every: u64,
}

impl Options {
    /// Options with the default timings.
    pub fn new(
        id: NodeId,
        dir: impl Into<PathBuf>,
        raft_addr: SocketAddr,
        servers: BTreeMap<NodeId, ServerNode>,
    ) -> Options {
        Options {
            id,
            dir: dir.into(),
            raft_addr,
            servers,
            heartbeat: Duration::from_millis(100),
            election_timeout: (Duration::from_millis(400), Duration::from_millis(800)),
            snapshot_every: 10_000,
        }
    }
}

/// One running server of a cluster.
#[derive(Clone)]
pub struct Cluster {
    pub id: NodeId,
    raft: Raft,
    store: Arc<Store>,
    contact: Arc<rpc::Contact>,
    /// See [`Cluster::confirm_leadership`].
    confirmed: Arc<Confirmations>,
    _lock: Arc<File>,
    _runtime: Arc<RaftRuntime>,
}

/// The confirmations of [`Cluster::confirm_leadership`]: requests counted
/// as they ask, and the last round's outcome with the count it covered.
struct Confirmations {
    asked: AtomicU64,
    last: tokio::sync::Mutex<(u64, Result<(), String>)>,
}

impl Default for Confirmations {
    fn default() -> Self {
        Confirmations {
            asked: AtomicU64::new(0),
            // Covers no request: the first one asks Raft.
            last: tokio::sync::Mutex::new((0, Ok(()))),
        }
    }
}

/// How long the leader waits for a follower to receive and restore a
/// snapshot before it sends it again.
const SNAPSHOT_INSTALL_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a confirmation of leadership may take before the request is
/// refused: a leader cut off from a quorum does not hold it for ever.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

/// Raft's own runtime. Its tasks and its storage's syncs (on the runtime's
/// blocking pool) must never queue behind the host's: a host whose blocking
/// pool is full of writes waiting for Raft would otherwise wait forever.
struct RaftRuntime(Option<tokio::runtime::Runtime>);

impl Drop for RaftRuntime {
    fn drop(&mut self) {
        // Dropped from async code too, where a blocking shutdown panics.
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

fn lock_dir(dir: &Path) -> Result<File, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join("LOCK");
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "data directory {} is in use by another process",
            dir.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("{}: {e}", path.display())),
    }
}

impl Cluster {
    /// Starts this server: opens its directory, restores its snapshot,
    /// starts Raft and its port, and, on a new cluster, the lowest ID among
    /// `servers` proposes the first membership. Raft runs on a runtime of
    /// its own, which lives as long as the last clone of the cluster.
    pub async fn start(opts: Options, config: Config) -> Result<Cluster, String> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(32)
            .thread_name("ordu-raft")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start Raft's runtime: {e}"))?;
        let runtime = Arc::new(RaftRuntime(Some(rt)));
        let handle = runtime.0.as_ref().expect("just built").handle().clone();
        let started = handle.spawn(Self::start_on(opts, config, handle.clone()));
        let mut c = started
            .await
            .map_err(|e| format!("Raft's start failed: {e}"))??;
        c._runtime = runtime;
        Ok(c)
    }

    /// [`Cluster::start`] on Raft's runtime (`runtime`).
    async fn start_on(
        opts: Options,
        config: Config,
        runtime: tokio::runtime::Handle,
    ) -> Result<Cluster, String> {
        let lock = lock_dir(&opts.dir)?;
        let log_store = logstore::LogStore::open(&opts.dir)?;
        let outcomes = Arc::new(machine::Outcomes::default());
        let slot = Arc::new(OnceLock::new());
        let store = Store::new(config);
        store.set_leader(false);
        let store = Arc::new(store.with_log(proposer::RaftLog {
            me: opts.id,
            raft: slot.clone(),
            runtime,
            outcomes: outcomes.clone(),
            next: AtomicU64::new(0),
        }));
        let sm = machine::Machine::open(opts.id, &opts.dir, store.clone(), outcomes)?;
        let config = openraft::Config {
            cluster_name: "ordu".into(),
            heartbeat_interval: opts.heartbeat.as_millis() as u64,
            election_timeout_min: opts.election_timeout.0.as_millis() as u64,
            election_timeout_max: opts.election_timeout.1.as_millis() as u64,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(opts.snapshot_every.max(1)),
            // A server behind by more than this gets the snapshot instead.
            max_in_snapshot_log_to_keep: opts.snapshot_every.clamp(1, 1000),
            // Sending a snapshot and restoring it on the follower: openraft's
            // 200 ms default is shorter than a restore takes on a busy
            // machine (seconds for a state of a million allocations), and a
            // follower whose install times out is sent it again and again,
            // never catching up.
            install_snapshot_timeout: SNAPSHOT_INSTALL_TIMEOUT.as_millis() as u64,
            ..Default::default()
        };
        let config = Arc::new(config.validate().map_err(|e| e.to_string())?);
        let listener = rpc::bind(opts.raft_addr).await?;
        let raft = Raft::new(opts.id, config, network::Network::new(), log_store, sm)
            .await
            .map_err(|e| format!("cannot start Raft: {e}"))?;
        let _ = slot.set(raft.clone());
        let contact = Arc::new(rpc::Contact::default());
        tokio::spawn(rpc::serve(listener, raft.clone(), contact.clone()));
        tokio::spawn(follow_leadership(opts.id, raft.clone(), store.clone()));
        let first = opts.servers.keys().next().copied();
        if first == Some(opts.id) && !raft.is_initialized().await.map_err(|e| e.to_string())? {
            // Refused when a membership is already in the log: fine.
            let _ = raft.initialize(opts.servers.clone()).await;
        }
        Ok(Cluster {
            id: opts.id,
            raft,
            store,
            contact,
            confirmed: Arc::default(),
            _lock: Arc::new(lock),
            // Set by `start`, which owns it.
            _runtime: Arc::new(RaftRuntime(None)),
        })
    }

    /// The store: reads on any server, writes on the leader.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Returns once a quorum confirmed that this server leads, after the
    /// request that calls it arrived, and its state holds every entry
    /// committed before that: what this server then reads from its state
    /// is linearizable. A leader that was deposed without knowing it (paused,
    /// cut off, or restarted with its old vote) learns it here, instead of
    /// answering from its stale state. Requests that arrive while one
    /// confirmation is under way share the next, so a busy leader makes one
    /// round of heartbeats at a time, not one per request.
    pub async fn confirm_leadership(&self) -> Result<(), String> {
        let c = &self.confirmed;
        let ticket = c.asked.fetch_add(1, Ordering::SeqCst) + 1;
        let mut last = c.last.lock().await;
        if last.0 >= ticket {
            return last.1.clone();
        }
        // Every request counted so far arrived before this round began.
        let covers = c.asked.load(Ordering::SeqCst);
        let outcome = match tokio::time::timeout(CONFIRM_TIMEOUT, self.confirm_round()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!(
                "this server could not confirm that it leads within {CONFIRM_TIMEOUT:?}"
            )),
        };
        *last = (covers, outcome.clone());
        outcome
    }

    /// One confirmation: asked again while the answers of a quorum were
    /// only late (a busy machine) and this server is still Raft's leader;
    /// refused as soon as another leads or this one stepped down.
    async fn confirm_round(&self) -> Result<(), String> {
        use openraft::error::{CheckIsLeaderError, RaftError};
        loop {
            match self.raft.ensure_linearizable().await {
                Ok(_) => return Ok(()),
                Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(_)))
                    if self.leads() =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return Err(format!("this server no longer leads: {e}")),
            }
        }
    }

    /// Whether Raft has this server in its leader state now.
    fn leads(&self) -> bool {
        let m = self.raft.metrics().borrow().clone();
        m.current_leader == Some(self.id) && m.state == openraft::ServerState::Leader
    }

    /// The leader as this server knows it, with its addresses. A server
    /// that names itself (from its vote, say, after a restart) but is not
    /// in Raft's leader state knows no leader yet.
    pub fn leader(&self) -> Option<(NodeId, ServerNode)> {
        let m = self.raft.metrics().borrow().clone();
        let id = m.current_leader?;
        if id == self.id && m.state != openraft::ServerState::Leader {
            return None;
        }
        let node = m.membership_config.membership().get_node(&id)?.clone();
        Some((id, node))
    }

    /// Every server of the current membership.
    pub fn servers(&self) -> BTreeMap<NodeId, ServerNode> {
        let m = self.raft.metrics().borrow().clone();
        m.membership_config
            .membership()
            .nodes()
            .map(|(id, n)| (*id, n.clone()))
            .collect()
    }

    /// How long since this server last heard from the leader (zero on the
    /// leader itself); none when it never did.
    pub fn last_contact(&self) -> Option<Duration> {
        let m = self.raft.metrics().borrow().clone();
        if m.current_leader == Some(self.id) {
            return Some(Duration::ZERO);
        }
        self.contact.since()
    }

    /// Adds a server: as a learner first, until it caught up with the log
    /// (or a snapshot), then as a voter. Only the leader can.
    pub async fn add_server(&self, id: NodeId, node: ServerNode) -> Result<(), String> {
        self.raft
            .add_learner(id, node, true)
            .await
            .map_err(|e| format!("cannot add server {id}: {e}"))?;
        let mut voters: std::collections::BTreeSet<NodeId> = self.voters();
        voters.insert(id);
        self.raft
            .change_membership(voters, false)
            .await
            .map_err(|e| format!("cannot make server {id} a voter: {e}"))?;
        Ok(())
    }

    /// Removes a server from the membership. Only the leader can.
    pub async fn remove_server(&self, id: NodeId) -> Result<(), String> {
        let mut voters = self.voters();
        if !voters.remove(&id) {
            return Err(format!("server {id} is not a voter of this cluster"));
        }
        if voters.is_empty() {
            return Err("the last server cannot be removed".into());
        }
        self.raft
            .change_membership(voters, false)
            .await
            .map_err(|e| format!("cannot remove server {id}: {e}"))?;
        Ok(())
    }

    /// The voters of the current membership.
    pub fn voters(&self) -> std::collections::BTreeSet<NodeId> {
        let m = self.raft.metrics().borrow().clone();
        m.membership_config.membership().voter_ids().collect()
    }

    /// The log index of the current membership.
    pub fn membership_index(&self) -> u64 {
        let m = self.raft.metrics().borrow().clone();
        m.membership_config.log_id().map_or(0, |l| l.index)
    }

    /// Stops Raft (the server's port stays until the runtime ends).
    pub async fn shutdown(&self) {
        let _ = self.raft.shutdown().await;
    }
}

/// Keeps the store's leadership Raft's: it leads once Raft made this server
/// leader and it applied what the term's first entry committed, and follows
/// as soon as Raft says another leads or none does.
async fn follow_leadership(me: NodeId, raft: Raft, store: Arc<Store>) {
    let mut metrics = raft.metrics();
    loop {
        let leads = {
            let m = metrics.borrow_and_update();
            m.current_leader == Some(me) && m.state == openraft::ServerState::Leader
        };
        if leads && !store.is_leader() {
            // Applied up to the leader's commit: the broker is rebuilt from
            // a state with every committed entry in it.
            if raft.ensure_linearizable().await.is_ok() {
                let still = {
                    let m = raft.metrics().borrow().clone();
                    m.current_leader == Some(me)
                };
                if still {
                    let store = store.clone();
                    let _ = tokio::task::spawn_blocking(move || store.set_leader(true)).await;
                }
            } else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        } else if !leads && store.is_leader() {
            let store = store.clone();
            let _ = tokio::task::spawn_blocking(move || store.set_leader(false)).await;
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}
