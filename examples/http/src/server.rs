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
/// job's `CreateIndex` and `ModifyIndex` with its bytes: every change to a
/// job moves its `ModifyIndex`, and a job deleted and registered again has a
/// new `CreateIndex`. It holds bytes, not the job, so a replaced job is not
/// kept alive.
#[derive(Default)]
struct JobJson(std::sync::Mutex<JobJsonMap>);

/// The entries by job ID, and the sum of their bytes.
#[derive(Default)]
struct JobJsonMap {
    jobs: std::collections::HashMap<String, (u64, u64, Bytes)>,
    bytes: usize,
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
                .filter(|(c, m, _)| (*c, *m) == version)
                .map(|(_, _, b)| b.clone())
        };
        if let Some(b) = self.0.lock().ok().and_then(|m| cached(&m)) {
            return Ok(b);
        }
        let body = Bytes::from(encode(job, false)?);
        if body.len() > JOB_JSON_MAX_BYTES / 16 {
            return Ok(body);
        }
        if let Ok(mut map) = self.0.lock() {
            if let Some((_, _, old)) = map.jobs.remove(&job.id) {
                map.bytes -= old.len();
            }
            if map.jobs.len() >= JOB_JSON_MAX || map.bytes + body.len() > JOB_JSON_MAX_BYTES {
                map.jobs.clear();
                map.bytes = 0;
            }
            map.bytes += body.len();
            map.jobs
                .insert(job.id.clone(), (version.0, version.1, body.clone()));
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
        let region = params.region();
        let pretty = params.pretty();
        match op {
            Op::ListJobs | Op::ListNodes | Op::ListEvaluations | Op::ListAllocations => {
                // Boxed: an open long-poll's future holds it.
                let list = match params.list() {
                    Ok(list) => Box::new(list),
                    Err(bad) => return text(StatusCode::BAD_REQUEST, &bad.0),
                };
                let l = &list;
                match op {
                    Op::ListJobs => self.page(|| reads::jobs_page(l), b, region, pretty).await,
                    Op::ListNodes => self.page(|| reads::nodes_page(l), b, region, pretty).await,
                    Op::ListEvaluations => {
                        self.page(|| reads::evaluations(l), b, region, pretty).await
                    }
                    _ => self.page(|| reads::allocations(l), b, region, pretty).await,
                }
            }
            Op::GetJob(id) => match self.query(|| reads::job(id), b, region).await {
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
                self.wait(|| reads::job_allocations(id, all), b, region, pretty, false)
                    .await
            }
            Op::JobEvaluations(id) => {
                self.wait(|| reads::job_evaluations(id), b, region, pretty, false)
                    .await
            }
            // Boxed, the reads issue 15 added: the future of every request
            // (an open long-poll's included) holds room for its largest arm.
            Op::JobVersions(id) => {
                Box::pin(self.wait(|| reads::job_versions(id), b, region, pretty, true)).await
            }
            Op::JobSummary(id) => {
                Box::pin(self.wait(|| reads::job_summary(id), b, region, pretty, true)).await
            }
            Op::JobScaleStatus(id) => {
                Box::pin(self.wait(|| reads::job_scale_status(id), b, region, pretty, true)).await
            }
            Op::JobDeployments(id) => {
                Box::pin(self.wait(|| reads::job_deployments(id), b, region, pretty, false)).await
            }
            Op::JobDeployment(id) => {
                Box::pin(self.wait(|| reads::job_deployment(id), b, region, pretty, false)).await
            }
            Op::GetNode(id) => self.wait(|| reads::node(id), b, region, pretty, true).await,
            Op::NodeAllocations(id) => {
                self.wait(|| reads::node_allocations(id), b, region, pretty, false)
                    .await
            }
            Op::GetEvaluation(id) => {
                self.wait(|| reads::evaluation(id), b, region, pretty, true)
                    .await
            }
            Op::GetAllocation(id) => {
                self.wait(|| reads::allocation(id), b, region, pretty, true)
                    .await
            }
            Op::EvalAllocations(id) => {
                self.wait(|| reads::eval_allocations(id), b, region, pretty, false)
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

    /// Answers one read, blocking as `b` asks, in JSON.
    async fn wait<T: Serialize>(
        &self,
        reader: impl Fn() -> Reader<T>,
        b: Blocking,
        region: Option<&str>,
        pretty: bool,
        lookup: bool,
    ) -> Response {
        match self.query(reader, b, region).await {
            Ok(q) => match encode(&q.value, pretty) {
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
        region: Option<&str>,
        pretty: bool,
    ) -> Response {
        match self.query(reader, b, region).await {
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

    /// One read, blocking as `b` asks; a server shutting down answers its
    /// open long-polls at once with the current state.
    async fn query<T>(
        &self,
        reader: impl Fn() -> Reader<T>,
        b: Blocking,
        region: Option<&str>,
    ) -> ordu::Result<ordu::Query<T>> {
        let opts = QueryOptions {
            min_index: b.index,
            wait: b.wait,
            region: region.map(str::to_string),
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

    /// Reads a write's body, within the read timeout and the server's
    /// budget of bytes in flight, and applies the write. The body's share of
    /// the budget is given back once the write is answered.
    async fn receive(
        self: &Arc<Self>,
        op: Op,
        mut body: Body,
        announced: Option<u64>,
        params: &Params,
        forward: Option<Box<Forward>>,
    ) -> Response {
        let deadline = tokio::time::Instant::now() + self.read_timeout;
        let mut held = self.bodies.hold();
        let read = read_body(&self.store, &mut body, announced, &mut held);
        let read = tokio::time::timeout_at(deadline, read).await;
        match read {
            Ok(Ok(bytes)) => match forward {
                Some(f) => {
                    drop(held);
                    crate::cluster::forward(&f.addr, f.method, &f.uri, f.content_type, bytes).await
                }
                None => {
                    // A refusal or a no-op is answered from this server's
                    // state: only once it is known to lead.
                    if let Err(refused) = crate::cluster::confirm(false).await {
                        return refused;
                    }
                    self.write(op, bytes, params).await
                }
            },
            Ok(Err(BodyError::Fail(fail))) => fail.response(),
            Ok(Err(BodyError::Busy)) => {
                drop(held);
                // Answered now; the rest of the body is read and dropped
                // meanwhile (until the deadline), so that a client still
                // sending it can read the answer.
                tokio::spawn(async move {
                    let _ = tokio::time::timeout_at(deadline, discard(body)).await;
                });
                let mut resp = text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server busy: the request bodies in flight are at the server's limit \
                     (--max-body-bytes-in-flight); retry later",
                );
                resp.headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("1"));
                resp
            }
            Err(_) => {
                let mut resp = text(
                    StatusCode::REQUEST_TIMEOUT,
                    &format!(
                        "request body not received within {:?} (--read-timeout)",
                        self.read_timeout
                    ),
                );
                resp.headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
                resp
            }
        }
    }

    async fn write(self: &Arc<Self>, op: Op, body: Vec<u8>, params: &Params) -> Response {
        let region = params.region().map(str::to_string);
        let dry_run = matches!(op, Op::PlanJob(_));
        let call: WriteCall = match op {
            Op::RegisterJob(id) => {
                // Decoding and checking need no turn: done here, in parallel
                // with the write that holds it. A large body is checked on
                // the blocking pool, so that this thread serves reads
                // meanwhile; boxed, so that the future of every request
                // (an open long-poll's included) does not hold room for it.
                let checked = if body.len() > CHECK_APART_BYTES {
                    Box::pin(self.check_register_apart(id, body, region.clone())).await
                } else {
                    host::check_register_job_at(
                        &self.store,
                        id.as_deref(),
                        &body,
                        region.as_deref(),
                    )
                    .map_err(|e| error(&e, false))
                };
                match checked {
                    Ok(c) => Box::new(move |s: &Store| host::commit_register(s, c)),
                    Err(refused) => return refused,
                }
            }
            Op::PlanJob(id) => {
                Box::new(move |s: &Store| host::plan_job(s, &id, &body, region.as_deref()))
            }
            Op::EvaluateJob(id) => {
                if let Err(fail) = check_evaluate_body(&self.store, &id, &body) {
                    return fail.response();
                }
                Box::new(move |s: &Store| host::evaluate_job(s, &id, region.as_deref()))
            }
            Op::RevertJob(id) => {
                Box::new(move |s: &Store| host::revert_job(s, &id, &body, region.as_deref()))
            }
            Op::JobStability(id) => {
                Box::new(move |s: &Store| host::set_job_stability(s, &id, &body, region.as_deref()))
            }
            Op::ScaleJob(id) => {
                Box::new(move |s: &Store| host::scale_job(s, &id, &body, region.as_deref()))
            }
            Op::PeriodicForce(id) => {
                Box::new(move |s: &Store| host::force_periodic_job(s, &id, region.as_deref()))
            }
            Op::DispatchJob(id) => {
                Box::new(move |s: &Store| host::dispatch_job(s, &id, region.as_deref()))
            }
            Op::DeregisterJob(id) => {
                let purge = match params.purge() {
                    Ok(p) => p,
                    Err(bad) => return text(StatusCode::BAD_REQUEST, &bad.0),
                };
                Box::new(move |s: &Store| host::deregister_job(s, &id, purge, region.as_deref()))
            }
            Op::RegisterNode(id) => Box::new(move |s: &Store| {
                host::register_node_at(s, Some(&id), &body, region.as_deref())
            }),
            Op::DeregisterNode(id) => Box::new(move |s: &Store| host::deregister_node(s, &id)),
            Op::NodeStatus(id) => {
                Box::new(move |s: &Store| host::update_node_status(s, &id, &body))
            }
            Op::NodeDrain(id) => {
                let enable = params.enable().map(str::to_string);
                Box::new(move |s: &Store| {
                    host::update_node_drain_query(s, &id, enable.as_deref(), &body)
                })
            }
            Op::UpdateAllocation(id) => {
                Box::new(move |s: &Store| host::update_alloc_client(s, Some(&id), &body))
            }
            Op::NodeEligibility(id) => {
                Box::new(move |s: &Store| host::update_node_eligibility(s, &id, &body))
            }
            Op::NodeEvaluate(id) => Box::new(move |s: &Store| host::evaluate_node(s, &id)),
            Op::StopAllocation(id) => {
                Box::new(move |s: &Store| host::stop_allocation(s, &id, region.as_deref()))
            }
            _ => return text(StatusCode::INTERNAL_SERVER_ERROR, "not a write"),
        };
        // Writes run inline on this serving thread, one at a time across
        // all of them; their evaluations run afterwards, in groups
        // (`queue_processing`). The store applies writes one at a time
        // anyway (its write lock), so a second writer would only block a
        // second thread on that lock; waiting here instead costs no thread,
        // and the other threads keep serving reads and long-polls however
        // long a write (say, placing 10,000 allocations) runs. Handing each
        // write to the blocking pool measured slower (two thread wake-ups
        // per write; docs/benchmarks.md).
        let done = match &self.synced_writes {
            // A plan writes nothing: no write turn, nothing to process
            // after it; on the blocking pool, as a scheduler run over a
            // large cluster takes a while.
            _ if dry_run => {
                let store = self.store.clone();
                tokio::task::spawn_blocking(move || {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call(&store)))
                })
                .await
                .unwrap_or_else(|_| Err(Box::new("the plan's task failed")))
            }
            None => {
                let Some(turn) = self.write_turn().await else {
                    return text(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
                };
                let store = &*self.store;
                let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call(store)));
                if let Ok(Ok(_)) = &done {
                    self.queue_processing();
                }
                drop(turn);
                done
            }
            Some(permits) => {
                // A write waits for its log's sync: off the serving thread,
                // so that reads go on and other writes join the next sync.
                let Ok(_permit) = permits.acquire().await else {
                    return text(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
                };
                let store = self.store.clone();
                let done = tokio::task::spawn_blocking(move || {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call(&store)))
                })
                .await
                .unwrap_or_else(|_| Err(Box::new("the write's task failed")));
                if let Ok(Ok(_)) = &done {
                    self.queue_processing();
                }
                done
            }
        };
        match done {
            Ok(Ok(reply)) => {
                let body = if params.pretty() {
                    match serde_json::from_str::<serde_json::Value>(&reply.body) {
                        Ok(v) => match encode(&v, true) {
                            Ok(b) => b,
                            Err(fail) => return fail.response(),
                        },
                        Err(_) => reply.body.into_bytes(),
                    }
                } else {
                    reply.body.into_bytes()
                };
                ok(body, reply.index, false)
            }
            Ok(Err(e)) => error(&e, false),
            Err(_) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error: the write failed",
            ),
        }
    }
}

impl App {
    /// [`host::check_register_job_at`] on the blocking pool; a refusal is
    /// the answer.
    async fn check_register_apart(
        &self,
        id: Option<String>,
        body: Vec<u8>,
        region: Option<String>,
    ) -> Result<ordu::CheckedRegister, Response> {
        let store = self.store.clone();
        let checked = tokio::task::spawn_blocking(move || {
            host::check_register_job_at(&store, id.as_deref(), &body, region.as_deref())
        })
        .await;
        match checked {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(error(&e, false)),
            Err(_) => Err(text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error: checking the job failed",
            )),
        }
    }

    /// After a write, under the write turn: has the evaluations it queued
    /// processed soon (the store is in queued mode; see `main`), together
    /// with those of the writes that come in meanwhile.
    ///
    /// The first write after a group spawns a task for the next. A task
    /// runs after those already ready on its thread, so the connections with
    /// a request ready write theirs first, and it then processes all their
    /// evaluations together: evaluations of one job coalesce in the broker,
    /// as in Nomad (one runs, the newest of those waiting behind it runs
    /// next, the others are canceled), so many clients re-registering one
    /// job schedule it once per group instead of once each. The write is
    /// answered at once, and every read first processes what is queued
    /// (the store's read barrier, see [`App::read`]), so a client never
    /// reads a state in which its write's evaluation has not run, as with
    /// an inline store.
    fn queue_processing(self: &Arc<Self>) {
        if !self.store.processing_behind() {
            return;
        }
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            let app = self.clone();
            tokio::spawn(async move {
                // Writes from here on spawn the next task. A swap, not a
                // store: it reads the last write's `scheduled`, so what that
                // write queued is seen below.
                app.scheduled.swap(false, Ordering::AcqRel);
                app.process_queued().await;
            });
        }
    }

    /// Processes the evaluations that writes queued, unless that is done
    /// ([`Store::process_queued`], under the write turn): the task
    /// [`App::queue_processing`] spawns, and a read that finds work queued.
    async fn process_queued(&self) {
        if !self.store.processing_behind() {
            return;
        }
        // A panic here is the scheduler's: the writes are applied, and their
        // evaluations stay queued for the next call.
        if self.synced_writes.is_some() {
            // Its plans wait for syncs too: on the blocking pool, one task
            // at a time. Tasks blocked on the store's scheduling lock, one
            // per write, once filled the pool and left nothing for the
            // writes (or a cluster's syncs) that would free it.
            let _one = self.processing.lock().await;
            if !self.store.processing_behind() {
                return;
            }
            let store = self.store.clone();
            let _ = tokio::task::spawn_blocking(move || {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    store.process_queued()
                }));
            })
            .await;
            return;
        }
        let Some(_turn) = self.write_turn().await else {
            return;
        };
        let store = &*self.store;
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| store.process_queued()));
    }

    /// The write turn, awaited without holding the thread. `None` only
    /// once the turn is closed (nothing closes it today; the caller answers
    /// 503).
    ///
    /// Polling for a turn another thread holds (a re-register holds it a few
    /// microseconds) before awaiting it was tried: with 8 connections
    /// re-registering one job it measured better in one hour and worse in
    /// the next (docs/benchmarks.md), the spinning thread taking the CPU the
    /// holder or the client needed.
    async fn write_turn(&self) -> Option<SemaphorePermit<'_>> {
        self.writes.acquire().await.ok()
    }
}

