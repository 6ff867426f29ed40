//! The HTTP front end: one hyper service that routes as Nomad's agent does and
//! answers from an embedded [`Store`]. Reads wait with [`Store::wait_async`]
//! (an open long-poll costs a small future, no thread); writes run inline on
//! a serving thread, one at a time (see [`App::write`]).

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use http_body_util::BodyExt;
use ordu::host::{self, Reply};
use ordu::{reads, Agent, Error, QueryOptions, Reader, Store};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Semaphore, SemaphorePermit};

use crate::limits::{BodyLimits, Budget, Held};
use crate::params::{Blocking, Params};
use crate::routes::{route, Op, Route};

#[cfg(test)]
mod tests;
mod writes;

const X_NOMAD_INDEX: HeaderName = HeaderName::from_static("x-nomad-index");
const X_NOMAD_NEXT_TOKEN: HeaderName = HeaderName::from_static("x-nomad-nexttoken");
const X_NOMAD_KNOWN_LEADER: HeaderName = HeaderName::from_static("x-nomad-knownleader");
const X_NOMAD_LAST_CONTACT: HeaderName = HeaderName::from_static("x-nomad-lastcontact");
const JSON: HeaderValue = HeaderValue::from_static("application/json");
const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");

/// A body past the store's limit is read on and thrown away (so the client
/// can read its 400), up to this much; then the connection is dropped.
const DRAIN_LIMIT: u64 = 1 << 30;

/// The room a body's buffer starts with, at most: a `Content-Length` is only
/// a claim, and the budget counts bytes that came; past this the buffer
/// doubles as they come.
const FIRST_ROOM: usize = 64 << 10;

/// A register body larger than this is decoded and checked on the blocking
/// pool rather than on the serving thread (see [`App::write`]). Smaller ones
/// check in well under a millisecond, less than the hand-off costs.
const CHECK_APART_BYTES: usize = 64 << 10;

/// A write, run on the blocking pool.
type WriteCall = Box<dyn FnOnce(&Store) -> ordu::Result<Reply> + Send>;

/// Writes in flight at once with a log that syncs: enough that a sync's
/// batch can hold one write per connection of a busy client pool, few enough
/// that the blocking pool keeps threads for bodies decoded apart.
pub(crate) const SYNCED_WRITES: usize = 64;

/// What every request handler shares.
pub struct App {
    store: Arc<Store>,
    /// What the agent endpoints say about this server.
    agent: Agent,
    /// Turns true when the server shuts down: open long-polls answer at once.
    shutdown: watch::Receiver<bool>,
    /// One write at a time runs on a serving thread (see [`App::write`]).
    writes: Semaphore,
    /// With a log that syncs (`--data-dir`), writes run on the blocking pool
    /// instead, up to this many at once, so that the store gathers those
    /// that arrive during a sync into the next (group commit).
    synced_writes: Option<Semaphore>,
    /// The compact JSON of jobs as last answered.
    job_json: JobJson,
    /// The request body bytes all connections hold, against their bound.
    bodies: Budget,
    /// How long a body may take to arrive.
    read_timeout: std::time::Duration,
    /// A task to process the evaluations writes queued is spawned and has
    /// not yet started (see [`App::queue_processing`]).
    scheduled: AtomicBool,
    /// Held while processing runs on the blocking pool (synced writes):
    /// one such task at a time, the others await it without a thread.
    processing: tokio::sync::Mutex<()>,
}

/// Most jobs [`JobJson`] keeps; when it is full it starts over.
const JOB_JSON_MAX: usize = 4096;

/// Most bytes of JSON [`JobJson`] keeps (a job may be megabytes); when a
/// new entry would pass it, it starts over. A job larger than a sixteenth of
/// it is rendered at every get.
const JOB_JSON_MAX_BYTES: usize = 32 << 20;

