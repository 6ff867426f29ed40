//! [`Store`]: the front door. It validates requests, mints IDs and times, builds
//! commands, applies them at the next index, wakes the waiters whose reads
//! changed, runs the evaluations it created, and serves blocking reads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};

use crate::command::Command;
use crate::error::{Error, Result};
use crate::log::{Log, MemoryLog};
use crate::scheduler::broker::{Broker, Delivery, Outcome};
use crate::scheduler::{self, Context};
use crate::state::{keys, Applied, State};
use crate::structs::{
    validate_alloc_update, validate_job, validate_node, validate_node_status, AllocClientStatus,
    AllocClientUpdate, AllocListStub, Allocation, EvalStatus, Evaluation, Job, JobListStub,
    JobRegisterRequest, JobWriteResponse, Limits, Node, NodeListStub, NodeStatus,
    NodeUpdateResponse, Plan, JOB_TYPE_SYSTEM, TRIGGER_ALLOC_FAILURE, TRIGGER_JOB_DEREGISTER,
    TRIGGER_JOB_REGISTER, TRIGGER_NODE_DRAIN, TRIGGER_NODE_UPDATE,
};
use crate::watch::{Key, Watch};

/// The time source of a store. `apply` never reads it: the store stamps times
/// into commands.
pub trait Clock: Send + Sync {
    /// Unix nanoseconds.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64)
    }
}

/// A clock that moves only when told, for deterministic tests.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock reading `now` nanoseconds.
    pub fn new(now: i64) -> Self {
        ManualClock(Arc::new(AtomicU64::new(now as u64)))
    }
    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_nanos() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst) as i64
    }
}

/// The source of new IDs (evaluations, allocations).
pub trait IdSource: Send + Sync {
    /// A new unique ID in UUID form.
    fn new_id(&self) -> String;
}

/// Random version-4 UUIDs.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn new_id(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
}

/// How many evaluations the store writes canceled between the collections of
/// canceled evaluations it runs itself (see [`Store::collect_canceled`]).
const CANCELED_COLLECT_EVERY: u64 = 4096;

/// UUID-shaped IDs from a counter, for deterministic tests.
#[derive(Debug, Default)]
pub struct SequentialIds(AtomicU64);

impl SequentialIds {
    /// IDs counting on from `n` (stores that mint IDs side by side, such as
    /// replicas that lead in turn, each start elsewhere).
    pub fn after(n: u64) -> Self {
        SequentialIds(AtomicU64::new(n))
    }
}

impl IdSource for SequentialIds {
    fn new_id(&self) -> String {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        format!("00000000-0000-4000-8000-{n:012x}")
    }
}

/// Who runs the evaluations a write creates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SchedulingMode {
    /// The store runs them before the write returns: a host drives nothing.
    #[default]
    Inline,
    /// The host dequeues evaluations and processes them from its own threads.
    /// An evaluation superseded by a newer one of the same job while it
    /// waited stays `pending` in the state until the next dequeue, which
    /// first writes all such evaluations `canceled` in one command.
    Manual,
    /// Evaluations of writes that come together are processed together: a
    /// write returns once its evaluations are processed, by its own thread
    /// or by the one whose group took them in. While one group runs, the
    /// writes that arrive wait; the first of them then processes all of
    /// their evaluations at once (re-registers of one job from many clients
    /// so coalesce, as in Nomad's broker), and each thread does at most the
    /// group that holds its own write. Every read first waits for the
    /// groups of writes answered before it, so it sees them processed.
    Grouped,
    /// Grouped processing that the host drives: a write returns as soon as
    /// it applied, its evaluations queued, and the host processes them in
    /// groups with [`Store::process_queued`] from a thread (or task) of its
    /// own, so that a writer never waits for a scheduler run. Reads keep
    /// the barrier of [`SchedulingMode::Grouped`]: a read first processes
    /// (or waits for) the groups of writes answered before it, so it never
    /// sees a write without its evaluations processed.
    /// [`Store::processing_behind`] tells the host there is work. An
    /// asynchronous host (`ordu-http`) uses this mode to keep scheduler
    /// runs off the path of its writes.
    Queued,
}

/// How a store is set up.
#[derive(Clone, Debug)]
pub struct Config {
    /// The one region the store holds (`global` by default).
    pub region: String,
    /// Bounds on requests.
    pub limits: Limits,
    /// Who runs the evaluations writes create.
    pub mode: SchedulingMode,
    /// Deliveries of an evaluation before it is failed.
    pub delivery_limit: u32,
    /// How long a dequeued evaluation may stay neither acked nor nacked
    /// before it counts as nacked (delivered again, or failed at the
    /// delivery limit) and its token stops working: Nomad's nack timeout.
    pub nack_timeout: Duration,
    /// Seed of the schedulers' random choices.
    pub seed: u64,
    /// Canceled evaluations without allocations kept per job, newest first;
    /// older ones are collected by [`Store::collect_canceled`] and
    /// [`Store::garbage_collect`] whatever their age. Coalescing cancels one
    /// evaluation per superseded write, and none of them is read again, so
    /// keeping them all until the age threshold grows the store with the
    /// write rate. Nomad keeps them until its GC; the few kept here are what
    /// a reader looking at a job's recent history expects to see.
    pub canceled_evals_kept: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            region: "global".into(),
            limits: Limits::default(),
            mode: SchedulingMode::Inline,
            delivery_limit: 3,
            nack_timeout: Duration::from_secs(60),
            seed: 0x6f72_6475,
            canceled_evals_kept: 16,
        }
    }
}

/// Default wait of a blocking read.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(300);
/// Longest wait of a blocking read (before jitter).
pub const MAX_WAIT: Duration = Duration::from_secs(600);
/// Plan attempts before an evaluation is nacked.
const MAX_PLAN_ATTEMPTS: usize = 5;

/// Options of every read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// Block until the answer's index is above this (0: answer at once).
    pub min_index: u64,
    /// How long to block; default 5 minutes, capped at 10, plus up to 1/16 jitter.
    pub wait: Option<Duration>,
    /// The region asked for; another region than the store's is an error.
    pub region: Option<String>,
}

impl QueryOptions {
    /// How long a read with these options blocks at most, before jitter: `wait`,
    /// or [`DEFAULT_WAIT`] when it is absent or zero, capped at [`MAX_WAIT`].
    pub fn effective_wait(&self) -> Duration {
        self.wait
            .filter(|w| !w.is_zero())
            .unwrap_or(DEFAULT_WAIT)
            .min(MAX_WAIT)
    }

    /// Blocks until the index is above `min_index`, for at most `wait`.
    pub fn blocking(min_index: u64, wait: Duration) -> Self {
        QueryOptions {
            min_index,
            wait: Some(wait),
            region: None,
        }
    }
}

/// A job register that passed every check that does not need the state
/// ([`Store::check_register`]), ready for [`Store::commit_register`].
#[derive(Clone, Debug)]
pub struct CheckedRegister {
    job: Job,
    enforce_index: Option<u64>,
}

impl CheckedRegister {
    /// The job, with its defaults.
    pub fn job(&self) -> &Job {
        &self.job
    }
}

/// Options of job writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// The region asked for; another region than the store's is an error.
    pub region: Option<String>,
}

/// What every read answers besides its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryMeta {
    /// Index of the last change to what the read covers.
    pub index: u64,
    /// Always true: an embedded store is its own leader.
    pub known_leader: bool,
    /// Milliseconds since contact with the leader: always 0.
    pub last_contact: u64,
}

/// A read's value and its meta.
#[derive(Clone, Debug, PartialEq)]
pub struct Query<T> {
    /// The answer.
    pub value: T,
    /// Its index.
    pub meta: QueryMeta,
}

