//! The event stream: Nomad's `/v1/event/stream`, as data.
//!
//! Every command applied yields one [`EventBatch`] at its index, made from
//! what apply wrote ([`Applied::changes`]): one event per object written,
//! holding the object as stored (shared, not copied; it becomes JSON only
//! when a subscriber's frame is written). The events are thus a function of
//! the applied commands, and a replayed log gives the same ones.
//!
//! The store keeps the last [`Config::event_buffer_size`](crate::Config)
//! batches. An [`EventSubscription`] reads them from an index on, filtered
//! by topic and key, and waits for new ones as reads do (blocking, or a
//! `Future`). A subscription holds only its position. A write does not
//! wake the subscribers that wait itself: it marks them to be woken by one
//! notifier thread shared by the process, so its own work does not grow
//! with their number (on a machine with few CPUs, the CPU they take still
//! slows it). A subscriber woken once reads every batch published while it
//! slept. One that falls behind the buffer is told so ([`Error::Limit`]
//! naming the oldest index held) rather than silently skipping ahead, and
//! so is one that asks to start from an index the buffer no longer holds:
//! Nomad starts it from the oldest it has.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::RwLock;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::error::{Error, FieldError, Result, Stage};
use crate::state::{Applied, Change};
use crate::structs::{Allocation, Evaluation, Job, Node};
use crate::watch::Crowd;

/// The topics ordu's events come in, as Nomad names them.
pub const TOPICS: [&str; 4] = ["Job", "Evaluation", "Allocation", "Node"];

/// One event: an object a command wrote, at the command's index.
#[derive(Clone, Debug)]
pub struct Event {
    /// Nomad's type: the command's (`JobRegistered`, `PlanResult`, ...).
    pub event_type: &'static str,
    /// The index of the command.
    pub index: u64,
    /// The object, as stored after the command (a removed one as it was).
    pub payload: Change,
}

impl Event {
    /// `Job`, `Evaluation`, `Allocation` or `Node`.
    pub fn topic(&self) -> &'static str {
        match self.payload {
            Change::Job(_) => "Job",
            Change::Eval(_) => "Evaluation",
            Change::Alloc(_) => "Allocation",
            Change::Node(_) => "Node",
        }
    }

    /// The object's ID.
    pub fn key(&self) -> &str {
        match &self.payload {
            Change::Job(j) => &j.id,
            Change::Eval(e) => &e.id,
            Change::Alloc(a) => &a.id,
            Change::Node(n) => &n.id,
        }
    }

    /// The object's namespace (empty for a node, as in Nomad).
    pub fn namespace(&self) -> &str {
        match &self.payload {
            Change::Job(j) => &j.namespace,
            Change::Eval(e) => &e.namespace,
            Change::Alloc(a) => &a.namespace,
            Change::Node(_) => "",
        }
    }

    /// Other keys a topic filter matches (Nomad's `FilterKeys`): the job
    /// of an evaluation or allocation.
    pub fn filter_keys(&self) -> &[String] {
        match &self.payload {
            Change::Eval(e) => std::slice::from_ref(&e.job_id),
            Change::Alloc(a) => std::slice::from_ref(&a.job_id),
            Change::Job(_) | Change::Node(_) => &[],
        }
    }
}

