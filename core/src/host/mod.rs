//! The host API, bytes in and bytes out: every store operation over JSON in
//! Nomad's field names, for hosts that speak no Rust.
//!
//! The C ABI and the Python module are thin layers over this module, so both
//! behave the same and neither holds logic of its own. Each call answers a
//! [`Reply`]: the JSON body and the index the operation answers with (the
//! read's index, or the write's).

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, Stage};
use crate::events::{EventSubscription, TopicFilter};
use crate::state::{ListOptions, Page};
use crate::store::{
    CheckedRegister, Config, DeregisterMode, Query, QueryOptions, SchedulingMode, Store,
    WriteOptions, DEFAULT_WAIT, MAX_WAIT,
};
mod config;
mod jobs;
mod nodes;
#[cfg(test)]
mod tests;

pub use config::*;
pub use jobs::*;
pub use nodes::*;

use crate::structs::{
    decode, AllocClientUpdate, JobPlanRequest, JobRegisterRequest, Limits, NodeDrainRequest,
    NodeEligibilityRequest,
};

/// A JSON answer and its index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The body, compact JSON.
    pub body: String,
    /// The index of the read, or of the write (0 when nothing was written).
    pub index: u64,
    /// A page of a list that has more: the token of the next page's first
    /// item (`X-Nomad-NextToken`). `None` otherwise.
    pub next_token: Option<String>,
}

fn reply<T: Serialize>(value: &T, index: u64) -> Result<Reply> {
    Ok(Reply {
        body: serde_json::to_string(value).expect("model types serialise"),
        index,
        next_token: None,
    })
}

/// A page of a list as JSON (its items), at the read's index, with the next
/// page's token.
fn read_page<T: Serialize>(r: Result<Query<Page<T>>>) -> Result<Reply> {
    let r = r?;
    let mut out = reply(&r.value.items, r.meta.index)?;
    out.next_token = r.value.next_token;
    Ok(out)
}

/// A `per_page` a binding was given as a number: from 0 (every item) to
/// [`MAX_PER_PAGE`](crate::params::MAX_PER_PAGE), else a decode error
/// naming `per_page`.
pub fn per_page(n: i64) -> Result<u32> {
    u32::try_from(n)
        .ok()
        .filter(|n| *n <= crate::params::MAX_PER_PAGE)
        .ok_or_else(|| Error::Invalid {
            stage: Stage::Decode,
            errors: vec![crate::FieldError::new(
                "per_page",
                format!(
                    "{n}: want a whole number from 0 to {}",
                    crate::params::MAX_PER_PAGE
                ),
            )],
        })
}

/// The list options as the bindings pass them, JSON with every key
/// optional: `{"prefix": "", "job": "", "status": "", "per_page": 0,
/// "next_token": "", "reverse": false}` (see [`ListOptions`]). Empty input
/// means every default: the whole list. A negative or too large `per_page`,
/// or an unknown key, is a decode error naming the field.
pub fn list_options(bytes: &[u8]) -> Result<ListOptions> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Json {
        #[serde(default)]
        prefix: String,
        #[serde(default)]
        job: String,
        #[serde(default)]
        status: String,
        #[serde(default)]
        per_page: i64,
        #[serde(default)]
        next_token: String,
        #[serde(default)]
        reverse: bool,
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(ListOptions::all());
    }
    let j: Json = decode(bytes, &Limits::default())?;
    Ok(ListOptions {
        prefix: j.prefix,
        job: j.job,
        status: j.status,
        per_page: per_page(j.per_page)?,
        next_token: j.next_token,
        reverse: j.reverse,
    })
}

/// A read's value as JSON, at the read's index.
fn read<T: Serialize>(r: Result<Query<T>>) -> Result<Reply> {
    let r = r?;
    reply(&r.value, r.meta.index)
}

/// Read options as the bindings pass them: a minimum index, a wait in
/// milliseconds (0: the default wait), an optional region, and an optional
/// namespace (`default` when absent; `*` for every one, on lists).
pub fn query(
    min_index: u64,
    wait_ms: u64,
    region: Option<&str>,
    namespace: Option<&str>,
) -> QueryOptions {
    QueryOptions {
        min_index,
        wait: (wait_ms > 0).then(|| Duration::from_millis(wait_ms)),
        region: region.map(str::to_string),
        namespace: namespace.map(str::to_string),
    }
}

/// Write options as the bindings pass them: an optional region and an
/// optional namespace (of the job the write names; `default` when absent).
pub fn write_options(region: Option<&str>, namespace: Option<&str>) -> WriteOptions {
    WriteOptions {
        region: region.map(str::to_string),
        namespace: namespace.map(str::to_string),
    }
}

/// Writes that name no job: only the region.
fn write_opts(region: Option<&str>) -> WriteOptions {
    write_options(region, None)
}

/// Checks that `region` (when given and not empty) is the store's region: the
/// check every operation makes, for hosts that route by region before they
/// read a body (node writes take no region of their own).
pub fn check_region(store: &Store, region: Option<&str>) -> Result<()> {
    store.check_region(region)
}

/// Checks a request body's announced length against the store's bound before
/// a host reads it, with the same error a body of that size gets from decoding.
pub fn check_body_size(store: &Store, len: u64) -> Result<()> {
    let limit = store.config().limits.max_request_bytes;
    if len > limit as u64 {
        return Err(Error::Limit {
            path: "body".into(),
            limit: limit as u64,
            message: format!("request body of {len} bytes is over the limit of {limit} bytes"),
        });
    }
    Ok(())
}