type ReadFn<T> = Box<dyn Fn(&State) -> (Result<T>, u64) + Send + Sync>;

/// One read: the watch keys it covers and how to compute its answer and index.
/// Wait on it with [`Store::wait`] (blocking) or [`Store::wait_async`].
pub struct Reader<T> {
    keys: Vec<Key>,
    read: ReadFn<T>,
}

/// The reads a store serves, each defined once for both ways to wait.
pub mod reads {
    use super::*;

    /// Reads with no history answer 1 rather than 0 once the store has had a
    /// write, so that `min_index` 0 (which never blocks) is never handed back.
    fn floor(index: u64, state: &State) -> u64 {
        index.max(state.index().min(1))
    }

    /// One job; a missing job is [`Error::NotFound`] carrying the index.
    pub fn job(id: &str) -> Reader<Arc<Job>> {
        let id = id.to_string();
        Reader {
            keys: vec![keys::job(&id)],
            read: Box::new(move |s| {
                let index = floor(s.job_index(&id), s);
                let v = s.job(&id).cloned().ok_or_else(|| Error::NotFound {
                    what: "job",
                    id: id.clone(),
                    index,
                });
                (v, index)
            }),
        }
    }

    /// Job list stubs in ID order, of the jobs whose ID starts with `prefix`.
    pub fn jobs(prefix: &str) -> Reader<Vec<JobListStub>> {
        let prefix = prefix.to_string();
        Reader {
            keys: vec![keys::jobs()],
            read: Box::new(move |s| {
                let v = s.jobs_with_prefix(&prefix).map(|j| j.stub()).collect();
                (Ok(v), floor(s.jobs_index(), s))
            }),
        }
    }

    /// A job's allocation stubs: of the current incarnation of the job, or of
    /// every incarnation with `all` (or when the job no longer exists).
    pub fn job_allocations(id: &str, all: bool) -> Reader<Vec<AllocListStub>> {
        let id = id.to_string();
        Reader {
            keys: vec![keys::job_allocs(&id)],
            read: Box::new(move |s| {
                let current = if all {
                    None
                } else {
                    s.job(&id).map(|j| j.create_index)
                };
                let v = s
                    .allocs_by_job(&id)
                    .iter()
                    .filter(|a| current.is_none_or(|c| a.job.create_index == c))
                    .map(|a| a.stub())
                    .collect();
                (Ok(v), floor(s.job_allocs_index(&id), s))
            }),
        }
    }

    /// A job's evaluations, in ID order.
    pub fn job_evaluations(id: &str) -> Reader<Vec<Arc<Evaluation>>> {
        let id = id.to_string();
        Reader {
            keys: vec![keys::job_evals(&id)],
            read: Box::new(move |s| (Ok(s.evals_by_job(&id)), floor(s.job_evals_index(&id), s))),
        }
    }

    /// One evaluation.
    pub fn evaluation(id: &str) -> Reader<Arc<Evaluation>> {
        let id = id.to_string();
        Reader {
            keys: vec![keys::eval(&id)],
            read: Box::new(move |s| match s.eval(&id) {
                Some(e) => (Ok(e.clone()), e.modify_index),
                None => {
                    let index = floor(s.evals_index(), s);
                    let err = Error::NotFound {
                        what: "eval",
                        id: id.clone(),
                        index,
                    };
                    (Err(err), index)
                }
            }),
        }
    }

    /// One allocation.
    pub fn allocation(id: &str) -> Reader<Arc<Allocation>> {
        let id = id.to_string();
        Reader {
            keys: vec![keys::alloc(&id)],
            read: Box::new(move |s| match s.alloc(&id) {
                Some(a) => (Ok(a.clone()), a.modify_index),
                None => {
                    let index = floor(s.allocs_index(), s);
                    let err = Error::NotFound {
                        what: "alloc",
                        id: id.clone(),
                        index,
                    };
                    (Err(err), index)
                }
            }),
        }
    }

    /// One node.
    pub fn node(id: &str) -> Reader<Arc<Node>> {
        let id = id.to_string();
        Reader {
            keys: vec![keys::node(&id)],
            read: Box::new(move |s| {
                let index = floor(s.node_index(&id), s);
                let v = s.node(&id).cloned().ok_or_else(|| Error::NotFound {
                    what: "node",
                    id: id.clone(),
                    index,
                });
                (v, index)
            }),
        }
    }

    /// Node stubs in ID order, of the nodes whose ID starts with `prefix`.
    pub fn nodes(prefix: &str) -> Reader<Vec<NodeListStub>> {
        let prefix = prefix.to_string();
        Reader {
            keys: vec![keys::nodes()],
            read: Box::new(move |s| {
                let v = s
                    .nodes()
                    .filter(|n| n.id.starts_with(&prefix))
                    .map(|n| n.stub())
                    .collect();
                (Ok(v), floor(s.nodes_index(), s))
            }),
        }
    }

    /// The allocation stubs of an evaluation's job that name it as their
    /// `EvalID`, in ID order; `[]` for an unknown evaluation, as Nomad
    /// answers. The index is the allocation table's, as Nomad's.
    pub fn eval_allocations(id: &str) -> Reader<Vec<AllocListStub>> {
        let id = id.to_string();
        Reader {
            keys: vec![keys::eval_allocs(&id)],
            read: Box::new(move |s| {
                let v = match s.eval(&id) {
                    Some(e) => s
                        .allocs_by_job(&e.job_id)
                        .iter()
                        .filter(|a| a.eval_id == id)
                        .map(|a| a.stub())
                        .collect(),
                    None => Vec::new(),
                };
                (Ok(v), floor(s.allocs_index(), s))
            }),
        }
    }

    /// A node's allocations (full objects).
    pub fn node_allocations(id: &str) -> Reader<Vec<Arc<Allocation>>> {
        let id = id.to_string();
        Reader {
            keys: vec![keys::node_allocs(&id)],
            read: Box::new(move |s| {
                (
                    Ok(s.allocs_by_node(&id)),
                    floor(s.node_allocs_index(&id), s),
                )
            }),
        }
    }
}

/// The store: state, broker, waiters. Internally synchronised; share it with
/// `Arc` and call it from any thread.
pub struct Store {
    config: Config,
    state: RwLock<State>,
    broker: Mutex<Broker>,
    /// Evaluations the broker superseded when a write queued a newer one of
    /// the same job, not yet written `canceled`. They are written together,
    /// in one command, before the next evaluation is handed out (inline: at
    /// the end of the same write), as Nomad's broker reaps its cancelable
    /// evaluations in batches: writes to one job in a row, processed
    /// together, then cost one cancel write instead of one each.
    superseded: Mutex<Vec<Arc<Evaluation>>>,
    /// Serialises scheduler runs (inline, grouped and queued modes), so that
    /// one group at a time dequeues and a write or read waiting for one
    /// knows when it ended.
    scheduling: Mutex<()>,
    watch: Arc<Watch>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
    log: Box<dyn Log>,
    /// One append at a time, in the order they apply; holds the last index
    /// the log gave (an entry the state refused still took its index).
    log_turn: Mutex<u64>,
    /// See [`Store::is_leader`].
    leader: AtomicBool,
    /// Evaluations written canceled since the last [`Store::collect_canceled`]
    /// the store ran itself.
    canceled_since_collect: AtomicU64,
    /// Grouped and queued modes: the index of the last write whose
    /// evaluations are queued, and the index up to which queued evaluations
    /// were processed.
    queued_upto: AtomicU64,
    processed_upto: AtomicU64,
    runs: AtomicU64,
    /// Index of the last write that added capacity (a node ready or
    /// undrained, an allocation finished): a blocked evaluation planned
    /// before it has not seen that capacity.
    capacity_index: AtomicU64,
}

