//! How a store is set up ([`Config`], [`SchedulingMode`]) and what a read or
//! a write is asked and answered with.

use super::*;

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

/// What deregistering a job does ([`Config::deregister`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeregisterMode {
    /// The job is removed at once, as the seed's endpoint says; a purge
    /// asks for nothing more.
    #[default]
    Purge,
    /// Nomad 1.x's soft stop: the job stays, copied with `Stop: true` (a
    /// new version), its allocations stopped, and reads `dead` once they
    /// and its evaluations are done. A purge removes it, and so does
    /// [`Store::garbage_collect`] once it is old enough; registering it
    /// again (with `Stop` false) starts it again.
    Stop,
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
    /// Threads that process a group of evaluations at once (queued and
    /// grouped modes; 1: the calling thread alone). More than one pays off
    /// with a log that batches ([`crate::Log::batches`]): each plan waits
    /// for its log's commit, and plans submitted together share one. Plans
    /// made side by side are checked against the state they land on, as
    /// Nomad's plan applier does, so one that no longer fits is planned
    /// again.
    pub scheduler_workers: usize,
    /// What a deregister without `purge` does.
    pub deregister: DeregisterMode,
    /// Versions of each job kept, the current one included (Nomad's
    /// `job_tracked_versions`, 6 by default; 0 counts as 1): a spec change
    /// keeps the job it replaces, and the oldest kept goes. Every replica
    /// of a log must use the same number, as it decides what apply keeps.
    pub job_tracked_versions: usize,
    /// Batches (one per write that changed an object) the event stream
    /// keeps for subscribers that start from an earlier index or fall
    /// behind ([`crate::events`]). Nomad keeps 100; ordu keeps 1,024 by
    /// default: a batch holds only shared references to objects (it costs
    /// the old versions it keeps alive, a few MB for typical jobs), and a
    /// second of writes at the rates of docs/benchmarks.md would overrun 100
    /// before a subscriber over HTTP is scheduled. 0 turns the stream off
    /// (as Nomad's `enable_event_broker = false`): no batch is made.
    pub event_buffer_size: usize,
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
            scheduler_workers: 1,
            deregister: DeregisterMode::Purge,
            job_tracked_versions: DEFAULT_JOB_TRACKED_VERSIONS,
            event_buffer_size: DEFAULT_EVENT_BUFFER_SIZE,
        }
    }
}

/// [`Config::job_tracked_versions`] by default, as Nomad's.
pub const DEFAULT_JOB_TRACKED_VERSIONS: usize = 6;

/// Default of [`Config::event_buffer_size`].
pub const DEFAULT_EVENT_BUFFER_SIZE: usize = 1024;

/// Default wait of a blocking read.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(300);
/// Longest wait of a blocking read (before jitter).
pub const MAX_WAIT: Duration = Duration::from_secs(600);
/// Plan attempts before an evaluation is nacked.
pub(super) const MAX_PLAN_ATTEMPTS: usize = 5;

/// Options of every read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// Block until the answer's index is above this (0: answer at once).
    pub min_index: u64,
    /// How long to block; default 5 minutes, capped at 10, plus up to 1/16 jitter.
    pub wait: Option<Duration>,
    /// The region asked for; another region than the store's is an error.
    pub region: Option<String>,
    /// The namespace of the job a read names, or of a list (`*`: every
    /// namespace); `None` or empty: `default`. Reads of an evaluation, an
    /// allocation or a node by ID ignore it, as Nomad's do.
    pub namespace: Option<String>,
}

/// `namespace`, or `default` when absent or empty.
fn or_default(namespace: &Option<String>) -> &str {
    match namespace.as_deref() {
        None | Some("") => crate::structs::DEFAULT_NAMESPACE,
        Some(ns) => ns,
    }
}

impl QueryOptions {
    /// The namespace the read is of ([`QueryOptions::namespace`]).
    pub fn namespace(&self) -> &str {
        or_default(&self.namespace)
    }

    /// These options in `namespace`.
    pub fn in_namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_string());
        self
    }

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
            ..Self::default()
        }
    }
}

/// Options of job writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// The region asked for; another region than the store's is an error.
    pub region: Option<String>,
    /// The namespace of the job the write names (a register's job names
    /// its own, which wins); `None` or empty: `default`.
    pub namespace: Option<String>,
}

impl WriteOptions {
    /// The namespace the write is in ([`WriteOptions::namespace`]).
    pub fn namespace(&self) -> &str {
        or_default(&self.namespace)
    }

    /// These options in `namespace`.
    pub fn in_namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_string());
        self
    }
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