/// The compact JSON of each job as last answered, given again while the job
/// is unchanged: a get of one job (the commonest read, and the read every
/// long-poll on a job answers with) is then a copy of a reference instead of
/// a render, a large part of a get's cost (docs/benchmarks.md). An entry is the
/// job's namespace, `CreateIndex` and `ModifyIndex` with its bytes: every change to a
/// job moves its `ModifyIndex`, and a job deleted and registered again has a
/// new `CreateIndex`. It holds bytes, not the job, so a replaced job is not
/// kept alive.
#[derive(Default)]
struct JobJson(std::sync::Mutex<JobJsonMap>);

/// The entries by job ID, and the sum of their bytes. An entry also holds
/// its job's namespace: the jobs of one ID in two namespaces share a slot,
/// the one last answered kept (a lookup by ID allocates nothing, and such
/// twins are rare).
#[derive(Default)]
struct JobJsonMap {
    jobs: std::collections::HashMap<String, JobJsonEntry>,
    bytes: usize,
}

/// One job's JSON: its namespace, `CreateIndex` and `ModifyIndex`, bytes.
struct JobJsonEntry {
    namespace: String,
    version: (u64, u64),
    body: Bytes,
}

impl JobJson {
    fn render(&self, job: &ordu::structs::Job, pretty: bool) -> Result<Bytes, Fail> {
        if pretty {
            return encode(job, true).map(Bytes::from);
        }
        let version = (job.create_index, job.modify_index);
        let cached = |map: &JobJsonMap| {
            map.jobs
                .get(&job.id)
                .filter(|e| e.version == version && e.namespace == job.namespace)
                .map(|e| e.body.clone())
        };
        if let Some(b) = self.0.lock().ok().and_then(|m| cached(&m)) {
            return Ok(b);
        }
        let body = Bytes::from(encode(job, false)?);
        if body.len() > JOB_JSON_MAX_BYTES / 16 {
            return Ok(body);
        }
        if let Ok(mut map) = self.0.lock() {
            if let Some(old) = map.jobs.remove(&job.id) {
                map.bytes -= old.body.len();
            }
            if map.jobs.len() >= JOB_JSON_MAX || map.bytes + body.len() > JOB_JSON_MAX_BYTES {
                map.jobs.clear();
                map.bytes = 0;
            }
            map.bytes += body.len();
            let entry = JobJsonEntry {
                namespace: job.namespace.clone(),
                version,
                body: body.clone(),
            };
            map.jobs.insert(job.id.clone(), entry);
        }
        Ok(body)
    }
}

/// The HTTP service over `store`, for hyper's connections, with request
/// bodies bounded by `limits`. Long-polls end (answering the current state)
/// once `shutdown` turns true.
pub fn service(
    store: Arc<Store>,
    shutdown: watch::Receiver<bool>,
    agent: Agent,
    limits: BodyLimits,
) -> Service {
    let synced_writes = store.log_batches().then(|| Semaphore::new(SYNCED_WRITES));
    Service(Arc::new(App {
        store,
        agent,
        shutdown,
        writes: Semaphore::new(1),
        synced_writes,
        processing: tokio::sync::Mutex::new(()),
        job_json: JobJson::default(),
        bodies: Budget::new(limits.bytes_in_flight),
        read_timeout: limits.read_timeout,
        scheduled: AtomicBool::new(false),
    }))
}

/// Every request goes to [`handle`]: the routing is ours ([`route`]), so a
/// router in front of it would only add a layer, and its cost per request
/// (docs/benchmarks.md).
#[derive(Clone)]
pub struct Service(Arc<App>);

/// A request's answer, boxed: one future type whatever the request.
type Answering =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Infallible>> + Send>>;

impl<B> hyper::service::Service<hyper::Request<B>> for Service
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answering;

    fn call(&self, req: hyper::Request<B>) -> Answering {
        let req = req.map(Body::new);
        if crate::log::enabled() {
            let method = req.method().clone();
            let path = req.uri().path_and_query().map_or("", |p| p.as_str());
            let path = path.to_string();
            return Box::pin(crate::log::logged(
                method,
                path,
                handle(self.0.clone(), req),
            ));
        }
        Box::pin(handle(self.0.clone(), req))
    }
}