impl Default for Store {
    fn default() -> Self {
        Store::new(Config::default())
    }
}

impl Store {
    /// A store with the system clock and random IDs.
    pub fn new(config: Config) -> Self {
        Store::with_sources(config, Arc::new(SystemClock), Arc::new(RandomIds))
    }

    /// A store with the given clock and ID source (deterministic in tests).
    pub fn with_sources(config: Config, clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>) -> Self {
        Store {
            broker: Mutex::new(Broker::new(config.delivery_limit)),
            superseded: Mutex::new(Vec::new()),
            config,
            state: RwLock::new(State::new()),
            scheduling: Mutex::new(()),
            watch: Arc::new(Watch::new()),
            clock,
            ids,
            log: Box::new(MemoryLog),
            log_turn: Mutex::new(0),
            leader: AtomicBool::new(true),
            canceled_since_collect: AtomicU64::new(0),
            queued_upto: AtomicU64::new(0),
            processed_upto: AtomicU64::new(0),
            runs: AtomicU64::new(0),
            capacity_index: AtomicU64::new(0),
        }
    }

    /// Sets the log every write goes to before it applies (see
    /// [`crate::log`]); the default commits at once.
    pub fn with_log(mut self, log: impl Log + 'static) -> Self {
        self.log = Box::new(log);
        self
    }

    /// Replaces the state (a snapshot restored or replayed), re-queues its
    /// pending and blocked evaluations, and wakes every waiter.
    pub fn restore(&self, state: State) {
        let canceled = {
            // No append in flight while the state is swapped; the log's last
            // index stays (indexes never go back).
            let _turn = self.log_turn.lock();
            *self.state.write() = state;
            self.rebuild_broker()
        };
        self.requeue();
        self.cancel(canceled);
        self.watch.notify_all();
        self.run_inline();
    }

    /// After the broker was rebuilt from the state: what it holds counts as
    /// queued, whatever index earlier groups reached (a restored state may
    /// be older, a leader again may have applied nothing since). Under the
    /// scheduling lock, so that no group begun before the rebuild records
    /// its index afterwards.
    fn requeue(&self) {
        let _guard = self.scheduling.lock();
        self.processed_upto.store(0, Ordering::SeqCst);
    }