fn path_mismatch(message: &str) -> Error {
    Error::Invalid {
        stage: Stage::Decode,
        errors: vec![crate::FieldError::new("", message)],
    }
}

/// The whole wait of a blocking read asked to wait `wait_ms` milliseconds
/// (0: the default), capped as the store caps it. Hosts that wait in slices
/// (see [`read_in_slices`]) use it as their budget.
pub fn wait_budget(wait_ms: u64) -> Duration {
    let wait = if wait_ms == 0 {
        DEFAULT_WAIT
    } else {
        Duration::from_millis(wait_ms)
    };
    wait.min(MAX_WAIT)
}

/// An answer that carries the index of its read: a [`Reply`], or a typed
/// [`crate::Query`] for hosts that render values themselves.
pub trait Indexed {
    /// The index the read answered with.
    fn index(&self) -> u64;
}

impl Indexed for Reply {
    fn index(&self) -> u64 {
        self.index
    }
}

impl<T> Indexed for crate::Query<T> {
    fn index(&self) -> u64 {
        self.meta.index
    }
}

/// A blocking read waited for in slices, so a host can do something between
/// them (a Python binding checks for signals with the GIL taken back).
///
/// `read` is one of this module's reads (or a typed `Store` read); it is called with `min_index` and a
/// wait of at most `slice` until the read settles as [`Store::wait`] decides
/// (its index moved past `min_index`, `min_index` is past the store's index,
/// or an error other than not-found), or until [`wait_budget`] is spent: then
/// the last answer is returned, as a read that timed out. `between` runs
/// before each further slice: `Continue` waits on, `Break` ends the wait
/// with the last answer (as if the budget were spent), and an error ends it
/// with that error.
// Each argument is one the bindings pass through as they got it.
#[allow(clippy::too_many_arguments)]
pub fn read_in_slices<R: Indexed, E>(
    store: &Store,
    min_index: u64,
    wait_ms: u64,
    region: Option<&str>,
    namespace: Option<&str>,
    slice: Duration,
    read: impl Fn(&QueryOptions) -> Result<R>,
    mut between: impl FnMut() -> std::result::Result<ControlFlow<()>, E>,
) -> std::result::Result<Result<R>, E> {
    if min_index == 0 {
        return Ok(read(&query(0, 0, region, namespace)));
    }
    let slice = slice.max(Duration::from_millis(1));
    let deadline = Instant::now() + wait_budget(wait_ms);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let this = left.min(slice).max(Duration::from_millis(1));
        let answer = read(&query(
            min_index,
            this.as_millis() as u64,
            region,
            namespace,
        ));
        let index = match &answer {
            Ok(r) => r.index(),
            Err(Error::NotFound { index, .. }) => *index,
            Err(_) => return Ok(answer),
        };
        if index > min_index || min_index > store.index() || Instant::now() >= deadline {
            return Ok(answer);
        }
        if between()?.is_break() {
            return Ok(answer);
        }
    }
}

/// Subscribes to the event stream ([`crate::events`]) with `Topic:Key`
/// filters (none: every event), events of `namespace` only (None or `*`:
/// every namespace; the HTTP front ends pass Nomad's default, `default`),
/// from index `index` on (0: from the next write). A filter that does not
/// parse is a decode error naming `topic`; an index older than the buffer
/// holds is a limit error whose `limit` is the oldest index it holds.
pub fn subscribe_events<S: AsRef<str>>(
    store: &Store,
    topics: &[S],
    namespace: Option<&str>,
    index: u64,
) -> Result<EventSubscription> {
    let mut filter = TopicFilter::parse(topics)?;
    if let Some(ns) = namespace {
        filter = filter.namespace(ns);
    }
    store.subscribe_events(filter, index)
}

/// The subscription's next frame as JSON (`{"Index": n, "Events": [...]}`),
/// waiting up to `timeout_ms` milliseconds (0: not at all; capped at
/// [`MAX_WAIT`]); `None` when none came. A subscriber that fell behind the
/// buffer gets a limit error naming the oldest index held.
pub fn next_event(sub: &mut EventSubscription, timeout_ms: u64) -> Result<Option<String>> {
    if timeout_ms == 0 {
        return Ok(sub.try_next()?.map(|b| b.to_json()));
    }
    let wait = Duration::from_millis(timeout_ms).min(MAX_WAIT);
    Ok(sub.next(Instant::now() + wait)?.map(|b| b.to_json()))
}

/// [`next_event`] waited for in slices of at most `slice`, running
/// `between` before each further slice (a Python binding checks for
/// signals there): `Break` ends the wait with `None`, an error ends it with
/// that error. `timeout_ms` `None`: no end but `between`'s.
pub fn next_event_in_slices<E>(
    sub: &mut EventSubscription,
    timeout_ms: Option<u64>,
    slice: Duration,
    mut between: impl FnMut() -> std::result::Result<ControlFlow<()>, E>,
) -> std::result::Result<Result<Option<String>>, E> {
    let slice = slice.max(Duration::from_millis(1));
    let deadline = timeout_ms.map(|t| Instant::now() + Duration::from_millis(t));
    loop {
        let end = Instant::now() + slice;
        let end = deadline.map_or(end, |d| d.min(end));
        match sub.next(end) {
            Ok(Some(b)) => return Ok(Ok(Some(b.to_json()))),
            Err(e) => return Ok(Err(e)),
            Ok(None) => {}
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(Ok(None));
        }
        if between()?.is_break() {
            return Ok(Ok(None));
        }
    }
}