/// `{"Topic", "Type", "Key", "Namespace", "FilterKeys", "Index", "Payload"}`,
/// the payload `{"Job": {...}}` (or `Evaluation`, `Allocation`, `Node`).
impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        enum Payload<'a> {
            Job(&'a Job),
            Evaluation(&'a Evaluation),
            Allocation(&'a Allocation),
            Node(&'a Node),
        }
        let payload = match &self.payload {
            Change::Job(j) => Payload::Job(j),
            Change::Eval(e) => Payload::Evaluation(e),
            Change::Alloc(a) => Payload::Allocation(a),
            Change::Node(n) => Payload::Node(n),
        };
        let mut m = s.serialize_map(Some(7))?;
        m.serialize_entry("Topic", self.topic())?;
        m.serialize_entry("Type", self.event_type)?;
        m.serialize_entry("Key", self.key())?;
        m.serialize_entry("Namespace", self.namespace())?;
        m.serialize_entry("FilterKeys", self.filter_keys())?;
        m.serialize_entry("Index", &self.index)?;
        m.serialize_entry("Payload", &payload)?;
        m.end()
    }
}

/// The events of one command: one frame of Nomad's stream,
/// `{"Index": N, "Events": [...]}`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventBatch {
    /// The command's index.
    pub index: u64,
    /// Its events, in the order apply last wrote each object.
    pub events: Vec<Event>,
    /// The frame's JSON and a newline, made by the first subscriber that
    /// asks for it and shared by the others: a thousand streams serialise a
    /// write once, and a host that writes it out need not copy it.
    #[serde(skip)]
    line: std::sync::OnceLock<Arc<str>>,
}

impl EventBatch {
    /// The events of an applied command; `None` when it wrote no object.
    pub fn from_applied(applied: &Applied) -> Option<EventBatch> {
        if applied.changes.is_empty() {
            return None;
        }
        Some(EventBatch {
            line: Default::default(),
            index: applied.index,
            events: applied
                .changes
                .iter()
                .map(|c| Event {
                    event_type: applied.event_type,
                    index: applied.index,
                    payload: c.clone(),
                })
                .collect(),
        })
    }

    /// [`EventBatch::from_applied`], taking the changes out of `applied`
    /// rather than sharing them again (what the store does).
    pub fn take_from(applied: &mut Applied) -> Option<EventBatch> {
        if applied.changes.is_empty() {
            return None;
        }
        let (event_type, index) = (applied.event_type, applied.index);
        Some(EventBatch {
            line: Default::default(),
            index,
            events: std::mem::take(&mut applied.changes)
                .into_iter()
                .map(|payload| Event {
                    event_type,
                    index,
                    payload,
                })
                .collect(),
        })
    }

    /// The events of one batch that passed a filter.
    fn filtered(index: u64, events: Vec<Event>) -> EventBatch {
        EventBatch {
            index,
            events,
            line: Default::default(),
        }
    }

    /// The frame as one line of JSON (without its newline), made once per
    /// batch however many subscribers ask.
    pub fn json(&self) -> &str {
        let line = self.line();
        &line[..line.len() - 1]
    }

    /// The frame as NDJSON: [`EventBatch::json`] and a newline, shared (a
    /// stream writes it without a copy of its own).
    pub fn line(&self) -> &Arc<str> {
        self.line.get_or_init(|| {
            let mut s = serde_json::to_string(self).expect("events serialise");
            s.push('\n');
            s.into()
        })
    }

    /// [`EventBatch::json`], owned.
    pub fn to_json(&self) -> String {
        self.json().to_string()
    }
}

/// Which events a subscriber wants: Nomad's `topic=Topic:Key` filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopicFilter {
    /// Topic (or `*`) to keys (`*` for all). Empty: every event.
    topics: HashMap<String, Vec<String>>,
    /// Only events of this namespace (and nodes, which have none); `None`
    /// or `*`: all.
    namespace: Option<String>,
}

impl TopicFilter {
    /// Every event of every namespace.
    pub fn all() -> Self {
        Self::default()
    }