    /// Whether this store leads: only a leader takes writes of its own, runs
    /// the broker and the schedulers; a follower applies what its log
    /// committed ([`Store::apply_committed`]) and serves reads. A store leads
    /// from the start unless the host says otherwise.
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::SeqCst)
    }

    /// Makes this store lead or follow, as its host's log says. Gaining
    /// leadership rebuilds the broker from the state (pending, blocked and
    /// delayed evaluations go on, as on Nomad's new leader); losing it drops
    /// the broker, and deliveries handed out before are refused.
    pub fn set_leader(&self, lead: bool) {
        let canceled = {
            let _turn = self.log_turn.lock();
            if self.leader.swap(lead, Ordering::SeqCst) == lead {
                return;
            }
            if lead {
                self.rebuild_broker()
            } else {
                self.superseded.lock().clear();
                *self.broker.lock() = Broker::new(self.config.delivery_limit);
                // Nothing stays queued: the broker that held it is gone, and
                // a leader this store becomes again queues from the state.
                let queued = self.queued_upto.load(Ordering::SeqCst);
                self.processed_upto.fetch_max(queued, Ordering::SeqCst);
                Vec::new()
            }
        };
        if lead {
            self.requeue();
            self.cancel(canceled);
            self.run_inline();
        }
    }

    /// A broker holding the state's pending and blocked evaluations; returns
    /// those superseded on the way (to be written canceled). Called with the
    /// log turn held, so that no write's evaluations are queued twice.
    fn rebuild_broker(&self) -> Vec<Arc<Evaluation>> {
        let evals: Vec<_> = self.state.read().evals().cloned().collect();
        self.superseded.lock().clear();
        let mut b = self.broker.lock();
        *b = Broker::new(self.config.delivery_limit);
        if !self.is_leader() {
            return Vec::new();
        }
        evals.into_iter().flat_map(|e| b.enqueue(e)).collect()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Index of the last write.
    pub fn index(&self) -> u64 {
        self.state.read().index()
    }

    /// Runs `f` on a consistent view of the whole state.
    pub fn with_state<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.read())
    }

    /// Applies an already-built command through the log, at the next index it
    /// gives, as any write does.
    pub fn apply(&self, cmd: Command) -> Result<u64> {
        Ok(self.commit(cmd)?.index)
    }

    /// Applies a command that a log committed elsewhere at `index` (a
    /// replica's, or one replayed at start), without handing it to this
    /// store's log. `index` must be above every index applied or logged here.
    pub fn apply_committed(&self, index: u64, cmd: Command) -> Result<u64> {
        let mut last = self.log_turn.lock();
        let after = (*last).max(self.state.read().index());
        if index <= after {
            return Err(Error::Conflict {
                message: format!("index {index} is not after the last applied, {after}"),
                current_index: after,
            });
        }
        *last = index;
        let applied = self.apply_at(index, cmd, false);
        drop(last);
        Ok(applied?.index)
    }

    /// [`Store::apply_committed`] for entry bytes from
    /// [`crate::log::encode_entry`] (a host's log read back, or shipped from
    /// the leader).
    pub fn apply_entry(&self, index: u64, entry: &[u8]) -> Result<u64> {
        self.apply_committed(index, crate::log::decode_entry(entry)?)
    }

    /// The whole state as snapshot bytes ([`State::snapshot`]).
    pub fn snapshot(&self) -> Vec<u8> {
        self.state.read().snapshot()
    }

    /// Replaces the state with one from [`Store::snapshot`] bytes (see
    /// [`Store::restore`]); bytes that do not decode change nothing.
    pub fn restore_snapshot(&self, bytes: &[u8]) -> Result<()> {
        self.restore(State::restore(bytes)?);
        Ok(())
    }

    /// Checks that `region`, when given and not empty, is the store's region;
    /// every operation that takes a region does this first.
    pub fn check_region(&self, region: Option<&str>) -> Result<()> {
        match region {
            Some(r) if !r.is_empty() && r != self.config.region => Err(Error::Region {
                requested: r.to_string(),
                region: self.config.region.clone(),
            }),
            _ => Ok(()),
        }
    }

    fn new_eval(&self, job: &Job, trigger: &str) -> Evaluation {
        let now = self.clock.now();
        Evaluation {
            id: self.ids.new_id(),
            namespace: job.namespace.clone(),
            priority: job.priority,
            eval_type: job.job_type.clone(),
            triggered_by: trigger.to_string(),
            job_id: job.id.clone(),
            job_modify_index: job.job_modify_index,
            status: EvalStatus::Pending,
            create_time: now,
            modify_time: now,
            ..Evaluation::default()
        }
    }

    /// Hands `cmd` to the log and, once it committed, applies it at the index
    /// the log gave, wakes its waiters and queues its evaluations. A log that
    /// refuses changes nothing. The state's lock is taken only to apply, so
    /// readers go on while the log works.
    fn commit(&self, cmd: Command) -> Result<Applied> {
        let mut last = self.log_turn.lock();
        if !self.is_leader() {
            return Err(Error::Unavailable {
                message: "this server is not the leader".into(),
            });
        }
        let after = {
            // Refused here, a write never reaches the log. `apply` decides
            // again at the state the entry lands on (the same one here: the
            // turn is held; on a replica, whatever came before it).
            let st = self.state.read();
            st.check(&cmd)?;
            (*last).max(st.index())
        };
        let index = self
            .log
            .append(after, &cmd)
            .map_err(|e| Error::Unavailable { message: e.0 })?;
        if index <= after {
            return Err(Error::Unavailable {
                message: format!("the log committed at index {index}, not after {after}"),
            });
        }
        *last = index;
        let applied = self.apply_at(index, cmd, true);
        drop(last);
        applied
    }

    /// Applies a committed command at `index` (above the state's), wakes its
    /// waiters and queues its evaluations. `checked`: [`State::check`]ed at
    /// the state it applies to, under the same log turn.
    fn apply_at(&self, index: u64, cmd: Command, checked: bool) -> Result<Applied> {
        let (applied, evals) = {
            let mut st = self.state.write();
            let eval_ids: Vec<String> = command_evals(&cmd).map(str::to_string).collect();
            let applied = if checked {
                st.apply_checked_owned(index, cmd)
            } else {
                st.apply_owned(index, cmd)?
            };
            let evals: Vec<_> = eval_ids
                .iter()
                .filter_map(|id| st.eval(id).cloned())
                .collect();
            (applied, evals)
        };
        self.watch.notify(applied.keys.iter().copied());
        // A follower keeps no broker: a leader it becomes rebuilds one.
        if !evals.is_empty() && self.is_leader() {
            let superseded: Vec<_> = {
                let mut b = self.broker.lock();
                evals.into_iter().flat_map(|e| b.enqueue(e)).collect()
            };
            if !superseded.is_empty() {
                self.superseded.lock().extend(superseded);
            }
        }
        Ok(applied)
    }

    /// Writes superseded evaluations as canceled.
    fn cancel(&self, evals: Vec<Arc<Evaluation>>) {
        self.finish_evals(evals, EvalStatus::Canceled, "");
    }

    fn finish_evals(&self, evals: Vec<Arc<Evaluation>>, status: EvalStatus, why: &str) {
        if evals.is_empty() {
            return;
        }
        let now = self.clock.now();
        let evals: Vec<Evaluation> = evals
            .into_iter()
            .map(|e| Evaluation {
                status,
                status_description: why.to_string(),
                modify_time: now,
                ..(*e).clone()
            })
            .collect();
        let n = evals.len() as u64;
        // Terminal updates cannot conflict.
        let written = self.commit(Command::EvalUpsert { evals }).is_ok();
        if written && status == EvalStatus::Canceled {
            // Collected every so many cancels, not on the host's timer: a
            // busy server cancels tens of thousands a minute. The scan is of
            // every evaluation, so its cost is spread over that many writes.
            let since = self.canceled_since_collect.fetch_add(n, Ordering::Relaxed) + n;
            if since >= CANCELED_COLLECT_EVERY {
                self.canceled_since_collect.store(0, Ordering::Relaxed);
                let _ = self.collect_canceled();
            }
        }
    }

    // ---- jobs ----

    /// Registers (creates or updates) a job and creates its evaluation, in one
    /// command. Defaults are applied first, then every rule is checked; a
    /// rejected request changes nothing. An identical spec creates an
    /// evaluation but leaves the job as it was. In inline mode the evaluation is
    /// processed before this returns.
    pub fn register_job(
        &self,
        req: JobRegisterRequest,
        opts: &WriteOptions,
    ) -> Result<JobWriteResponse> {
        let checked = self.check_register(req, opts)?;
        self.commit_register(checked)
    }

    /// The first half of [`Store::register_job`]: the region, the defaults and
    /// every rule, without the state. A host that writes from several threads
    /// can do this part in parallel and hand the result to
    /// [`Store::commit_register`], which is the part that writes one at a time.
    pub fn check_register(
        &self,
        req: JobRegisterRequest,
        opts: &WriteOptions,
    ) -> Result<CheckedRegister> {
        self.check_region(opts.region.as_deref())?;
        let Some(mut job) = req.job else {
            // Nomad answers this at the HTTP layer, as a 400.
            return Err(Error::Invalid {
                stage: crate::error::Stage::Decode,
                errors: vec![crate::error::FieldError::new(
                    "Job",
                    "Job must be specified",
                )],
            });
        };
        job.canonicalize(&self.config.region);
        self.check_region(Some(&job.region))?;
        validate_job(&job, &self.config.limits)?;
        Ok(CheckedRegister {
            job,
            enforce_index: req.enforce_index.then_some(req.job_modify_index),
        })
    }

    /// The second half of [`Store::register_job`]: writes the checked job
    /// and its evaluation (the job-modify-index check happens here, against
    /// the state of the moment) and, inline, processes the evaluation.
    pub fn commit_register(&self, checked: CheckedRegister) -> Result<JobWriteResponse> {
        let CheckedRegister {
            mut job,
            enforce_index,
        } = checked;
        job.submit_time = self.clock.now();
        let eval = self.new_eval(&job, TRIGGER_JOB_REGISTER);
        let eval_id = eval.id.clone();
        let applied = self.commit(Command::JobRegister {
            job,
            eval,
            enforce_index,
        })?;
        self.run_inline();
        Ok(JobWriteResponse {
            eval_id,
            eval_create_index: applied.index,
            job_modify_index: applied.job_modify_index,
            index: applied.index,
            ..JobWriteResponse::default()
        })
    }

    /// Registers a job from the JSON body of `PUT /v1/jobs`.
    pub fn register_job_json(&self, body: &[u8], opts: &WriteOptions) -> Result<JobWriteResponse> {
        let req = crate::structs::decode::<JobRegisterRequest>(body, &self.config.limits)?;
        self.register_job(req, opts)
    }

    /// Creates a `job-register` evaluation for an existing job; a missing job is
    /// [`Error::NotFound`].
    pub fn evaluate_job(&self, id: &str, opts: &WriteOptions) -> Result<JobWriteResponse> {
        self.check_region(opts.region.as_deref())?;
        let job = self
            .with_state(|s| s.job(id).cloned())
            .ok_or_else(|| Error::NotFound {
                what: "job",
                id: id.to_string(),
                index: 0,
            })?;
        let eval = self.new_eval(&job, TRIGGER_JOB_REGISTER);
        let eval_id = eval.id.clone();
        let applied = self.commit(Command::EvalUpsert { evals: vec![eval] })?;
        self.run_inline();
        Ok(JobWriteResponse {
            eval_id,
            eval_create_index: applied.index,
            job_modify_index: job.job_modify_index,
            index: applied.index,
            ..JobWriteResponse::default()
        })
    }

    /// Removes a job and creates the `job-deregister` evaluation that stops its
    /// allocations (they and the job's evaluations stay readable until
    /// collected). A job that does not exist: nothing is written, and the
    /// answer has an empty `EvalID` and index 0.
    pub fn deregister_job(&self, id: &str, opts: &WriteOptions) -> Result<JobWriteResponse> {
        self.check_region(opts.region.as_deref())?;
        let Some(job) = self.with_state(|s| s.job(id).cloned()) else {
            return Ok(JobWriteResponse::default());
        };
        let eval = self.new_eval(&job, TRIGGER_JOB_DEREGISTER);
        let eval_id = eval.id.clone();
        let applied = match self.commit(Command::JobDeregister {
            job_id: id.to_string(),
            eval,
        }) {
            Ok(a) => a,
            // Removed by another thread in between: as if it never existed.
            Err(Error::NotFound { .. }) => return Ok(JobWriteResponse::default()),
            Err(e) => return Err(e),
        };
        let blocked = self.broker.lock().untrack_blocked(id);
        self.cancel(blocked.into_iter().collect());
        self.run_inline();
        Ok(JobWriteResponse {
            eval_id,
            eval_create_index: applied.index,
            job_modify_index: applied.index,
            index: applied.index,
            ..JobWriteResponse::default()
        })
    }

    // ---- reads ----

    /// Answers `reader`, blocking as `opts` says (see [`QueryOptions`]).
    pub fn wait<T>(&self, reader: Reader<T>, opts: &QueryOptions) -> Result<Query<T>> {
        self.check_region(opts.region.as_deref())?;
        self.read_barrier();
        let deadline = self.deadline(opts);
        loop {
            match self.attempt(&reader, opts) {
                (_, Settled::Done(r)) => return r,
                (sub, Settled::Wait(r)) => {
                    let sub = sub.expect("subscribed when blocking");
                    if !sub.wait_until(deadline) {
                        return r;
                    }
                }
            }
        }
    }

    /// [`Store::wait`] as a `Future` that runs on any executor; thousands of
    /// them cost no thread each.
    pub async fn wait_async<T>(&self, reader: Reader<T>, opts: &QueryOptions) -> Result<Query<T>> {
        self.check_region(opts.region.as_deref())?;
        // Short (a group of evaluations) and only right after writes: taken
        // on the polling thread rather than as a future of its own.
        self.read_barrier();
        let deadline = self.deadline(opts);
        loop {
            match self.attempt(&reader, opts) {
                (_, Settled::Done(r)) => return r,
                (sub, Settled::Wait(r)) => {
                    let sub = sub.expect("subscribed when blocking");
                    if !sub.changed(deadline).await {
                        return r;
                    }
                }
            }
        }
    }

    /// One try of a read: subscribe (before reading, so no write is missed),
    /// read, and decide whether that answers it.
    fn attempt<T>(
        &self,
        reader: &Reader<T>,
        opts: &QueryOptions,
    ) -> (Option<crate::watch::Subscription>, Settled<T>) {
        let sub = (opts.min_index > 0).then(|| self.watch.subscribe(&reader.keys));
        let (value, index, current) = {
            let st = self.state.read();
            let (v, i) = (reader.read)(&st);
            (v, i, st.index())
        };
        (sub, self.settle(value, index, current, opts))
    }

    fn deadline(&self, opts: &QueryOptions) -> Instant {
        let wait = opts.effective_wait();
        Instant::now() + wait + jitter(wait / 16)
    }

    /// Decides whether a read answers now or waits for a change.
    fn settle<T>(
        &self,
        value: Result<T>,
        index: u64,
        current: u64,
        opts: &QueryOptions,
    ) -> Settled<T> {
        let meta = QueryMeta {
            index,
            known_leader: true,
            last_contact: 0,
        };
        let result = match value {
            Ok(value) => Ok(Query { value, meta }),
            Err(Error::NotFound { what, id, .. }) => Err(Error::NotFound { what, id, index }),
            Err(e) => return Settled::Done(Err(e)),
        };
        // A min_index past everything the store has means the caller's view is
        // from another history (a reset): answer at once.
        if opts.min_index == 0 || index > opts.min_index || opts.min_index > current {
            Settled::Done(result)
        } else {
            Settled::Wait(result)
        }
    }

    /// A job.
    pub fn job(&self, id: &str, opts: &QueryOptions) -> Result<Query<Arc<Job>>> {
        self.wait(reads::job(id), opts)
    }

    /// The job list, sorted by ID, filtered by ID prefix.
    pub fn jobs(&self, prefix: &str, opts: &QueryOptions) -> Result<Query<Vec<JobListStub>>> {
        self.wait(reads::jobs(prefix), opts)
    }

    /// A job's allocations (see [`reads::job_allocations`]).
    pub fn job_allocations(
        &self,
        id: &str,
        all: bool,
        opts: &QueryOptions,
    ) -> Result<Query<Vec<AllocListStub>>> {
        self.wait(reads::job_allocations(id, all), opts)
    }

    /// A job's evaluations.
    pub fn job_evaluations(
        &self,
        id: &str,
        opts: &QueryOptions,
    ) -> Result<Query<Vec<Arc<Evaluation>>>> {
        self.wait(reads::job_evaluations(id), opts)
    }

    /// An evaluation by ID.
    pub fn evaluation(&self, id: &str, opts: &QueryOptions) -> Result<Query<Arc<Evaluation>>> {
        self.wait(reads::evaluation(id), opts)
    }

    /// The allocations of an evaluation (see [`reads::eval_allocations`]).
    pub fn eval_allocations(
        &self,
        id: &str,
        opts: &QueryOptions,
    ) -> Result<Query<Vec<AllocListStub>>> {
        self.wait(reads::eval_allocations(id), opts)
    }

    /// An allocation by ID.
    pub fn allocation(&self, id: &str, opts: &QueryOptions) -> Result<Query<Arc<Allocation>>> {
        self.wait(reads::allocation(id), opts)
    }

    /// A node by ID.
    pub fn node(&self, id: &str, opts: &QueryOptions) -> Result<Query<Arc<Node>>> {
        self.wait(reads::node(id), opts)
    }

    /// The node list, sorted by ID, filtered by ID prefix.
    pub fn nodes(&self, prefix: &str, opts: &QueryOptions) -> Result<Query<Vec<NodeListStub>>> {
        self.wait(reads::nodes(prefix), opts)
    }

    /// A node's allocations.
    pub fn node_allocations(
        &self,
        id: &str,
        opts: &QueryOptions,
    ) -> Result<Query<Vec<Arc<Allocation>>>> {
        self.wait(reads::node_allocations(id), opts)
    }

    // ---- nodes ----

    /// Registers or updates a node (its `CreateIndex` and `Drain` are kept).
    /// Capacity that appears unblocks blocked evaluations, and system jobs get
    /// an evaluation to place on it.
    pub fn register_node(&self, node: Node) -> Result<NodeUpdateResponse> {
        validate_node(&node)?;
        let evals = self.with_state(|s| {
            let mut out = Vec::new();
            if node.status == NodeStatus::Ready {
                self.system_job_evals(s, &node.id, &mut out);
            }
            if s.node(&node.id)
                .is_some_and(|old| old.status != node.status && node.status == NodeStatus::Down)
            {
                self.node_job_evals(s, &node.id, TRIGGER_NODE_UPDATE, &mut out);
            }
            out
        });
        let id = node.id.clone();
        self.node_write(Command::NodeRegister { node, evals }, &id)
    }

    /// Registers a node from JSON: `{"Node": {...}}` or the node itself.
    pub fn register_node_json(&self, body: &[u8]) -> Result<NodeUpdateResponse> {
        let node = crate::structs::decode_node(body, &self.config.limits)?;
        self.register_node(node)
    }

    /// Removes a node; its allocations' jobs are evaluated so they move.
    pub fn deregister_node(&self, id: &str) -> Result<NodeUpdateResponse> {
        let evals = self.with_state(|s| {
            let mut out = Vec::new();
            self.node_job_evals(s, id, TRIGGER_NODE_UPDATE, &mut out);
            out
        });
        self.node_write(
            Command::NodeDeregister {
                node_id: id.to_string(),
                evals,
            },
            id,
        )
    }

    /// Sets a node's status. `down` makes its allocations lost and replaced
    /// elsewhere; `ready` adds capacity.
    pub fn update_node_status(&self, id: &str, status: &str) -> Result<NodeUpdateResponse> {
        validate_node_status(status)?;
        let evals = self.with_state(|s| {
            let mut out = Vec::new();
            let old = s.node(id).map(|n| n.status.clone());
            if old.as_deref() != Some(status) {
                if status == NodeStatus::Down {
                    self.node_job_evals(s, id, TRIGGER_NODE_UPDATE, &mut out);
                } else if status == NodeStatus::Ready {
                    self.system_job_evals(s, id, &mut out);
                }
            }
            out
        });
        self.node_write(
            Command::NodeUpdateStatus {
                node_id: id.to_string(),
                status: status.to_string(),
                evals,
            },
            id,
        )
    }

    /// Sets or clears a node's drain flag. Draining migrates its allocations.
    pub fn update_node_drain(&self, id: &str, drain: bool) -> Result<NodeUpdateResponse> {
        let evals = self.with_state(|s| {
            let mut out = Vec::new();
            if s.node(id).is_some_and(|n| n.drain != drain) {
                if drain {
                    self.node_job_evals(s, id, TRIGGER_NODE_DRAIN, &mut out);
                } else {
                    self.system_job_evals(s, id, &mut out);
                }
            }
            out
        });
        self.node_write(
            Command::NodeUpdateDrain {
                node_id: id.to_string(),
                drain,
                evals,
            },
            id,
        )
    }

    /// Applies a node change. Any node change may let a blocked evaluation
    /// through: capacity that appears, but also a node leaving the candidates
    /// (an all-at-once placement that failed only on that node now fits).
    fn node_write(&self, cmd: Command, id: &str) -> Result<NodeUpdateResponse> {
        let eval_ids: Vec<String> = command_evals(&cmd).map(str::to_string).collect();
        let applied = self.commit(cmd)?;
        self.capacity_added(applied.index);
        self.run_inline();
        Ok(NodeUpdateResponse {
            eval_create_index: if eval_ids.is_empty() {
                0
            } else {
                applied.index
            },
            eval_ids,
            node_modify_index: self.with_state(|s| s.node_index(id)),
            index: applied.index,
        })
    }

    /// One `node-update` evaluation per job with live allocations on the node.
    fn node_job_evals(&self, s: &State, node_id: &str, trigger: &str, out: &mut Vec<Evaluation>) {
        let mut jobs: Vec<&str> = Vec::new();
        let allocs = s.allocs_by_node(node_id);
        for a in &allocs {
            if !a.is_terminal() && !jobs.contains(&a.job_id.as_str()) {
                jobs.push(&a.job_id);
            }
        }
        for job_id in jobs {
            if let Some(job) = s.job(job_id) {
                let mut e = self.new_eval(job, trigger);
                e.node_id = node_id.to_string();
                e.node_modify_index = s.node_index(node_id);
                out.push(e);
            }
        }
    }

    /// One `node-update` evaluation per system job, for a node that can take work.
    fn system_job_evals(&self, s: &State, node_id: &str, out: &mut Vec<Evaluation>) {
        for job in s
            .jobs()
            .filter(|j| j.job_type == JOB_TYPE_SYSTEM && !j.stop)
        {
            let mut e = self.new_eval(job, TRIGGER_NODE_UPDATE);
            e.node_id = node_id.to_string();
            out.push(e);
        }
    }

    // ---- allocations ----

    /// Records what a client reports about an allocation: only `ClientStatus`,
    /// `ClientDescription` and `TaskStates` change. A failed or lost allocation
    /// gets its job evaluated so it is replaced; capacity freed unblocks
    /// blocked evaluations.
    pub fn update_alloc_client(&self, update: AllocClientUpdate) -> Result<u64> {
        validate_alloc_update(&update)?;
        let (evals, frees) = self.with_state(|s| {
            let Some(a) = s.alloc(&update.id) else {
                return (Vec::new(), false);
            };
            let becomes_terminal = !a.is_terminal()
                && AllocClientStatus::parse(&update.client_status)
                    .is_some_and(AllocClientStatus::is_terminal);
            let mut evals = Vec::new();
            if becomes_terminal {
                // A failed or lost allocation is replaced; so is a finished
                // one of a service or system job, which should be running. A
                // finished batch allocation is done: nothing to evaluate.
                if let Some(job) = s.job(&a.job_id) {
                    let finished = update.client_status == AllocClientStatus::Complete;
                    if !finished || job.job_type != crate::structs::JOB_TYPE_BATCH {
                        evals.push(self.new_eval(job, TRIGGER_ALLOC_FAILURE));
                    }
                }
            }
            (evals, becomes_terminal)
        });
        let applied = self.commit(Command::AllocClientUpdate {
            updates: vec![update],
            evals,
            time: self.clock.now(),
        })?;
        if frees {
            self.capacity_added(applied.index);
        }
        self.run_inline();
        Ok(applied.index)
    }

    // ---- garbage collection ----

    /// Removes terminal evaluations last modified before `older_than` (unix ns)
    /// whose allocations are all terminal, together with those allocations, and
    /// terminal allocations of jobs that no longer exist. The host decides when
    /// and with what threshold. Returns the index of the write, or `None` when
    /// there was nothing to collect.
    pub fn garbage_collect(&self, older_than: i64) -> Result<Option<u64>> {
        let (evals, allocs) = self.with_state(|s| {
            let canceled = self.canceled_beyond_kept(s);
            let mut evals = canceled.clone();
            let mut allocs = Vec::new();
            for e in s.evals() {
                if !e.is_terminal()
                    || e.modify_time >= older_than
                    || canceled.binary_search(&e.id).is_ok()
                {
                    continue;
                }
                let eval_allocs: Vec<_> = s
                    .allocs_by_job(&e.job_id)
                    .into_iter()
                    .filter(|a| a.eval_id == e.id)
                    .collect();
                if eval_allocs
                    .iter()
                    .all(|a| a.is_terminal() && a.modify_time < older_than)
                {
                    evals.push(e.id.clone());
                    allocs.extend(eval_allocs.iter().map(|a| a.id.clone()));
                }
            }
            for a in s.allocs() {
                if a.is_terminal() && a.modify_time < older_than && s.job(&a.job_id).is_none() {
                    allocs.push(a.id.clone());
                }
            }
            allocs.sort();
            allocs.dedup();
            (evals, allocs)
        });
        if evals.is_empty() && allocs.is_empty() {
            return Ok(None);
        }
        let applied = self.commit(Command::GarbageCollect { evals, allocs })?;
        Ok(Some(applied.index))
    }

    /// Removes, of each job's canceled evaluations without allocations, all
    /// but the newest [`Config::canceled_evals_kept`], whatever their age: a
    /// host calls it often (it costs a scan of the evaluations) so that
    /// re-registers coalesced by the broker do not pile up until the age
    /// threshold of [`Store::garbage_collect`]. The choice is made here, on
    /// the proposing side, and the write names what it removes, so every
    /// replica applying it agrees. Returns the index of the write, or `None`
    /// when there was nothing to collect.
    pub fn collect_canceled(&self) -> Result<Option<u64>> {
        let evals = self.with_state(|s| self.canceled_beyond_kept(s));
        if evals.is_empty() {
            return Ok(None);
        }
        let applied = self.commit(Command::GarbageCollect {
            evals,
            allocs: Vec::new(),
        })?;
        Ok(Some(applied.index))
    }

    /// The canceled evaluations without allocations beyond the newest kept
    /// per job, sorted.
    fn canceled_beyond_kept(&self, s: &State) -> Vec<String> {
        let mut by_job: HashMap<&str, Vec<&Arc<Evaluation>>> = HashMap::new();
        for e in s.evals() {
            if e.status == EvalStatus::Canceled {
                by_job.entry(e.job_id.as_str()).or_default().push(e);
            }
        }
        let mut out = Vec::new();
        for (job, mut canceled) in by_job {
            if canceled.len() <= self.config.canceled_evals_kept {
                continue;
            }
            // Newest first; the ID breaks ties so the choice is the same
            // whatever order the table iterates in.
            canceled.sort_by(|a, b| (b.create_index, &b.id).cmp(&(a.create_index, &a.id)));
            let allocs = s.allocs_by_job(job);
            out.extend(
                canceled[self.config.canceled_evals_kept..]
                    .iter()
                    .filter(|e| !allocs.iter().any(|a| a.eval_id == e.id))
                    .map(|e| e.id.clone()),
            );
        }
        out.sort();
        out
    }

    // ---- scheduling ----

    /// Processes every ready evaluation when the store schedules inline.
    /// After a write: what its scheduling mode does with its evaluations.
    fn run_inline(&self) {
        match self.config.mode {
            SchedulingMode::Inline => self.process_ready(),
            SchedulingMode::Grouped => {
                let mine = self.index();
                self.queued_upto.fetch_max(mine, Ordering::SeqCst);
                self.process_groups(mine);
            }
            // Recorded before the write answers, so that every read after
            // the answer finds it behind and processes it first.
            SchedulingMode::Queued => {
                self.queued_upto.fetch_max(self.index(), Ordering::SeqCst);
            }
            SchedulingMode::Manual => {}
        }
    }

    /// Whether writes queued evaluations not yet processed (grouped and
    /// queued modes). Never on a follower: it has no broker, so nothing it
    /// could process, and a read there must not wait for work that only a
    /// leader does.
    fn behind(&self) -> bool {
        self.is_leader()
            && self.processed_upto.load(Ordering::SeqCst) < self.queued_upto.load(Ordering::SeqCst)
    }

    /// Whether writes answered so far left evaluations that no group has
    /// processed yet (queued and grouped modes; always false in inline and
    /// manual modes, and on a follower, which processes nothing). A queued
    /// host calls [`Store::process_queued`] when it is true; reads do it
    /// themselves otherwise.
    pub fn processing_behind(&self) -> bool {
        self.behind()
    }

    /// Queued mode: processes, on this thread, the evaluations of every
    /// write answered so far, as one group (see [`SchedulingMode::Queued`]):
    /// one thread at a time, under the lock scheduler runs take; a call
    /// that finds a group in progress waits for it, and does nothing more
    /// when that group covered the writes queued when the call began.
    /// Evaluations of one job queued by several writes coalesce as in the
    /// broker: one runs at a time, the newest of those waiting behind it
    /// runs next, and the others are written canceled without running.
    ///
    /// Returns the index up to which queued writes are now processed (all
    /// writes at or below it had their evaluations processed). On a
    /// follower it processes nothing and returns at once. Works in grouped
    /// mode too; in inline and manual modes nothing is queued.
    pub fn process_queued(&self) -> u64 {
        if self.is_leader() {
            self.process_groups(self.queued_upto.load(Ordering::SeqCst));
        }
        self.processed_upto.load(Ordering::SeqCst)
    }

    /// Grouped and queued modes, for the write at `mine`: waits for the
    /// group in progress, then processes the next one unless it already
    /// took `mine` in. A thread never works past its own write's group, so
    /// a steady stream of writes cannot keep one writer processing forever.
    fn process_groups(&self, mine: u64) {
        if self.processed_upto.load(Ordering::SeqCst) >= mine {
            return;
        }
        let _guard = self.scheduling.lock();
        if self.processed_upto.load(Ordering::SeqCst) < mine {
            self.process_group();
        }
    }

    /// One group, with the scheduling lock held: everything queued up to
    /// now (the group's index is taken first, so it covers every write
    /// applied before). The plans it writes are not queued writes of their
    /// own.
    fn process_group(&self) {
        // Taken under the log turn: a write holds it until its evaluations
        // are in the broker, and the state's index moves before they are,
        // so an index read without it could name a write whose evaluations
        // this group then never sees.
        let upto = {
            let _turn = self.log_turn.lock();
            self.index()
        };
        while let Some(d) = self.dequeue_now(&[]) {
            let _ = self.process_evaluation(&d);
        }
        self.processed_upto.fetch_max(upto, Ordering::SeqCst);
    }

    /// Grouped and queued modes, before a read: waits for (or does) the
    /// processing of the writes answered before it. A no-op on a follower
    /// (see [`Store::behind`]).
    fn read_barrier(&self) {
        if matches!(
            self.config.mode,
            SchedulingMode::Inline | SchedulingMode::Manual
        ) || !self.behind()
        {
            return;
        }
        self.process_groups(self.queued_upto.load(Ordering::SeqCst));
    }

    /// Processes ready (and due) evaluations on this thread until none is left.
    /// Inline stores call this on every write; a host may call it on a timer so
    /// that rolling-update follow-ups run when their wait is over.
    pub fn process_ready(&self) {
        let _guard = self.scheduling.lock();
        while let Some(d) = self.dequeue_now(&[]) {
            let _ = self.process_evaluation(&d);
        }
    }

    fn dequeue_now(&self, types: &[&str]) -> Option<Delivery> {
        if !self.is_leader() {
            return None;
        }
        let superseded = std::mem::take(&mut *self.superseded.lock());
        self.cancel(superseded);
        let now = self.clock.now();
        let timeout = i64::try_from(self.config.nack_timeout.as_nanos()).unwrap_or(i64::MAX);
        let (delivery, canceled, late) = {
            let mut b = self.broker.lock();
            let late = b.expire(now, timeout);
            let canceled = b.promote_due(now);
            (b.dequeue(types, self.ids.new_id(), now), canceled, late)
        };
        self.cancel(canceled);
        self.after_ack(late);
        delivery
    }

    /// Manual mode: the next ready evaluation of one of `types` (all when
    /// empty), waiting up to `wait` for one.
    pub fn dequeue_evaluation(&self, types: &[&str], wait: Duration) -> Option<Delivery> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(d) = self.dequeue_now(types) {
                return Some(d);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            // Evaluations arrive with writes; poll in short slices.
            std::thread::sleep((deadline - now).min(Duration::from_millis(5)));
        }
    }

    /// Runs the scheduler for a dequeued evaluation and returns its plan
    /// without applying it.
    pub fn plan_evaluation(&self, d: &Delivery) -> Result<Plan> {
        self.broker
            .lock()
            .check_token(&d.eval.id, &d.token)
            .map_err(conflict)?;
        let run = self.runs.fetch_add(1, Ordering::Relaxed);
        let seed = self.config.seed ^ run.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut new_id = || self.ids.new_id();
        let mut ctx = Context {
            now: self.clock.now(),
            seed,
            new_id: &mut new_id,
        };
        let st = self.state.read();
        Ok(scheduler::process(&st, &d.eval, &mut ctx))
    }

    /// Capacity appeared at `index`: every blocked evaluation is retried.
    fn capacity_added(&self, index: u64) {
        // Recorded before the broker is told, so that a plan being submitted
        // concurrently either sees the index or has its blocked evaluation
        // already tracked (and so unblocked here).
        self.capacity_index.fetch_max(index, Ordering::SeqCst);
        let canceled = self.broker.lock().unblock_all();
        self.cancel(canceled);
    }

    /// Applies a plan for a dequeued evaluation (fenced by its token), then
    /// acks it. A plan that no longer fits is a conflict: plan again.
    pub fn submit_plan(&self, d: &Delivery, plan: Plan) -> Result<u64> {
        self.broker
            .lock()
            .check_token(&d.eval.id, &d.token)
            .map_err(conflict)?;
        let plan_evals: Vec<String> = plan.evals.iter().map(|e| e.id.clone()).collect();
        // The state the plan was made from: capacity added after it was not
        // seen, so a blocked evaluation it creates is retried at once.
        let snapshot = plan
            .evals
            .iter()
            .find(|e| e.id == d.eval.id)
            .map_or(0, |e| e.snapshot_index);
        let job_id = d.eval.job_id.clone();
        // Stopped allocations give their room back at once (the scheduler
        // counts them out), whether or not a client ever reports them done.
        let frees = !plan.stops.is_empty();
        let applied = self.commit(Command::PlanApply { plan })?;
        let outcome = self
            .broker
            .lock()
            .ack(&d.eval.id, &d.token)
            .map_err(conflict)?;
        self.after_ack(outcome);
        // Blocked and follow-up evaluations of the plan enter the broker now
        // that the processed one has left it.
        let (evals, placed_all) = self.with_state(|s| {
            let evals: Vec<_> = plan_evals
                .iter()
                .filter_map(|id| s.eval(id).cloned())
                .collect();
            let placed_all = s
                .eval(&d.eval.id)
                .is_some_and(|e| e.status == EvalStatus::Complete && e.failed_tg_allocs.is_empty());
            (evals, placed_all)
        });
        let mut canceled = Vec::new();
        {
            let mut b = self.broker.lock();
            if placed_all && evals.iter().all(|e| e.status != EvalStatus::Blocked) {
                canceled.extend(b.untrack_blocked(&job_id).filter(|e| e.id != d.eval.id));
            }
            let blocks = evals.iter().any(|e| e.status == EvalStatus::Blocked);
            for e in evals {
                canceled.extend(b.enqueue(e));
            }
            if blocks && self.capacity_index.load(Ordering::SeqCst) > snapshot {
                canceled.extend(b.unblock(&job_id));
            }
        }
        self.cancel(canceled);
        if frees {
            self.capacity_added(applied.index);
        }
        Ok(applied.index)
    }

    /// Plans, submits and acks a dequeued evaluation; retries a plan that
    /// conflicts, and nacks after `MAX_PLAN_ATTEMPTS` (5) attempts.
    pub fn process_evaluation(&self, d: &Delivery) -> Result<u64> {
        let mut last = None;
        for _ in 0..MAX_PLAN_ATTEMPTS {
            let plan = self.plan_evaluation(d)?;
            match self.submit_plan(d, plan) {
                Ok(i) => return Ok(i),
                Err(e @ Error::Conflict { .. }) => last = Some(e),
                Err(e) => {
                    last = Some(e);
                    break;
                }
            }
        }
        self.nack_evaluation(d)?;
        Err(last.expect("at least one attempt"))
    }

    /// Acks a dequeued evaluation without a plan.
    pub fn ack_evaluation(&self, d: &Delivery) -> Result<()> {
        let outcome = self
            .broker
            .lock()
            .ack(&d.eval.id, &d.token)
            .map_err(conflict)?;
        self.after_ack(outcome);
        Ok(())
    }

    /// Gives a dequeued evaluation back: it is delivered again, or written
    /// `failed` once it reached the delivery limit.
    pub fn nack_evaluation(&self, d: &Delivery) -> Result<()> {
        let outcome = self
            .broker
            .lock()
            .nack(&d.eval.id, &d.token)
            .map_err(conflict)?;
        self.after_ack(outcome);
        Ok(())
    }

    fn after_ack(&self, outcome: Outcome) {
        self.cancel(outcome.canceled);
        let why = format!(
            "evaluation reached delivery limit ({})",
            self.config.delivery_limit
        );
        self.finish_evals(outcome.failed, EvalStatus::Failed, &why);
    }

    /// Broker counts: (ready, unacked, waiting, delayed, blocked).
    pub fn broker_stats(&self) -> (usize, usize, usize, usize, usize) {
        self.broker.lock().stats()
    }
}

