//! Jobs: register, plan, evaluate, deregister, read, list, versions,
//! revert, stability, summary and scaling, as Nomad's `/v1/job` endpoints.

use std::ffi::c_char;

use ordu_core::host;

use crate::args::{body, cstr, opt_cstr, run};
use crate::error::ordu_result;
use crate::store::ordu_store;
use crate::string::ordu_string;

// Every function that names a job, or lists jobs, evaluations or
// allocations, takes the namespace `ns` right before `region`: NULL or ""
// is `default`, and `"*"` (lists only) is every namespace.

/// Registers (creates or updates) a job from the JSON body of Nomad's
/// `PUT /v1/jobs`: `{"Job": {...}, "EnforceIndex": false,
/// "JobModifyIndex": 0}`. `ns` may be NULL (`default`): the job's own
/// `Namespace` wins over it. `region` may be NULL (the store's region).
///
/// On `ORDU_OK` writes `{"EvalID", "EvalCreateIndex", "JobModifyIndex",
/// "Warnings", "Index", ...}` to `*json_out` and, when `index_out` is not
/// NULL, the write's index to `*index_out`. A body that does not decode is
/// `ORDU_INVALID_JSON`, a job that breaks a rule `ORDU_INVALID` (the error
/// JSON lists every problem with its path; a namespace that does not exist
/// is the path `Namespace`), an `EnforceIndex` mismatch `ORDU_CONFLICT`.
#[no_mangle]
pub unsafe extern "C" fn ordu_job_register(
    store: *const ordu_store,
    body_json: *const c_char,
    body_len: usize,
    ns: *const c_char,
    region: *const c_char,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_job_register";
    run(F, store, json_out, index_out, |s| {
        let b = body(F, "body_json", body_json, body_len)?;
        let ns = opt_cstr(F, "ns", ns)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::register_job(s, b, &host::write_options(region, ns))?)
    })
}

/// Plans a job (Nomad's `PUT /v1/job/<id>/plan`): a scheduler dry run that
/// writes nothing. `body_json` (`body_len` bytes, not NUL-terminated) is
/// `{"Job": {...}, "Diff": true}`; the job's ID must be `job_id` (else
/// `ORDU_INVALID_JSON`, `Job ID does not match`). `ns` and `region` may be
/// NULL. On
/// `ORDU_OK` writes Nomad's plan answer (`{"Annotations": {"DesiredTGUpdates":
/// ...}, "FailedTGAllocs", "JobModifyIndex", "Diff", "Index", ...}`) and the
/// stored job's `JobModifyIndex` (0 for a new job) as the index. A job a
/// register would refuse is refused the same way (`ORDU_INVALID`).
#[no_mangle]
pub unsafe extern "C" fn ordu_job_plan(
    store: *const ordu_store,
    job_id: *const c_char,
    body_json: *const c_char,
    body_len: usize,
    ns: *const c_char,
    region: *const c_char,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_job_plan";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "job_id", job_id)?;
        let b = body(F, "body_json", body_json, body_len)?;
        let ns = opt_cstr(F, "ns", ns)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::plan_job(s, id, b, &host::write_options(region, ns))?)
    })
}

/// Creates an evaluation of a job (Nomad's `PUT /v1/job/<id>/evaluate`).
/// `ns` and `region` may be NULL. On `ORDU_OK` writes `{"EvalID", "Index",
/// ...}` and the write's index. A missing job (in `ns`) is `ORDU_NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn ordu_job_evaluate(
    store: *const ordu_store,
    job_id: *const c_char,
    ns: *const c_char,
    region: *const c_char,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_job_evaluate";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "job_id", job_id)?;
        let ns = opt_cstr(F, "ns", ns)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::evaluate_job(s, id, &host::write_options(region, ns))?)
    })
}

/// Deregisters (stops) a job (Nomad's `DELETE /v1/job/<id>`). `ns` and
/// `region` may be NULL. On `ORDU_OK` writes `{"EvalID", "Index", ...}` and the write's
/// index (`EvalID` empty and index 0 when the job did not exist).
#[no_mangle]
pub unsafe extern "C" fn ordu_job_deregister(
    store: *const ordu_store,
    job_id: *const c_char,
    ns: *const c_char,
    region: *const c_char,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_job_deregister";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "job_id", job_id)?;
        let ns = opt_cstr(F, "ns", ns)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::deregister_job(
            s,
            id,
            false,
            &host::write_options(region, ns),
        )?)
    })
}