    /// From `Topic:Key` strings (`Job:web`, `Evaluation:*`, `*`; a bare
    /// topic means all its keys). A key matches an event's ID or its
    /// `FilterKeys` (an evaluation's or allocation's job). No filters:
    /// every event. A topic ordu has no events of (`Deployment`) is
    /// accepted and matches nothing, as in Nomad.
    pub fn parse<S: AsRef<str>>(filters: &[S]) -> Result<Self> {
        let mut topics: HashMap<String, Vec<String>> = HashMap::new();
        for f in filters {
            let f = f.as_ref();
            let (topic, key) = match f.split_once(':') {
                Some((t, k)) => (t, k),
                None => (f, "*"),
            };
            if topic.is_empty() || key.is_empty() {
                // A request that does not parse, as a body that does not
                // decode: HTTP 400.
                return Err(Error::Invalid {
                    stage: Stage::Decode,
                    errors: vec![FieldError::new(
                        "topic",
                        format!("Invalid topic format: {f:?}, want Topic:Key"),
                    )],
                });
            }
            topics
                .entry(topic.to_string())
                .or_default()
                .push(key.to_string());
        }
        Ok(TopicFilter {
            topics,
            namespace: None,
        })
    }

    /// Only events of `namespace` (and of nodes); `*` for all.
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = (!namespace.is_empty() && namespace != "*").then(|| namespace.to_string());
        self
    }

    /// Whether `e` passes.
    pub fn matches(&self, e: &Event) -> bool {
        if let Some(ns) = &self.namespace {
            let own = e.namespace();
            if !own.is_empty() && own != ns {
                return false;
            }
        }
        if self.topics.is_empty() {
            return true;
        }
        let keys = |t: &str| self.topics.get(t).into_iter().flatten();
        keys(e.topic())
            .chain(keys("*"))
            .any(|k| k == "*" || k == e.key() || e.filter_keys().iter().any(|f| f == k))
    }

    fn passes_all(&self) -> bool {
        self.namespace.is_none()
            && (self.topics.is_empty()
                || self
                    .topics
                    .get("*")
                    .is_some_and(|k| k.iter().any(|k| k == "*")))
    }
}

/// The last batches, oldest first; see the module's doc.
///
/// Subscribers, blocking or async, wait in one [`Crowd`] rather than on
/// the store's watch keys: a write marks it and the notifier thread wakes
/// them, so the writer does not pay for each, and a thousand subscribers
/// re-arming after each batch do not queue on the watch's lock that every
/// write takes.
pub(crate) struct EventBuffer {
    /// Read-locked by subscribers, which read side by side.
    ring: RwLock<Ring>,
    capacity: usize,
    waiting: Arc<Crowd>,
    /// The next subscription's number, its place in `waiting`.
    next_subscriber: AtomicU64,
}

struct Ring {
    batches: VecDeque<Arc<EventBatch>>,
    /// Index of the newest batch dropped (0: none was).
    dropped_upto: u64,
}

impl EventBuffer {
    pub(crate) fn new(capacity: usize) -> Self {
        EventBuffer {
            ring: RwLock::new(Ring {
                batches: VecDeque::with_capacity(capacity.min(1024)),
                dropped_upto: 0,
            }),
            capacity: capacity.max(1),
            waiting: Arc::default(),
            next_subscriber: AtomicU64::new(0),
        }
    }

    /// Adds the batch of an applied command (in index order: the store
    /// holds its log turn).
    pub(crate) fn publish(&self, batch: EventBatch) {
        {
            let mut r = self.ring.write();
            if r.batches.len() >= self.capacity {
                if let Some(old) = r.batches.pop_front() {
                    r.dropped_upto = old.index;
                }
            }
            r.batches.push_back(Arc::new(batch));
        }
        self.waiting.wake();
    }

    /// The state was replaced at `index` (a snapshot restored): the writes
    /// up to it have no events here, so a subscriber before it is told, as
    /// one that fell behind.
    pub(crate) fn restored(&self, index: u64) {
        {
            let mut r = self.ring.write();
            r.batches.retain(|b| b.index > index);
            r.dropped_upto = r.dropped_upto.max(index);
        }
        self.waiting.wake();
    }

    /// The oldest index a subscription may start from.
    pub(crate) fn oldest(&self) -> u64 {
        self.ring.read().dropped_upto + 1
    }