enum Settled<T> {
    Done(Result<Query<T>>),
    Wait(Result<Query<T>>),
}

fn conflict(message: String) -> Error {
    Error::Conflict {
        message,
        current_index: 0,
    }
}

/// IDs of the evaluations a command writes.
fn command_evals(cmd: &Command) -> Box<dyn Iterator<Item = &str> + '_> {
    match cmd {
        Command::JobRegister { eval, .. } | Command::JobDeregister { eval, .. } => {
            Box::new(std::iter::once(eval.id.as_str()))
        }
        Command::EvalUpsert { evals }
        | Command::NodeRegister { evals, .. }
        | Command::NodeDeregister { evals, .. }
        | Command::NodeUpdateStatus { evals, .. }
        | Command::NodeUpdateDrain { evals, .. }
        | Command::AllocClientUpdate { evals, .. } => Box::new(evals.iter().map(|e| e.id.as_str())),
        Command::PlanApply { .. } | Command::GarbageCollect { .. } => Box::new(std::iter::empty()),
    }
}

/// Up to `max` of jitter, so that many waiters with the same wait do not all
/// time out at once. Not part of any state decision.
fn jitter(max: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let nanos = max.as_nanos() as u64;
    if nanos == 0 {
        return Duration::ZERO;
    }
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(nanos);
    Duration::from_nanos(h.finish() % nanos)
}