/// Deregisters a job as [`ordu_job_deregister`] does, with Nomad's `purge`:
/// nonzero removes the job even from a store configured with
/// `"deregister": "stop"` (which otherwise keeps it, stopped). `store` and
/// `job_id` must not be NULL; `ns` and `region` may be NULL.
#[no_mangle]
pub unsafe extern "C" fn ordu_job_deregister_purge(
    store: *const ordu_store,
    job_id: *const c_char,
    purge: bool,
    ns: *const c_char,
    region: *const c_char,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_job_deregister_purge";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "job_id", job_id)?;
        let ns = opt_cstr(F, "ns", ns)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::deregister_job(
            s,
            id,
            purge,
            &host::write_options(region, ns),
        )?)
    })
}

/// Reads a job (Nomad's `GET /v1/job/<id>`).
///
/// Like every read, it blocks the calling thread while `min_index` > 0 and
/// the job's index is not above it, for at most `wait_ms` milliseconds (0:
/// the default 5 minutes; capped at 10 minutes, plus up to 1/16 jitter),
/// then answers with what it has. Many threads may block at once. `ns`
/// (the job's namespace) and `region` may be NULL. On `ORDU_OK` writes the job's JSON to `*json_out` and, when
/// `index_out` is not NULL, the read's index to `*index_out`; pass it as the
/// next `min_index` to wait for the next change. A missing job is
/// `ORDU_NOT_FOUND` (the error JSON's `index` is the read's index).
#[no_mangle]
pub unsafe extern "C" fn ordu_job_get(
    store: *const ordu_store,
    job_id: *const c_char,
    ns: *const c_char,
    region: *const c_char,
    min_index: u64,
    wait_ms: u64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_job_get";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "job_id", job_id)?;
        let ns = opt_cstr(F, "ns", ns)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::job(
            s,
            id,
            &host::query(min_index, wait_ms, region, ns),
        )?)
    })
}

/// Lists the jobs of `ns` (NULL: `default`; `"*"`: every namespace) whose
/// ID starts with `prefix` (NULL or "": all), in namespace and then ID
/// order, as Nomad's `GET /v1/jobs` stubs. Blocks as `ordu_job_get` does.
#[no_mangle]
pub unsafe extern "C" fn ordu_job_list(
    store: *const ordu_store,
    prefix: *const c_char,
    ns: *const c_char,
    region: *const c_char,
    min_index: u64,
    wait_ms: u64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_job_list";
    run(F, store, json_out, index_out, |s| {
        let prefix = opt_cstr(F, "prefix", prefix)?.unwrap_or("");
        let ns = opt_cstr(F, "ns", ns)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::jobs(
            s,
            prefix,
            &host::query(min_index, wait_ms, region, ns),
        )?)
    })
}

/// Lists a job's allocation stubs (Nomad's `GET /v1/job/<id>/allocations`):
/// of its current version, or of every version of the job with `all`.
/// Blocks as `ordu_job_get` does; the index is that of the job's
/// allocations. A job with no allocations answers `[]`.
#[no_mangle]
pub unsafe extern "C" fn ordu_job_allocations(
    store: *const ordu_store,
    job_id: *const c_char,
    all: bool,
    ns: *const c_char,
    region: *const c_char,
    min_index: u64,
    wait_ms: u64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_job_allocations";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "job_id", job_id)?;
        let ns = opt_cstr(F, "ns", ns)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::job_allocations(
            s,
            id,
            all,
            &host::query(min_index, wait_ms, region, ns),
        )?)
    })
}

/// Lists a job's evaluations (Nomad's `GET /v1/job/<id>/evaluations`).
/// Blocks as `ordu_job_get` does.
#[no_mangle]
pub unsafe extern "C" fn ordu_job_evaluations(
    store: *const ordu_store,
    job_id: *const c_char,
    ns: *const c_char,
    region: *const c_char,
    min_index: u64,
    wait_ms: u64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_job_evaluations";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "job_id", job_id)?;
        let ns = opt_cstr(F, "ns", ns)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::job_evaluations(
            s,
            id,
            &host::query(min_index, wait_ms, region, ns),
        )?)
    })
}

/// Lists the versions a job keeps (Nomad's `GET /v1/job/<id>/versions`):
/// `{"Versions": [newest first], "Diffs": null}`. Blocks as `ordu_job_get`
/// does; the index is the job's. A missing job is `ORDU_NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn ordu_job_versions(
    store: *const ordu_store,
    job_id: *const c_char,
    ns: *const c_char,
    region: *const c_char,
    min_index: u64,
    wait_ms: u64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_job_versions";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "job_id", job_id)?;
        let ns = opt_cstr(F, "ns", ns)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::job_versions(
            s,
            id,
            &host::query(min_index, wait_ms, region, ns),
        )?)
    })
}

