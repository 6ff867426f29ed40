//! Evaluations and allocations read by ID, and a client's report on an
//! allocation.

use std::ffi::c_char;

use ordu_core::host;

use crate::args::{body, cstr, opt_cstr, run};
use crate::error::ordu_result;
use crate::store::ordu_store;
use crate::string::ordu_string;

/// Reads an evaluation by ID (Nomad's `GET /v1/evaluation/<id>`). Blocks as
/// `ordu_job_get` does. A missing evaluation is `ORDU_NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn ordu_evaluation_get(
    store: *const ordu_store,
    eval_id: *const c_char,
    region: *const c_char,
    min_index: u64,
    wait_ms: u64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_evaluation_get";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "eval_id", eval_id)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::evaluation(
            s,
            id,
            &host::query(min_index, wait_ms, region, None),
        )?)
    })
}

/// Lists the allocation stubs an evaluation placed or updated (Nomad's
/// `GET /v1/evaluation/<id>/allocations`). Blocks as `ordu_job_get` does; the
/// index is that of the allocation table, as Nomad's. An unknown evaluation
/// answers `[]`, as Nomad does.
#[no_mangle]
pub unsafe extern "C" fn ordu_evaluation_allocations(
    store: *const ordu_store,
    eval_id: *const c_char,
    region: *const c_char,
    min_index: u64,
    wait_ms: u64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_evaluation_allocations";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "eval_id", eval_id)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::eval_allocations(
            s,
            id,
            &host::query(min_index, wait_ms, region, None),
        )?)
    })
}

/// Reads an allocation by ID (Nomad's `GET /v1/allocation/<id>`). Blocks as
/// `ordu_job_get` does. A missing allocation is `ORDU_NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn ordu_allocation_get(
    store: *const ordu_store,
    alloc_id: *const c_char,
    region: *const c_char,
    min_index: u64,
    wait_ms: u64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_allocation_get";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "alloc_id", alloc_id)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::allocation(
            s,
            id,
            &host::query(min_index, wait_ms, region, None),
        )?)
    })
}

/// Records a client's report on an allocation from `{"ClientStatus":
/// "running", "ClientDescription": "", "TaskStates": {...}}`. `alloc_id`
/// may be NULL when the body has the allocation's `ID`; when both are given
/// they must match (else `ORDU_INVALID_JSON`). On `ORDU_OK` writes
/// `{"Index": n}` and the write's index. A missing allocation is
/// `ORDU_NOT_FOUND`, an unknown `ClientStatus` `ORDU_INVALID`.
#[no_mangle]
pub unsafe extern "C" fn ordu_allocation_update_client(
    store: *const ordu_store,
    alloc_id: *const c_char,
    body_json: *const c_char,
    body_len: usize,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_allocation_update_client";
    run(F, store, json_out, index_out, |s| {
        let id = opt_cstr(F, "alloc_id", alloc_id)?;
        let b = body(F, "body_json", body_json, body_len)?;
        Ok(host::update_alloc_client(s, id, b)?)
    })
}