    fn lost(&self, after: u64, r: &Ring, what: &str) -> Error {
        let oldest = r.batches.front().map_or(r.dropped_upto + 1, |b| b.index);
        Error::Limit {
            path: "index".into(),
            limit: oldest,
            message: format!(
                "{what}: events after index {after} were dropped from the event buffer \
                 ({} batches); the oldest index it holds is {oldest}",
                self.capacity
            ),
        }
    }
}

/// A subscriber's place in the stream: the batches after an index that
/// pass its filter, one at a time. Wait for the next with
/// [`EventSubscription::next`] (blocking) or
/// [`EventSubscription::next_async`].
pub struct EventSubscription {
    buffer: Arc<EventBuffer>,
    /// Its place in the buffer's crowd of waiters.
    id: u64,
    filter: TopicFilter,
    /// Index of the last batch handed out (or passed over).
    after: u64,
}

impl EventSubscription {
    /// From the batch at index `start` on (`start` 0: from the next
    /// command). `current`: the store's index. A start the buffer no
    /// longer holds is [`Error::Limit`] with the oldest index it holds.
    pub(crate) fn new(
        buffer: Arc<EventBuffer>,
        filter: TopicFilter,
        start: u64,
        current: u64,
    ) -> Result<Self> {
        let after = if start == 0 { current } else { start - 1 };
        {
            let r = buffer.ring.read();
            if after < r.dropped_upto {
                return Err(buffer.lost(after, &r, "index too old"));
            }
        }
        Ok(EventSubscription {
            id: buffer.next_subscriber.fetch_add(1, Relaxed),
            buffer,
            filter,
            after,
        })
    }

    /// Index of the last batch handed out or passed over by the filter:
    /// a subscriber that reconnects asks for the one after it.
    pub fn index(&self) -> u64 {
        self.after
    }

    /// The next batch held, without waiting: `Ok(None)` when there is none
    /// yet; [`Error::Limit`] when the ones after this subscription's place
    /// were dropped (it fell behind by more than the buffer holds).
    pub fn try_next(&mut self) -> Result<Option<Arc<EventBatch>>> {
        let r = self.buffer.ring.read();
        if self.after < r.dropped_upto {
            return Err(self
                .buffer
                .lost(self.after, &r, "the subscriber fell behind"));
        }
        let from = r.batches.partition_point(|b| b.index <= self.after);
        for b in r.batches.range(from..) {
            self.after = b.index;
            if self.filter.passes_all() {
                return Ok(Some(b.clone()));
            }
            let events: Vec<Event> = b
                .events
                .iter()
                .filter(|e| self.filter.matches(e))
                .cloned()
                .collect();
            if events.len() == b.events.len() {
                return Ok(Some(b.clone()));
            }
            if !events.is_empty() {
                return Ok(Some(Arc::new(EventBatch::filtered(b.index, events))));
            }
        }
        Ok(None)
    }

    /// Blocks until the next batch, or `deadline` (then `Ok(None)`).
    pub fn next(&mut self, deadline: Instant) -> Result<Option<Arc<EventBatch>>> {
        let buffer = self.buffer.clone();
        loop {
            if let Some(b) = self.try_next()? {
                return Ok(Some(b));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            // Registered before looking again: a batch published after the
            // look wakes it.
            let wait = buffer.waiting.wait(self.id);
            if let Some(b) = self.try_next()? {
                return Ok(Some(b));
            }
            wait.wait_until(deadline);
        }
    }

    /// [`EventSubscription::next`] as a `Future`, on any executor.
    pub async fn next_async(&mut self, deadline: Instant) -> Result<Option<Arc<EventBatch>>> {
        let buffer = self.buffer.clone();
        loop {
            if let Some(b) = self.try_next()? {
                return Ok(Some(b));
            }
            let wait = buffer.waiting.wait(self.id);
            if let Some(b) = self.try_next()? {
                return Ok(Some(b));
            }
            if !wait.changed(deadline).await {
                return self.try_next();
            }
        }
    }
}