/// The evaluate body is optional (python-nomad sends none). When one is sent
/// it is Nomad's `{"JobID": ..., "EvalOptions": {...}}`, and `JobID` must be
/// the path's job.
fn check_evaluate_body(store: &Store, id: &str, body: &[u8]) -> Result<(), Fail> {
    #[derive(Deserialize)]
    struct EvaluateRequest {
        #[serde(rename = "JobID", default)]
        job_id: Option<String>,
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let req: EvaluateRequest =
        ordu::structs::decode(body, &store.config().limits).map_err(|e| Fail::error(&e, false))?;
    match req.job_id.as_deref() {
        None | Some("") => Err(Fail::bad_request("Job ID must be specified")),
        Some(j) if j != id => Err(Fail::bad_request("JobID not same as job name")),
        Some(_) => Ok(()),
    }
}

/// Why a body was not read.
enum BodyError {
    /// Answer this.
    Fail(Fail),
    /// The server's budget of body bytes in flight has no room for it.
    Busy,
}

/// Reads a request body up to the store's size limit, its buffer counted
/// against `held` before it grows. A larger body is read on and dropped, so
/// that the client, still sending, can read the 400.
async fn read_body(
    store: &Store,
    body: &mut Body,
    announced: Option<u64>,
    held: &mut Held<'_>,
) -> Result<Vec<u8>, BodyError> {
    let limit = store.config().limits.max_request_bytes;
    let first = usize::try_from(announced.unwrap_or(0))
        .unwrap_or(usize::MAX)
        .min(FIRST_ROOM);
    let mut buf = Vec::new();
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                return Err(BodyError::Fail(Fail::bad_request(format!(
                    "failed to read the request body: {e}"
                ))))
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len() as u64);
        if total <= limit as u64 {
            // `total` is at most `limit`, so is `needed`.
            let needed = buf.len() + data.len();
            if needed > buf.capacity() {
                let room = needed
                    .max(buf.capacity().saturating_mul(2))
                    .max(first)
                    .min(limit);
                // Doubling saves copies, but only what has come is needed.
                let room = if held.grow_to(room) {
                    room
                } else if held.grow_to(needed) {
                    needed
                } else {
                    return Err(BodyError::Busy);
                };
                buf.reserve_exact(room - buf.len());
            }
            buf.extend_from_slice(&data);
        } else {
            if buf.capacity() > 0 {
                buf = Vec::new();
                held.grow_to(0);
            }
            if total > DRAIN_LIMIT {
                break;
            }
        }
    }
    host::check_body_size(store, total).map_err(|e| BodyError::Fail(Fail::error(&e, false)))?;
    Ok(buf)
}

