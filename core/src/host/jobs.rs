//! Jobs: registers (with the path's checks), plans, evaluates, deregisters,
//! versions, stability, scale, and every read of a job.

use super::*;

/// Registers a job from `{"Job": {...}, "EnforceIndex": .., "JobModifyIndex": ..}`.
pub fn register_job(store: &Store, body: &[u8], w: &WriteOptions) -> Result<Reply> {
    let r = store.register_job_json(body, w)?;
    reply(&r, r.index)
}

/// Creates an evaluation for a job.
pub fn evaluate_job(store: &Store, id: &str, w: &WriteOptions) -> Result<Reply> {
    let r = store.evaluate_job(id, w)?;
    reply(&r, r.index)
}

/// Deregisters a job.
pub fn deregister_job(store: &Store, id: &str, purge: bool, w: &WriteOptions) -> Result<Reply> {
    let r = store.deregister_job_with(id, purge, w)?;
    reply(&r, r.index)
}

/// The versions a job keeps: `{"Versions": [newest first], "Diffs": null}`.
pub fn job_versions(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.job_versions(id, q))
}

/// Reverts a job as `POST /v1/job/<id>/revert` does, from
/// `{"JobID", "JobVersion", "EnforcePriorVersion"}`: the body's `JobID` must
/// be `id` (else a decode error, HTTP 400). Answers as a register.
pub fn revert_job(store: &Store, id: &str, body: &[u8], w: &WriteOptions) -> Result<Reply> {
    check_region(store, w.region.as_deref())?;
    let req: crate::structs::JobRevertRequest = decode(body, &store.config().limits)?;
    check_path_job(id, &req.job_id)?;
    let r = store.revert_job(req, w)?;
    reply(&r, r.index)
}

/// Marks a job version stable as `POST /v1/job/<id>/stable` does, from
/// `{"JobID", "JobVersion", "Stable"}` (the `JobID` must be `id`); answers
/// `{"Index": N}`.
pub fn set_job_stability(store: &Store, id: &str, body: &[u8], w: &WriteOptions) -> Result<Reply> {
    check_region(store, w.region.as_deref())?;
    let req: crate::structs::JobStabilityRequest = decode(body, &store.config().limits)?;
    check_path_job(id, &req.job_id)?;
    let r = store.set_job_stability(req, w)?;
    reply(&r, r.index)
}

/// A job's summary (Nomad's `GET /v1/job/<id>/summary`).
pub fn job_summary(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.job_summary(id, q))
}

/// A job's scale status (Nomad's `GET /v1/job/<id>/scale`).
pub fn job_scale_status(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.job_scale_status(id, q))
}

/// Scales a task group as `POST /v1/job/<id>/scale` does, from
/// `{"Count", "Target": {"Group"}, "Message", "PolicyOverride",
/// "JobModifyIndex"}`; answers as a register (see [`Store::scale_job`]).
pub fn scale_job(store: &Store, id: &str, body: &[u8], w: &WriteOptions) -> Result<Reply> {
    check_region(store, w.region.as_deref())?;
    let req: crate::structs::JobScaleRequest = decode(body, &store.config().limits)?;
    let r = store.scale_job(id, req, w)?;
    reply(&r, r.index)
}

/// A job's deployments: always `[]` (ordu has no deployments).
pub fn job_deployments(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.wait(crate::store::reads::job_deployments(q.namespace(), id), q))
}

/// A job's latest deployment: always `null`.
pub fn job_deployment(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.wait(crate::store::reads::job_deployment(q.namespace(), id), q))
}

/// `POST /v1/job/<id>/periodic/force`: Nomad's error for a job that is not
/// periodic (see [`Store::force_periodic_job`]).
pub fn force_periodic_job(store: &Store, id: &str, w: &WriteOptions) -> Result<Reply> {
    let r = store.force_periodic_job(id, w)?;
    reply(&r, r.index)
}

/// `POST /v1/job/<id>/dispatch`: Nomad's error for a job that is not
/// parameterized (see [`Store::dispatch_job`]).
pub fn dispatch_job(store: &Store, id: &str, w: &WriteOptions) -> Result<Reply> {
    let r = store.dispatch_job(id, w)?;
    reply(&r, r.index)
}