/// Routes `req` and checks what needs no waiting (path, parameters, region)
/// before the future is made, so that the future holds only what its wait
/// needs: an open long-poll keeps it for as long as it waits.
fn handle(
    app: Arc<App>,
    req: Request,
) -> impl std::future::Future<Output = Result<Response, Infallible>> {
    let checked = check(&app, req);
    answer(app, checked)
}

/// Answers a checked request. What it needs is borrowed from `checked`, not
/// moved out of it, so that the future holds it once rather than twice.
///
/// It never fails: the `Result` is the service's, returned from here rather
/// than wrapped around this future in another (an `async` block awaiting a
/// moved-in future keeps room for it twice).
async fn answer(app: Arc<App>, mut checked: Checked) -> Result<Response, Infallible> {
    Ok(match &mut checked {
        Checked::Answer(answer) => std::mem::take(answer),
        Checked::Read(op, b, params) => app.read(op, *b, params).await,
        Checked::Operator(call) => {
            let (op, parts, body, forwarded) = *std::mem::replace(
                call,
                Box::new((
                    Op::ListJobs,
                    axum::http::Request::new(()).into_parts().0,
                    Body::empty(),
                    false,
                )),
            );
            let ct = parts.headers.get(CONTENT_TYPE).cloned();
            // Boxed, as a write is: the long-poll's future stays small.
            Box::pin(crate::cluster::operator(
                op,
                parts.method,
                parts.uri,
                ct,
                forwarded,
                body,
            ))
            .await
        }
        Checked::Forward(f) => {
            let f = std::mem::replace(&mut **f, Forward::none());
            Box::pin(crate::cluster::forward(
                &f.addr,
                f.method,
                &f.uri,
                f.content_type,
                Vec::new(),
            ))
            .await
        }
        // Boxed: a write's future, with its body read and that read's
        // timer, is larger than a read's, and the long-poll's future (this
        // one) would grow to its size.
        Checked::Write(op, body, announced, params, forward) => {
            let op = std::mem::replace(op, Op::ListJobs);
            let forward = forward.take();
            Box::pin(app.receive(op, std::mem::take(body), *announced, params, forward)).await
        }
    })
}

/// A request after the checks [`handle`] makes before waiting.
enum Checked {
    /// Refused (or routed nowhere): this is the answer.
    Answer(Response),
    Read(Op, Blocking, Params),
    /// With the body still to read and its announced length, and where to
    /// forward it when the cluster's leader is another server.
    Write(Op, Body, Option<u64>, Params, Option<Box<Forward>>),
    /// A read the cluster's leader answers.
    Forward(Box<Forward>),
    /// A membership change or read ([`crate::cluster::operator`]).
    Operator(Box<(Op, axum::http::request::Parts, Body, bool)>),
}

/// A request to hand to the cluster's leader.
struct Forward {
    addr: String,
    method: axum::http::Method,
    uri: axum::http::Uri,
    content_type: Option<HeaderValue>,
}

impl Forward {
    fn none() -> Forward {
        Forward {
            addr: String::new(),
            method: axum::http::Method::GET,
            uri: axum::http::Uri::from_static("/"),
            content_type: None,
        }
    }
}