#[cfg(test)]
mod grouped_tests {
    use std::sync::mpsc;

    use super::*;

    /// A write in grouped mode waits for the group in progress and returns
    /// with its evaluation processed; a read made meanwhile waits too, and
    /// sees it processed.
    #[test]
    fn writes_and_reads_wait_for_the_group_in_progress() {
        let store = Arc::new(Store::new(Config {
            mode: SchedulingMode::Grouped,
            ..Config::default()
        }));
        let node = br#"{"Node":{"ID":"n1","Name":"n1","Datacenter":"dc1","Status":"ready",
            "Attributes":{"driver.exec":"1"},"Resources":{"CPU":4000,"MemoryMB":8192}}}"#;
        crate::host::register_node_at(&store, None, node, None).unwrap();
        let before = store.index();
        let group = store.scheduling.lock();
        let (tx, rx) = mpsc::channel();
        {
            let store = store.clone();
            std::thread::spawn(move || {
                let body = br#"{"Job":{"ID":"web","Datacenters":["dc1"],"TaskGroups":[{"Name":"g",
                    "Tasks":[{"Name":"t","Driver":"exec"}]}]}}"#;
                let reply = crate::host::register_job(&store, body, None).unwrap();
                tx.send(reply.body).unwrap();
            });
        }
        // The write applied, and waits for the group.
        let deadline = Instant::now() + Duration::from_secs(5);
        while store.with_state(|s| s.index()) == before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let id = store.with_state(|s| {
            let e = s.evals().next().expect("the write applied").clone();
            assert_eq!(e.status, EvalStatus::Pending);
            e.id.clone()
        });
        let (read_tx, read_rx) = mpsc::channel();
        {
            let (store, id) = (store.clone(), id.clone());
            std::thread::spawn(move || {
                let e = store.evaluation(&id, &QueryOptions::default()).unwrap();
                read_tx.send(e.value.status).unwrap();
            });
        }
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            rx.try_recv().is_err(),
            "the write did not wait for its group"
        );
        assert!(
            read_rx.try_recv().is_err(),
            "a read did not wait for the group"
        );
        drop(group);
        let reply = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(reply.contains(&id), "{reply}");
        assert_eq!(
            store.with_state(|s| s.eval(&id).unwrap().status),
            EvalStatus::Complete
        );
        let seen = read_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(seen, EvalStatus::Complete);
    }
}