/// Nomad's checks of a job sub-resource body's `JobID` against the path.
fn check_path_job(path_id: &str, body_id: &str) -> Result<()> {
    if body_id.is_empty() {
        return Err(path_mismatch("JobID must be specified"));
    }
    if body_id != path_id {
        return Err(path_mismatch("Job ID does not match"));
    }
    Ok(())
}

/// A job.
pub fn job(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.job(id, q))
}

/// The job list.
pub fn jobs(store: &Store, prefix: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.jobs(prefix, q))
}

/// A page of the job list (Nomad's `GET /v1/jobs` with `per_page`,
/// `next_token`, `reverse`): the stubs, and the next page's token.
pub fn jobs_page(store: &Store, list: &ListOptions, q: &QueryOptions) -> Result<Reply> {
    read_page(store.jobs_page(list, q))
}

/// A page of the node list (`GET /v1/nodes`), as [`jobs_page`].
pub fn nodes_page(store: &Store, list: &ListOptions, q: &QueryOptions) -> Result<Reply> {
    read_page(store.nodes_page(list, q))
}

/// A page of every evaluation (`GET /v1/evaluations`), full objects.
pub fn evaluations(store: &Store, list: &ListOptions, q: &QueryOptions) -> Result<Reply> {
    read_page(store.evaluations(list, q))
}

/// A page of every allocation (`GET /v1/allocations`), list stubs.
pub fn allocations(store: &Store, list: &ListOptions, q: &QueryOptions) -> Result<Reply> {
    read_page(store.allocations(list, q))
}

/// A job's allocation stubs.
pub fn job_allocations(store: &Store, id: &str, all: bool, q: &QueryOptions) -> Result<Reply> {
    read(store.job_allocations(id, all, q))
}

/// A job's evaluations.
pub fn job_evaluations(store: &Store, id: &str, q: &QueryOptions) -> Result<Reply> {
    read(store.job_evaluations(id, q))
}

/// Registers a job as `PUT /v1/job/<id>` does: as [`register_job`], and when
/// `id` is given the body's job must have that ID (else a decode error,
/// `Job ID does not match name`, HTTP 400). The region is checked first.
pub fn register_job_at(
    store: &Store,
    id: Option<&str>,
    body: &[u8],
    w: &WriteOptions,
) -> Result<Reply> {
    let checked = check_register_job_at(store, id, body, w)?;
    commit_register(store, checked)
}

/// The first half of [`register_job_at`]: decodes and checks the body
/// without the state (see [`Store::check_register`]), so that a host can do it
/// on any thread before it queues the write.
pub fn check_register_job_at(
    store: &Store,
    id: Option<&str>,
    body: &[u8],
    w: &WriteOptions,
) -> Result<CheckedRegister> {
    check_region(store, w.region.as_deref())?;
    let req: JobRegisterRequest = decode(body, &store.config().limits)?;
    if let (Some(id), Some(job)) = (id, req.job.as_ref()) {
        if job.id != id {
            return Err(path_mismatch("Job ID does not match name"));
        }
    }
    store.check_register(req, w)
}

/// The second half of [`register_job_at`]: writes a checked register (see
/// [`Store::commit_register`]) and answers as the endpoint does.
pub fn commit_register(store: &Store, checked: CheckedRegister) -> Result<Reply> {
    let r = store.commit_register(checked)?;
    reply(&r, r.index)
}

/// Plans a job as `PUT /v1/job/<id>/plan` does (see [`Store::plan_job`]):
/// the body is `{"Job": {...}, "Diff": bool, "PolicyOverride": bool}`, the
/// job must have the path's ID (else a decode error,
/// `Job ID does not match`, HTTP 400), and the answer is Nomad's
/// `JobPlanResponse` at the stored job's `JobModifyIndex`. Writes nothing.
/// The region is checked first.
pub fn plan_job(store: &Store, id: &str, body: &[u8], w: &WriteOptions) -> Result<Reply> {
    check_region(store, w.region.as_deref())?;
    let req: JobPlanRequest = decode(body, &store.config().limits)?;
    if let Some(job) = req.job.as_ref() {
        if job.id != id {
            return Err(path_mismatch("Job ID does not match"));
        }
    }
    let r = store.plan_job(req, w)?;
    reply(&r, r.index)
}