fn check(app: &App, req: Request) -> Checked {
    let (parts, body) = req.into_parts();
    let op = match route(&parts.method, parts.uri.path()) {
        Route::Op(op) => op,
        Route::MethodNotAllowed => {
            return Checked::Answer(text(StatusCode::METHOD_NOT_ALLOWED, "Invalid method"))
        }
        Route::NotFound => {
            return Checked::Answer(text(StatusCode::NOT_FOUND, "404 page not found"))
        }
        Route::BadPath => {
            return Checked::Answer(text(StatusCode::BAD_REQUEST, "Invalid path encoding"))
        }
    };
    let params = Params::parse(parts.uri.query());
    // Another region is refused before anything else, bodies included.
    if let Err(e) = host::check_region(&app.store, params.region()) {
        return Checked::Answer(error(&e, false));
    }
    if op.is_agent() {
        return Checked::Answer(app.agent_answer(&op, params.pretty()));
    }
    if op == Op::EventStream {
        // Served here, leader or not: every server applies the same
        // commands, so it has the same events.
        let p = match crate::events::StreamParams::parse(parts.uri.query()) {
            Ok(p) => p,
            Err(bad) => return Checked::Answer(text(StatusCode::BAD_REQUEST, &bad)),
        };
        return Checked::Answer(
            match crate::events::stream(&app.store, p, app.shutdown.clone()) {
                Ok(resp) => resp,
                Err(e) => error(&e, false),
            },
        );
    }
    let forwarded = parts.headers.contains_key(crate::cluster::FORWARDED);
    if op.is_operator() {
        return Checked::Operator(Box::new((op, parts, body, forwarded)));
    }
    let forward = match crate::cluster::target(!op.is_read(), params.stale(), forwarded) {
        crate::cluster::Target::Here => None,
        crate::cluster::Target::NoLeader => return Checked::Answer(crate::cluster::no_leader()),
        crate::cluster::Target::Leader(addr) => Some(Box::new(Forward {
            addr,
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            content_type: parts.headers.get(CONTENT_TYPE).cloned(),
        })),
    };
    if op.is_read() {
        return match (params.blocking(), forward) {
            (Err(bad), _) => Checked::Answer(text(StatusCode::BAD_REQUEST, &bad.0)),
            (Ok(_), Some(f)) => Checked::Forward(f),
            (Ok(b), None) => Checked::Read(op, b, params),
        };
    }
    let announced = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // A client that waits for `100 Continue` before sending an oversized
    // body gets the limit error instead: hyper sends the 100 once the body
    // is first read, so it is not read.
    let expects = parts
        .headers
        .get(axum::http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if let (true, Some(n)) = (expects, announced) {
        if let Err(e) = host::check_body_size(&app.store, n) {
            return Checked::Answer(error(&e, false));
        }
    }
    Checked::Write(op, body, announced, params, forward)
}

impl App {
    async fn read(&self, op: &Op, b: Blocking, params: &Params) -> Response {
        // On a cluster's leader, a default read is answered only once it is
        // known to lead (boxed: a long-poll's future stays small).
        if crate::cluster::get().is_some() {
            if let Err(refused) = Box::pin(crate::cluster::confirm(params.stale())).await {
                return refused;
            }
        }
        // Reads see the evaluations of every write answered before them:
        // the store's read barrier (in `wait_async`) processes what writes
        // queued. Doing that here first, under the write turn, awaits the
        // group in progress (the processing task holds the turn) instead of
        // blocking this serving thread on the store's scheduling lock.
        if self.store.processing_behind() {
            self.process_queued().await;
        }
        let pretty = params.pretty();
        // The namespace of the job a route names, or of a list (`*`: every
        // one); reads by evaluation, allocation or node ID ignore it, as
        // Nomad's do.
        let ns = params.namespace_or_default();
        match op {
            Op::ListJobs | Op::ListNodes | Op::ListEvaluations | Op::ListAllocations => {
                // Boxed: an open long-poll's future holds it.
                let list = match params.list() {
                    Ok(list) => Box::new(list),
                    Err(bad) => return text(StatusCode::BAD_REQUEST, &bad.0),
                };
                let l = &list;
                match op {
                    Op::ListJobs => {
                        self.page(|| reads::jobs_page(ns, l), b, params, pretty)
                            .await
                    }
                    Op::ListNodes => self.page(|| reads::nodes_page(l), b, params, pretty).await,
                    Op::ListEvaluations => {
                        self.page(|| reads::evaluations(ns, l), b, params, pretty)
                            .await
                    }
                    _ => {
                        self.page(|| reads::allocations(ns, l), b, params, pretty)
                            .await
                    }
                }
            }
            Op::GetJob(id) => match self.query(|| reads::job(ns, id), b, params).await {
                Ok(q) => match self.job_json.render(&q.value, pretty) {
                    Ok(body) => ok(body, q.meta.index, true),
                    Err(fail) => fail.response(),
                },
                Err(e) => error(&e, true),
            },
            Op::JobAllocations(id) => {
                let all = match params.all() {
                    Ok(all) => all,
                    Err(bad) => return text(StatusCode::BAD_REQUEST, &bad.0),
                };
                self.wait(|| reads::job_allocations(ns, id, all), b, params, false)
                    .await
            }
            Op::JobEvaluations(id) => {
                self.wait(|| reads::job_evaluations(ns, id), b, params, false)
                    .await
            }
            // Boxed, the reads issue 15 added: the future of every request
            // (an open long-poll's included) holds room for its largest arm.
            Op::JobVersions(id) => {
                Box::pin(self.wait(|| reads::job_versions(ns, id), b, params, true)).await
            }
            Op::JobSummary(id) => {
                Box::pin(self.wait(|| reads::job_summary(ns, id), b, params, true)).await
            }
            Op::JobScaleStatus(id) => {
                Box::pin(self.wait(|| reads::job_scale_status(ns, id), b, params, true)).await
            }
            Op::JobDeployments(id) => {
                Box::pin(self.wait(|| reads::job_deployments(ns, id), b, params, false)).await
            }
            Op::JobDeployment(id) => {
                Box::pin(self.wait(|| reads::job_deployment(ns, id), b, params, false)).await
            }
            Op::ListNamespaces => {
                let prefix = params.prefix();
                Box::pin(self.wait(|| reads::namespaces(prefix), b, params, false)).await
            }
            Op::GetNamespace(name) => {
                Box::pin(self.wait(|| reads::namespace(name), b, params, true)).await
            }
            Op::GetNode(id) => self.wait(|| reads::node(id), b, params, true).await,
            Op::NodeAllocations(id) => {
                self.wait(|| reads::node_allocations(id), b, params, false)
                    .await
            }
            Op::GetEvaluation(id) => self.wait(|| reads::evaluation(id), b, params, true).await,
            Op::GetAllocation(id) => self.wait(|| reads::allocation(id), b, params, true).await,
            Op::EvalAllocations(id) => {
                self.wait(|| reads::eval_allocations(id), b, params, false)
                    .await
            }
            _ => text(StatusCode::INTERNAL_SERVER_ERROR, "not a read"),
        }
    }

    /// The agent and status endpoints: this server is the whole cluster, or
    /// one of a Raft cluster's servers, as Raft tells.
    fn agent_answer(&self, op: &Op, pretty: bool) -> Response {
        let a = &self.agent;
        let body = match op {
            Op::AgentSelf => {
                let mut me = a.agent_self(&self.store);
                crate::cluster::patch_self(&mut me);
                encode(&me, pretty)
            }
            Op::AgentMembers => {
                match crate::cluster::members(&a.member(&self.store.config().region)) {
                    Some(all) => encode(&all, pretty),
                    None => encode(&a.members(&self.store), pretty),
                }
            }
            Op::StatusLeader => encode(
                &crate::cluster::leader().unwrap_or_else(|| a.leader()),
                pretty,
            ),
            Op::StatusPeers => encode(
                &crate::cluster::peers().unwrap_or_else(|| a.peers()),
                pretty,
            ),
            _ => encode(&ordu::agent::regions(&self.store), pretty),
        };
        match body {
            Ok(body) => {
                let mut r = Response::new(Body::from(body));
                r.headers_mut().insert(CONTENT_TYPE, JSON);
                r
            }
            Err(fail) => fail.response(),
        }
    }

    /// Answers one read, blocking as `b` asks, in JSON (indented with
    /// `?pretty`).
    async fn wait<T: Serialize>(
        &self,
        reader: impl Fn() -> Reader<T>,
        b: Blocking,
        params: &Params,
        lookup: bool,
    ) -> Response {
        match self.query(reader, b, params).await {
            Ok(q) => match encode(&q.value, params.pretty()) {
                Ok(body) => ok(body, q.meta.index, true),
                Err(fail) => fail.response(),
            },
            Err(e) => error(&e, lookup),
        }
    }

    /// Answers one page of a list as [`App::wait`] does, with the next
    /// page's token as `X-Nomad-NextToken` when there is one.
    async fn page<T: Serialize>(
        &self,
        reader: impl Fn() -> Reader<ordu::Page<T>>,
        b: Blocking,
        params: &Params,
        pretty: bool,
    ) -> Response {
        match self.query(reader, b, params).await {
            Ok(q) => match encode(&q.value.items, pretty) {
                Ok(body) => {
                    let mut resp = ok(body, q.meta.index, true);
                    // A token that is no header value (an ID with a control
                    // character) cannot be sent: the client sees the last page.
                    let token = q.value.next_token.as_deref().map(str::as_bytes);
                    if let Some(Ok(v)) = token.map(HeaderValue::from_bytes) {
                        resp.headers_mut().insert(X_NOMAD_NEXT_TOKEN, v);
                    }
                    resp
                }
                Err(fail) => fail.response(),
            },
            Err(e) => error(&e, false),
        }
    }

    /// One read, blocking as `b` asks, in the region and namespace of
    /// `params`; a server shutting down answers its open long-polls at once
    /// with the current state.
    async fn query<T>(
        &self,
        reader: impl Fn() -> Reader<T>,
        b: Blocking,
        params: &Params,
    ) -> ordu::Result<ordu::Query<T>> {
        let opts = QueryOptions {
            min_index: b.index,
            wait: b.wait,
            region: params.region().map(str::to_string),
            namespace: params.namespace().map(str::to_string),
        };
        if b.index == 0 {
            return self.store.wait(reader(), &opts);
        }
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            r = self.store.wait_async(reader(), &opts) => r,
            _ = shutdown.wait_for(|down| *down) => {
                let now = QueryOptions { min_index: 0, ..opts.clone() };
                self.store.wait(reader(), &now)
            }
        }
    }
}

