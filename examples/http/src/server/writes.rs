//! The write path: a body read within its budget and deadline, the write
//! applied (inline, or on the blocking pool when its log syncs), and the
//! evaluations it queued processed in groups.

use super::*;

impl App {
    /// Reads a write's body, within the read timeout and the server's
    /// budget of bytes in flight, and applies the write. The body's share of
    /// the budget is given back once the write is answered.
    pub(super) async fn receive(
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

    pub(super) async fn write(
        self: &Arc<Self>,
        op: Op,
        body: Vec<u8>,
        params: &Params,
    ) -> Response {
        let region = params.region().map(str::to_string);
        // The job a job route names is in `?namespace=` (a register's job
        // may name its own, which wins).
        let w = host::write_options(params.region(), params.namespace());
        let dry_run = matches!(op, Op::PlanJob(_));
        let call: WriteCall = match op {
            Op::RegisterJob(id) => {
                // Decoding and checking need no turn: done here, in parallel
                // with the write that holds it. A large body is checked on
                // the blocking pool, so that this thread serves reads
                // meanwhile; boxed, so that the future of every request
                // (an open long-poll's included) does not hold room for it.
                let checked = if body.len() > CHECK_APART_BYTES {
                    Box::pin(self.check_register_apart(id, body, w)).await
                } else {
                    host::check_register_job_at(&self.store, id.as_deref(), &body, &w)
                        .map_err(|e| error(&e, false))
                };
                match checked {
                    Ok(c) => Box::new(move |s: &Store| host::commit_register(s, c)),
                    Err(refused) => return refused,
                }
            }
            Op::PlanJob(id) => Box::new(move |s: &Store| host::plan_job(s, &id, &body, &w)),
            Op::EvaluateJob(id) => {
                if let Err(fail) = check_evaluate_body(&self.store, &id, &body) {
                    return fail.response();
                }
                Box::new(move |s: &Store| host::evaluate_job(s, &id, &w))
            }
            Op::RevertJob(id) => Box::new(move |s: &Store| host::revert_job(s, &id, &body, &w)),
            Op::JobStability(id) => {
                Box::new(move |s: &Store| host::set_job_stability(s, &id, &body, &w))
            }
            Op::ScaleJob(id) => Box::new(move |s: &Store| host::scale_job(s, &id, &body, &w)),
            Op::PeriodicForce(id) => {
                Box::new(move |s: &Store| host::force_periodic_job(s, &id, &w))
            }
            Op::DispatchJob(id) => Box::new(move |s: &Store| host::dispatch_job(s, &id, &w)),
            Op::DeregisterJob(id) => {
                let purge = match params.purge() {
                    Ok(p) => p,
                    Err(bad) => return text(StatusCode::BAD_REQUEST, &bad.0),
                };
                Box::new(move |s: &Store| host::deregister_job(s, &id, purge, &w))
            }
            // Namespace writes answer `null` with the write's index.
            Op::UpsertNamespace(name) => Box::new(move |s: &Store| {
                host::upsert_namespace(s, name.as_deref().unwrap_or(""), &body, region.as_deref())
            }),
            Op::DeleteNamespace(name) => {
                Box::new(move |s: &Store| host::delete_namespace(s, &name, region.as_deref()))
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
    pub(super) async fn check_register_apart(
        &self,
        id: Option<String>,
        body: Vec<u8>,
        w: ordu::WriteOptions,
    ) -> Result<ordu::CheckedRegister, Response> {
        let store = self.store.clone();
        let checked = tokio::task::spawn_blocking(move || {
            host::check_register_job_at(&store, id.as_deref(), &body, &w)
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
    pub(super) fn queue_processing(self: &Arc<Self>) {
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
    pub(super) async fn process_queued(&self) {
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
    pub(super) async fn write_turn(&self) -> Option<SemaphorePermit<'_>> {
        self.writes.acquire().await.ok()
    }
}

/// The evaluate body is optional (python-nomad sends none). When one is sent
/// it is Nomad's `{"JobID": ..., "EvalOptions": {...}}`, and `JobID` must be
/// the path's job.
pub(super) fn check_evaluate_body(store: &Store, id: &str, body: &[u8]) -> Result<(), Fail> {
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
pub(super) enum BodyError {
    /// Answer this.
    Fail(Fail),
    /// The server's budget of body bytes in flight has no room for it.
    Busy,
}

/// Reads a request body up to the store's size limit, its buffer counted
/// against `held` before it grows. A larger body is read on and dropped, so
/// that the client, still sending, can read the 400.
pub(super) async fn read_body(
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
pub(super) async fn discard(mut body: Body) {
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