/// Reverts a job to a version it keeps (Nomad's `POST /v1/job/<id>/revert`)
/// from `{"JobID", "JobVersion", "EnforcePriorVersion"}`; `JobID` must be
/// `job_id`. `ns` and `region` may be NULL. On `ORDU_OK` writes a register's
/// answer
/// (`{"EvalID", "JobModifyIndex", "Index", ...}`) and the write's index. The
/// current version, or another current version than `EnforcePriorVersion`,
/// is `ORDU_CONFLICT`; a missing job or version `ORDU_NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn ordu_job_revert(
    store: *const ordu_store,
    job_id: *const c_char,
    body_json: *const c_char,
    body_len: usize,
    ns: *const c_char,
    region: *const c_char,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_job_revert";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "job_id", job_id)?;
        let b = body(F, "body_json", body_json, body_len)?;
        let ns = opt_cstr(F, "ns", ns)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::revert_job(
            s,
            id,
            b,
            &host::write_options(region, ns),
        )?)
    })
}

/// Marks a version of a job stable or not (Nomad's
/// `POST /v1/job/<id>/stable`) from `{"JobID", "JobVersion", "Stable"}`;
/// `JobID` must be `job_id`. `ns` and `region` may be NULL. On `ORDU_OK`
/// writes
/// `{"Index"}` and the write's index. A missing job or version is
/// `ORDU_NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn ordu_job_stable(
    store: *const ordu_store,
    job_id: *const c_char,
    body_json: *const c_char,
    body_len: usize,
    ns: *const c_char,
    region: *const c_char,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_job_stable";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "job_id", job_id)?;
        let b = body(F, "body_json", body_json, body_len)?;
        let ns = opt_cstr(F, "ns", ns)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::set_job_stability(
            s,
            id,
            b,
            &host::write_options(region, ns),
        )?)
    })
}

/// Reads a job's summary (Nomad's `GET /v1/job/<id>/summary`): `{"JobID",
/// "Namespace", "Summary": {"<group>": {"Queued", "Complete", "Failed",
/// "Running", "Starting", "Lost", "Unknown"}}, "Children", "CreateIndex",
/// "ModifyIndex"}`. Blocks as `ordu_job_get` does; woken by changes to the
/// job, its allocations or its evaluations. A missing job is
/// `ORDU_NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn ordu_job_summary(
    store: *const ordu_store,
    job_id: *const c_char,
    ns: *const c_char,
    region: *const c_char,
    min_index: u64,
    wait_ms: u64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_job_summary";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "job_id", job_id)?;
        let ns = opt_cstr(F, "ns", ns)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::job_summary(
            s,
            id,
            &host::query(min_index, wait_ms, region, ns),
        )?)
    })
}

/// Reads a job's scale status (Nomad's `GET /v1/job/<id>/scale`). Blocks as
/// `ordu_job_get` does. A missing job is `ORDU_NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn ordu_job_scale_status(
    store: *const ordu_store,
    job_id: *const c_char,
    ns: *const c_char,
    region: *const c_char,
    min_index: u64,
    wait_ms: u64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_job_scale_status";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "job_id", job_id)?;
        let ns = opt_cstr(F, "ns", ns)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::job_scale_status(
            s,
            id,
            &host::query(min_index, wait_ms, region, ns),
        )?)
    })
}

/// Scales a task group (Nomad's `POST /v1/job/<id>/scale`) from `{"Count",
/// "Target": {"Group": "<g>"}, "Message", "PolicyOverride",
/// "JobModifyIndex"}`: a new version with a `job-scaling` evaluation.
/// `ns` and `region` may be NULL. On `ORDU_OK` writes a register's answer and the
/// write's index (0, nothing written, without a `Count`). An unknown group or
/// a bad count is `ORDU_INVALID_JSON` (Nomad's 400), a count over the
/// store's limits `ORDU_LIMIT`, a missing job `ORDU_NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn ordu_job_scale(
    store: *const ordu_store,
    job_id: *const c_char,
    body_json: *const c_char,
    body_len: usize,
    ns: *const c_char,
    region: *const c_char,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_job_scale";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "job_id", job_id)?;
        let b = body(F, "body_json", body_json, body_len)?;
        let ns = opt_cstr(F, "ns", ns)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::scale_job(s, id, b, &host::write_options(region, ns))?)
    })
}