fn encode<T: Serialize + ?Sized>(value: &T, pretty: bool) -> Result<Vec<u8>, Fail> {
    let out = if pretty {
        let mut out = Vec::with_capacity(1024);
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        value.serialize(&mut ser).map(|()| out)
    } else {
        serde_json::to_vec(value)
    };
    out.map_err(|e| Fail {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("failed to encode the answer: {e}"),
        index: None,
    })
}

/// A 200 JSON answer with the index header (and the leader headers on reads).
fn ok(body: impl Into<Body>, index: u64, read: bool) -> Response {
    let mut resp = Response::new(body.into());
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, JSON);
    h.insert(X_NOMAD_INDEX, HeaderValue::from(index));
    if read {
        leader_headers(h);
    }
    resp
}

fn leader_headers(h: &mut axum::http::HeaderMap) {
    let known = if crate::cluster::known_leader() {
        "true"
    } else {
        "false"
    };
    h.insert(X_NOMAD_KNOWN_LEADER, HeaderValue::from_static(known));
    h.insert(
        X_NOMAD_LAST_CONTACT,
        HeaderValue::from(crate::cluster::last_contact_ms()),
    );
}

/// A plain-text answer.
fn text(status: StatusCode, message: &str) -> Response {
    let mut resp = Response::new(Body::from(message.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, TEXT);
    resp
}

/// An answer other than 200: a status and a plain-text body; a read that
/// found nothing also carries its index (and the leader headers).
#[derive(Debug)]
struct Fail {
    status: StatusCode,
    message: String,
    index: Option<u64>,
}

impl Fail {
    fn bad_request(message: impl Into<String>) -> Fail {
        Fail {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            index: None,
        }
    }

    /// A store error: the status from the core's one mapping, its text as the
    /// body. `lookup`: a read of one object, where missing is a 404.
    fn error(e: &Error, lookup: bool) -> Fail {
        let status = StatusCode::from_u16(e.http_status(lookup))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let index = match e {
            Error::NotFound { index, .. } if lookup => Some(*index),
            _ => None,
        };
        Fail {
            status,
            message: e.to_string(),
            index,
        }
    }

    fn response(self) -> Response {
        let mut resp = text(self.status, &self.message);
        if let Some(index) = self.index {
            let h = resp.headers_mut();
            h.insert(X_NOMAD_INDEX, HeaderValue::from(index));
            leader_headers(h);
        }
        resp
    }
}

fn error(e: &Error, lookup: bool) -> Response {
    Fail::error(e, lookup).response()
}