/// Reads the rest of a body and drops it, up to [`DRAIN_LIMIT`].
async fn discard(mut body: Body) {
    let mut total: u64 = 0;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            total = total.saturating_add(data.len() as u64);
            if total > DRAIN_LIMIT {
                return;
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

#[cfg(test)]
mod tests {
    //! The router in-process (no socket): what the conformance suite checks
    //! over HTTP, in the few places where the host itself decides.
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    use axum::http::{Method, Request};
    use hyper::service::Service as _;

    use super::*;

    const JOB: &str = r#"{"Job":{"ID":"web","Datacenters":["dc1"],
        "TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Driver":"exec"}]}]}}"#;

    fn app() -> (Service, Arc<Store>, watch::Sender<bool>) {
        let store = Arc::new(Store::default());
        let (tx, rx) = watch::channel(false);
        (
            service(store.clone(), rx, test_agent(), BodyLimits::default()),
            store,
            tx,
        )
    }

    async fn call(app: &Service, method: Method, uri: &str, body: &str) -> (u16, String, u64) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::from(body.to_string()))
            .unwrap();
        let resp = app.call(req).await.unwrap();
        let status = resp.status().as_u16();
        let index = resp
            .headers()
            .get("x-nomad-index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap(), index)
    }

    /// A queued-mode store with the demo nodes, as `main` makes it.
    fn queued_app() -> (Service, Arc<Store>, watch::Sender<bool>) {
        let store = Arc::new(Store::new(ordu::Config {
            mode: ordu::SchedulingMode::Queued,
            ..ordu::Config::default()
        }));
        crate::register_demo_nodes(&store, 3).unwrap();
        store.process_queued();
        let (tx, rx) = watch::channel(false);
        (
            service(store.clone(), rx, test_agent(), BodyLimits::default()),
            store,
            tx,
        )
    }

    /// An evaluation's status as a client reads it, over the router.
    async fn eval_status(router: &Service, id: &str) -> String {
        let (status, body, _) =
            call(router, Method::GET, &format!("/v1/evaluation/{id}"), "").await;
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["Status"].as_str().unwrap().to_string()
    }

    /// Concurrent writes to a queued store are processed together:
    /// re-registers of one job schedule once per group (the broker keeps the
    /// newest of those waiting and cancels the others), and a read after the
    /// answers sees every evaluation processed or superseded.
    #[tokio::test]
    async fn writes_are_processed_together_and_reads_see_them_processed() {
        let (router, store, _tx) = queued_app();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let router = router.clone();
                tokio::spawn(async move {
                    let (status, body, _) = call(&router, Method::PUT, "/v1/jobs", JOB).await;
                    assert_eq!(status, 200, "{body}");
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                    v["EvalID"].as_str().unwrap().to_string()
                })
            })
            .collect();
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap());
        }
        let mut complete = 0;
        for id in &ids {
            let read = eval_status(&router, id).await;
            assert!(
                read == "complete" || read == "canceled",
                "{id} read as {read} after its write was answered"
            );
            complete += usize::from(read == "complete");
        }
        assert!((1..=2).contains(&complete), "{complete} of 8 scheduled");
        let allocs = store
            .job_allocations("web", false, &QueryOptions::default())
            .unwrap()
            .value;
        assert_eq!(allocs.len(), 1, "placed once, not once per write");
    }

    /// A write alone is processed by the task it spawns, with no read.
    #[tokio::test]
    async fn a_write_is_processed_without_a_read() {
        let (router, store, _tx) = queued_app();
        let (status, body, _) = call(&router, Method::PUT, "/v1/jobs", JOB).await;
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let id = v["EvalID"].as_str().unwrap().to_string();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            // Looked at past the store's read barrier, which would process
            // it itself.
            let status = store.with_state(|s| s.eval(&id).map(|e| e.status));
            if status.is_some_and(|s| s == "complete") {
                break;
            }
            assert!(Instant::now() < deadline, "still {status:?}");
            tokio::task::yield_now().await;
        }
        assert!(!store.processing_behind());
    }

    /// The same under stress: many writers on two threads, writes of several
    /// kinds and jobs; every read after an answer sees the write processed,
    /// and none hangs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn grouped_processing_under_many_writers() {
        let (router, store, _tx) = queued_app();
        let tasks: Vec<_> = (0..32)
            .map(|n| {
                let router = router.clone();
                tokio::spawn(async move {
                    let job = JOB.replace("\"web\"", &format!("\"web-{}\"", n % 4));
                    let id = format!("web-{}", n % 4);
                    for round in 0..20 {
                        let (method, uri, body) = match round % 3 {
                            0 | 1 => (Method::PUT, "/v1/jobs".to_string(), job.as_str()),
                            _ => (Method::PUT, format!("/v1/job/{id}/evaluate"), ""),
                        };
                        let (status, reply, _) = call(&router, method, &uri, body).await;
                        assert_eq!(status, 200, "{reply}");
                        let v: serde_json::Value = serde_json::from_str(&reply).unwrap();
                        let eval = v["EvalID"].as_str().unwrap();
                        let read = eval_status(&router, eval).await;
                        assert!(
                            read == "complete" || read == "canceled",
                            "{eval} read as {read} after its write was answered"
                        );
                    }
                })
            })
            .collect();
        let all = async {
            for t in tasks {
                t.await.unwrap();
            }
        };
        tokio::time::timeout(Duration::from_secs(60), all)
            .await
            .expect("every write answered");
        for n in 0..4 {
            let allocs = store
                .job_allocations(&format!("web-{n}"), false, &QueryOptions::default())
                .unwrap()
                .value;
            assert_eq!(allocs.len(), 1, "web-{n}");
        }
    }

    /// The handler state alone, for what the router hides.
    fn bare_app() -> Arc<App> {
        let (_, rx) = watch::channel(false);
        Arc::new(App {
            store: Arc::new(Store::default()),
            shutdown: rx,
            writes: Semaphore::new(1),
            synced_writes: None,
            processing: tokio::sync::Mutex::new(()),
            job_json: JobJson::default(),
            bodies: Budget::new(crate::limits::DEFAULT_BYTES_IN_FLIGHT),
            read_timeout: crate::limits::DEFAULT_READ_TIMEOUT,
            scheduled: AtomicBool::new(false),
            agent: test_agent(),
        })
    }

    fn test_agent() -> Agent {
        Agent {
            name: "test".into(),
            datacenter: "dc1".into(),
            addr: std::net::Ipv4Addr::LOCALHOST.into(),
            port: 4646,
        }
    }

    /// The write turn is one at a time, and a held one is awaited.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_write_turn_is_one_at_a_time() {
        let app = bare_app();
        let held = app.write_turn().await.expect("free turn");
        // Timed from here, not from when the task first runs: under load it
        // may start late, and the hold is what is measured.
        let started = Instant::now();
        let waiter = {
            let app = app.clone();
            tokio::spawn(async move {
                let _turn = app.write_turn().await.expect("turn");
                started.elapsed()
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "got the turn while it was held");
        drop(held);
        assert!(waiter.await.unwrap() >= Duration::from_millis(20));
        // Many short writers from both threads: never two at once.
        let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (app, inside) = (app.clone(), inside.clone());
                tokio::spawn(async move {
                    for _ in 0..200 {
                        let _turn = app.write_turn().await.expect("turn");
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                        std::hint::spin_loop();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    }

    /// A job's JSON is rendered again exactly when the job changed, and is
    /// what a render of the job gives.
    #[tokio::test]
    async fn job_json_follows_the_job() {
        let (app, store, _tx) = app();
        let job = |s: &Store| {
            s.job("web", &QueryOptions::default())
                .unwrap()
                .value
                .as_ref()
                .clone()
        };
        let cache = JobJson::default();
        assert_eq!(call(&app, Method::PUT, "/v1/job/web", JOB).await.0, 200);
        let v1 = job(&store);
        let first = cache.render(&v1, false).unwrap();
        assert_eq!(first, encode(&v1, false).unwrap());
        let again = cache.render(&v1, false).unwrap();
        assert_eq!(first.as_ptr(), again.as_ptr(), "rendered again");
        // Pretty is not cached.
        assert_eq!(cache.render(&v1, true).unwrap(), encode(&v1, true).unwrap());
        // A new spec: new bytes, the new count in them.
        let bigger = JOB.replace(r#""Name":"g","#, r#""Name":"g","Count":3,"#);
        assert_eq!(call(&app, Method::PUT, "/v1/job/web", &bigger).await.0, 200);
        let v2 = job(&store);
        assert_ne!(v2.modify_index, v1.modify_index);
        let second = cache.render(&v2, false).unwrap();
        assert_eq!(second, encode(&v2, false).unwrap());
        assert!(String::from_utf8_lossy(&second).contains(r#""Count":3"#));
        // Deleted and registered again at the same ModifyIndex is impossible,
        // but a new CreateIndex alone is enough to render again.
        let mut v3 = v2.clone();
        v3.create_index += 1;
        v3.priority = 99;
        assert_eq!(
            cache.render(&v3, false).unwrap(),
            encode(&v3, false).unwrap()
        );
        // Over the bound it starts over rather than grow.
        for i in 0..JOB_JSON_MAX + 10 {
            let mut j = v1.clone();
            j.id = format!("job-{i}");
            cache.render(&j, false).unwrap();
        }
        assert!(cache.0.lock().unwrap().jobs.len() <= JOB_JSON_MAX);
        // And over its bytes: big jobs do not pile up.
        let big_meta: std::collections::BTreeMap<String, String> = (0..1000)
            .map(|i| (format!("k{i:05}"), "v".repeat(300)))
            .collect();
        for i in 0..120 {
            let mut j = v1.clone();
            j.id = format!("big-{i}");
            j.meta = Some(big_meta.clone());
            let body = cache.render(&j, false).unwrap();
            assert_eq!(body, encode(&j, false).unwrap());
            let map = cache.0.lock().unwrap();
            assert!(map.bytes <= JOB_JSON_MAX_BYTES, "{} bytes kept", map.bytes);
            assert_eq!(
                map.bytes,
                map.jobs.values().map(|e| e.2.len()).sum::<usize>()
            );
        }
        // A job over a sixteenth of the bound is never kept.
        let mut huge = v1.clone();
        huge.id = "huge".into();
        huge.meta = Some(
            (0..12_000)
                .map(|i| (format!("k{i:05}"), "v".repeat(200)))
                .collect(),
        );
        let body = cache.render(&huge, false).unwrap();
        assert!(body.len() > JOB_JSON_MAX_BYTES / 16);
        assert!(!cache.0.lock().unwrap().jobs.contains_key("huge"));
    }

    /// An open long-poll keeps its handler's future for as long as it
    /// waits, 10,000 of them at once in the load benchmark: the future must
    /// stay small.
    #[test]
    fn a_long_poll_future_stays_small() {
        let app = bare_app();
        let req = Request::builder()
            .uri("/v1/job/web?index=5&wait=1m")
            .body(Body::empty())
            .unwrap();
        let f = handle(app, req);
        let size = std::mem::size_of_val(&f);
        assert!(size <= 1_450, "a long-poll's future is {size} bytes");
    }

    #[tokio::test]
    async fn routes_methods_and_parameters() {
        let (app, _, _tx) = app();
        let (s, body, index) = call(&app, Method::PUT, "/v1/job/web", JOB).await;
        assert_eq!(s, 200, "{body}");
        assert!(index > 0);
        let (s, body, i) = call(&app, Method::GET, "/v1/job/web?pretty", "").await;
        assert_eq!((s, i), (200, index));
        assert!(body.contains("\n    \"ID\": \"web\""), "{body}");
        assert_eq!(
            call(&app, Method::PATCH, "/v1/job/web", "").await.1,
            "Invalid method"
        );
        assert_eq!(call(&app, Method::GET, "/v1/nope", "").await.0, 404);
        let (s, body, _) = call(&app, Method::GET, "/v1/job/web?index=x", "").await;
        assert_eq!((s, body.as_str()), (400, "Invalid index"));
        let (s, body, _) = call(&app, Method::GET, "/v1/job/web?index=1&wait=10", "").await;
        assert_eq!((s, body.as_str()), (400, "Invalid wait time"));
        let (s, body, _) = call(&app, Method::GET, "/v1/job/web?region=mars", "").await;
        assert_eq!((s, body.as_str()), (500, "No path to region"));
        // A missing job: 404 with the index headers.
        let (s, body, _) = call(&app, Method::GET, "/v1/job/nope", "").await;
        assert_eq!((s, body.as_str()), (404, "job not found"));
        // Bad booleans are 400; `True` (python-nomad) is fine.
        let uri = "/v1/job/web/allocations?all=maybe";
        assert_eq!(call(&app, Method::GET, uri, "").await.0, 400);
        let uri = "/v1/job/web/allocations?all=True";
        assert_eq!(call(&app, Method::GET, uri, "").await.0, 200);
        // Lists: a bad per_page or reverse is 400; a bad token too.
        for uri in [
            "/v1/evaluations?per_page=-1",
            "/v1/allocations?per_page=x",
            "/v1/jobs?reverse=maybe",
            "/v1/evaluations?next_token=nodot",
        ] {
            assert_eq!(call(&app, Method::GET, uri, "").await.0, 400, "{uri}");
        }
        let (s, body, _) = call(&app, Method::GET, "/v1/evaluations?per_page=1", "").await;
        assert_eq!(s, 200, "{body}");
        assert!(body.starts_with("[{"), "{body}");
    }

    #[tokio::test]
    async fn evaluate_takes_an_empty_body_or_a_matching_one() {
        let (app, _, _tx) = app();
        call(&app, Method::PUT, "/v1/job/web", JOB).await;
        assert_eq!(
            call(&app, Method::POST, "/v1/job/web/evaluate", "").await.0,
            200
        );
        let same = r#"{"JobID":"web"}"#;
        assert_eq!(
            call(&app, Method::POST, "/v1/job/web/evaluate", same)
                .await
                .0,
            200
        );
        let other = r#"{"JobID":"api"}"#;
        let (s, body, _) = call(&app, Method::POST, "/v1/job/web/evaluate", other).await;
        assert_eq!((s, body.as_str()), (400, "JobID not same as job name"));
        let (s, body, _) = call(&app, Method::POST, "/v1/job/nope/evaluate", "").await;
        assert_eq!((s, body.as_str()), (500, "job not found"));
    }

    /// A body that never yields a frame.
    struct Never;

    impl hyper::body::Body for Never {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
            std::task::Poll::Pending
        }
    }

    /// `Expect: 100-continue` with a `Content-Length` over the limit is
    /// answered with the limit error without reading the body (reading it
    /// is what makes hyper send `100 Continue`): a body that never comes
    /// does not hold the answer.
    #[tokio::test]
    async fn an_expected_oversized_body_is_refused_unread() {
        let (app, store, _tx) = app();
        let limit = store.config().limits.max_request_bytes as u64;
        let req = Request::builder()
            .method(Method::PUT)
            .uri("/v1/jobs")
            .header("expect", "100-continue")
            .header("content-length", (limit + 1).to_string())
            .body(Body::new(Never))
            .unwrap();
        let resp = tokio::time::timeout(Duration::from_secs(5), app.call(req))
            .await
            .expect("answered without the body")
            .unwrap();
        assert_eq!(resp.status(), 400);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert!(String::from_utf8_lossy(&body).contains("limit"), "{body:?}");
        assert_eq!(store.index(), 0);
    }

    /// A body is counted against the server's budget as it is read, and
    /// given back once answered: one that does not fit is refused with 503
    /// (having written nothing), one that fits is served, and nothing stays
    /// counted after either.
    #[tokio::test]
    async fn bodies_are_counted_against_the_budget_and_given_back() {
        let store = Arc::new(Store::default());
        let (_tx, rx) = watch::channel(false);
        let limits = BodyLimits {
            bytes_in_flight: 4096,
            ..BodyLimits::default()
        };
        let app = service(store.clone(), rx, test_agent(), limits);
        let pad = |n: usize| {
            let job = JOB.replace(r#""ID":"web","#, r#""ID":"web","Meta":{"pad":"PAD"},"#);
            job.replace("PAD", &"x".repeat(n))
        };
        let (s, body, _) = call(&app, Method::PUT, "/v1/jobs", &pad(5000)).await;
        assert_eq!(s, 503, "{body}");
        assert!(body.contains("--max-body-bytes-in-flight"), "{body}");
        assert_eq!(store.index(), 0);
        assert_eq!(app.0.bodies.used(), 0);
        let (s, body, _) = call(&app, Method::PUT, "/v1/jobs", &pad(3000)).await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(app.0.bodies.used(), 0);
        // An announced length is not taken at its word.
        let req = Request::builder()
            .method(Method::PUT)
            .uri("/v1/jobs")
            .header("content-length", "8000000")
            .body(Body::from(pad(10)))
            .unwrap();
        assert_eq!(app.call(req).await.unwrap().status(), 200);
    }

    /// A register body over `CHECK_APART_BYTES` is checked on the blocking
    /// pool: it answers as a small one does, refusals included.
    #[tokio::test]
    async fn a_large_register_is_checked_apart_and_answers_the_same() {
        let (app, store, _tx) = app();
        let pad = "x".repeat(CHECK_APART_BYTES);
        let big = |id: &str, priority: u32| {
            format!(
                r#"{{"Job":{{"ID":"{id}","Priority":{priority},"Datacenters":["dc1"],"Meta":{{"pad":"{pad}"}},
                "TaskGroups":[{{"Name":"g","Tasks":[{{"Name":"t","Driver":"exec"}}]}}]}}}}"#
            )
        };
        let (s, body, _) = call(&app, Method::PUT, "/v1/jobs", &big("bad", 0)).await;
        assert_eq!(s, 500, "{body}");
        assert!(body.contains("Priority: job priority"), "{body}");
        assert_eq!(store.index(), 0);
        let (s, body, index) = call(&app, Method::PUT, "/v1/jobs", &big("big", 50)).await;
        assert_eq!(s, 200, "{body}");
        assert!(index > 0);
        let (s, _, _) = call(&app, Method::GET, "/v1/job/big", "").await;
        assert_eq!(s, 200);
    }

    #[tokio::test]
    async fn an_oversized_body_is_400_and_writes_nothing() {
        let (app, store, _tx) = app();
        let limit = store.config().limits.max_request_bytes;
        let big = format!(
            r#"{{"Job":{{"ID":"big","Meta":{{"pad":"{}"}}}}}}"#,
            "x".repeat(limit)
        );
        let (s, body, _) = call(&app, Method::PUT, "/v1/jobs", &big).await;
        assert_eq!(s, 400);
        assert!(body.contains("limit"), "{body}");
        assert_eq!(store.index(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_poll_wakes_on_a_write_and_not_on_another_job() {
        let (app, _, _tx) = app();
        call(&app, Method::PUT, "/v1/job/web", JOB).await;
        let (_, _, index) = call(&app, Method::GET, "/v1/job/web", "").await;
        let poll = {
            let app = app.clone();
            tokio::spawn(async move {
                let uri = format!("/v1/job/web?index={index}&wait=30s");
                call(&app, Method::GET, &uri, "").await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let other = JOB.replace("\"web\"", "\"api\"");
        call(&app, Method::PUT, "/v1/job/api", &other).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !poll.is_finished(),
            "another job's write woke the long-poll"
        );
        let changed = JOB.replace("\"exec\"", "\"docker\"");
        let (s, _, written) = call(&app, Method::PUT, "/v1/job/web", &changed).await;
        assert_eq!(s, 200);
        let (s, body, got) = tokio::time::timeout(Duration::from_secs(5), poll)
            .await
            .expect("the write woke the long-poll")
            .unwrap();
        assert_eq!(s, 200);
        assert!(got >= written && got > index, "{got} {written} {index}");
        assert!(body.contains("docker"), "{body}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_answers_open_long_polls_with_the_current_state() {
        let (app, _, tx) = app();
        call(&app, Method::PUT, "/v1/job/web", JOB).await;
        let (_, _, index) = call(&app, Method::GET, "/v1/jobs", "").await;
        let polls: Vec<_> = (0..50)
            .map(|_| {
                let app = app.clone();
                tokio::spawn(async move {
                    let uri = format!("/v1/jobs?index={index}&wait=5m");
                    call(&app, Method::GET, &uri, "").await
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(polls.iter().all(|p| !p.is_finished()));
        tx.send(true).unwrap();
        for p in polls {
            let (s, body, i) = tokio::time::timeout(Duration::from_secs(5), p)
                .await
                .expect("shutdown answered the long-poll")
                .unwrap();
            assert_eq!((s, i), (200, index));
            assert!(body.contains("\"web\""), "{body}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_event_stream_sends_each_write_and_ends_on_shutdown() {
        let (app, _, tx) = app();
        let req = Request::builder()
            .uri("/v1/event/stream?topic=Job:web")
            .body(Body::empty())
            .unwrap();
        let resp = app.call(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let mut body = resp.into_body();
        call(&app, Method::PUT, "/v1/job/web", JOB).await;
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("a frame for the write")
            .unwrap()
            .unwrap();
        let line = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
        assert!(line.ends_with('\n'), "{line}");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["Events"][0]["Type"], "JobRegistered");
        assert_eq!(v["Events"][0]["Key"], "web");
        // Shutdown ends the open stream: no more frames.
        tx.send(true).unwrap();
        let mut more = 0;
        let end = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(f) = body.frame().await {
                f.unwrap();
                more += 1;
            }
        })
        .await;
        assert!(end.is_ok(), "the stream did not end on shutdown");
        // Frames of the write's scheduling may have come before it ended.
        assert!(more < 10);
    }

    #[tokio::test]
    async fn an_event_stream_from_an_index_the_buffer_dropped_is_400() {
        let store = Arc::new(Store::new(ordu::Config {
            event_buffer_size: 2,
            ..ordu::Config::default()
        }));
        let (_tx, rx) = watch::channel(false);
        let app = service(store, rx, test_agent(), BodyLimits::default());
        for i in 0..4 {
            let node = format!(
                r#"{{"Node":{{"ID":"n{i}","Name":"n{i}","Datacenter":"dc1","Status":"ready"}}}}"#
            );
            let (s, body, _) = call(&app, Method::PUT, &format!("/v1/node/n{i}"), &node).await;
            assert_eq!(s, 200, "{body}");
        }
        let (s, body, _) = call(&app, Method::GET, "/v1/event/stream?index=1", "").await;
        assert_eq!(s, 400);
        assert!(body.contains("oldest index it holds is 3"), "{body}");
    }
}
