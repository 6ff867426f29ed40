//! [`Store`]: the front door. It validates requests, mints IDs and times, builds
//! commands, hands them to the log and applies them at the index it gives,
//! wakes the waiters whose reads changed, runs the evaluations it created, and
//! serves blocking reads.
//!
//! By what it does: proposing writes per object family (`jobs`, `nodes`,
//! `allocs`), the log seam (`seam`), reads and waits (`waits`), leader duties
//! (`leader`: broker, scheduling modes, leadership), and how a store is set up
//! (`options`, `sources`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::{Condvar, Mutex, RwLock};

use crate::command::{Command, JobRef};
use crate::error::{Error, Result};
use crate::log::{Log, MemoryLog};
use crate::scheduler::broker::{Broker, Delivery, Outcome};
use crate::scheduler::{self, Context};
use crate::state::{keys, Applied, ListOptions, Page, State};
use crate::structs::{job_key, validate_namespace, Namespace};
use crate::structs::{
    validate_alloc_update, validate_job, validate_node, validate_node_status, AllocClientStatus,
    AllocClientUpdate, AllocListStub, Allocation, EvalStatus, Evaluation, Job, JobListStub,
    JobPlanRequest, JobPlanResponse, JobRegisterRequest, JobWriteResponse, Limits, Node,
    NodeListStub, NodeStatus, NodeUpdateResponse, Plan, PlanAnnotations, JOB_TYPE_SYSTEM,
    TRIGGER_ALLOC_FAILURE, TRIGGER_JOB_DEREGISTER, TRIGGER_JOB_REGISTER, TRIGGER_NODE_DRAIN,
    TRIGGER_NODE_UPDATE,
};
use crate::structs::{
    AllocStopResponse, DesiredTransition, DrainSpec, DrainStrategy, NODE_ELIGIBLE, NODE_INELIGIBLE,
    TRIGGER_ALLOC_STOP,
};
use crate::structs::{
    JobRevertRequest, JobStabilityRequest, JobStabilityResponse, JobVersion, JobVersionsResponse,
};
use crate::structs::{JobScaleRequest, JobScaleStatus, JobSummary, TRIGGER_SCALING};
use crate::watch::{Key, Watch};

mod allocs;
mod jobs;
mod leader;
mod namespaces;
mod nodes;
mod options;
mod seam;
mod sources;
mod waits;

pub use jobs::CheckedRegister;
pub use options::*;
pub use sources::*;
pub use waits::{reads, Reader};

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
    /// The last batches of the event stream ([`crate::events`]).
    events: Arc<crate::events::EventBuffer>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
    log: Box<dyn Log>,
    /// One append at a time, in the order they apply; holds the last index
    /// the log gave (an entry the state refused still took its index).
    log_turn: Mutex<u64>,
    /// Writes waiting to be handed to a log that batches (group commit);
    /// see [`Store::commit`].
    write_queue: Mutex<seam::WriteQueue>,
    /// Signalled when queued writes are answered or the queue's front moves.
    write_done: Condvar,
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
        let mut state = State::new();
        state.set_job_tracked_versions(config.job_tracked_versions);
        Store {
            broker: Mutex::new(Broker::new(config.delivery_limit)),
            superseded: Mutex::new(Vec::new()),
            state: RwLock::new(state),
            scheduling: Mutex::new(()),
            watch: Arc::new(Watch::new()),
            events: Arc::new(crate::events::EventBuffer::new(config.event_buffer_size)),
            clock,
            ids,
            log: Box::new(MemoryLog),
            log_turn: Mutex::new(0),
            write_queue: Mutex::default(),
            write_done: Condvar::new(),
            leader: AtomicBool::new(true),
            canceled_since_collect: AtomicU64::new(0),
            queued_upto: AtomicU64::new(0),
            processed_upto: AtomicU64::new(0),
            runs: AtomicU64::new(0),
            capacity_index: AtomicU64::new(0),
            config,
        }
    }

    /// Sets the log every write goes to before it applies (see
    /// [`crate::log`]); the default commits at once.
    pub fn with_log(mut self, log: impl Log + 'static) -> Self {
        self.log = Box::new(log);
        self
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

    /// Subscribes to the event stream ([`crate::events`]): the batches from
    /// index `start` on (0: from the next write) that pass `filter`. A
    /// `start` older than the buffer holds is [`Error::Limit`] naming the
    /// oldest index it holds (Nomad would silently start there). With
    /// [`Config::event_buffer_size`] 0 the stream is off: a limit error.
    pub fn subscribe_events(
        &self,
        filter: crate::events::TopicFilter,
        start: u64,
    ) -> Result<crate::events::EventSubscription> {
        if self.config.event_buffer_size == 0 {
            return Err(Error::Limit {
                path: "event_buffer_size".into(),
                limit: 0,
                message: "the event stream is off (event_buffer_size 0)".into(),
            });
        }
        crate::events::EventSubscription::new(self.events.clone(), filter, start, self.index())
    }

    /// The oldest index an event subscription may start from.
    pub fn oldest_event_index(&self) -> u64 {
        self.events.oldest()
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
        | Command::NodeUpdateEligibility { evals, .. }
        | Command::NodeUpdateDrainStrategy { evals, .. }
        | Command::AllocUpdateDesiredTransition { evals, .. }
        | Command::AllocClientUpdate { evals, .. } => Box::new(evals.iter().map(|e| e.id.as_str())),
        Command::PlanApply { .. }
        | Command::GarbageCollect { .. }
        | Command::JobStability { .. }
        | Command::NamespaceUpsert { .. }
        | Command::NamespaceDelete { .. } => Box::new(std::iter::empty()),
    }
}
