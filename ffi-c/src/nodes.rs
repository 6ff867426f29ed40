//! Nodes: register, deregister, status, drain, eligibility, evaluate, read
//! and list; and stopping an allocation, which moves it off its node.

use std::ffi::c_char;

use ordu_core::host;

use crate::args::{body, cstr, opt_cstr, run};
use crate::error::ordu_result;
use crate::store::ordu_store;
use crate::string::ordu_string;

/// Registers (creates or updates) a node from `{"Node": {...}}` or the bare
/// node JSON. On `ORDU_OK` writes `{"EvalIDs", "EvalCreateIndex",
/// "NodeModifyIndex", "Index"}` and the write's index.
#[no_mangle]
pub unsafe extern "C" fn ordu_node_register(
    store: *const ordu_store,
    body_json: *const c_char,
    body_len: usize,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_node_register";
    run(F, store, json_out, index_out, |s| {
        let b = body(F, "body_json", body_json, body_len)?;
        Ok(host::register_node(s, b)?)
    })
}

/// Removes a node; its allocations are rescheduled. On `ORDU_OK` writes
/// `{"EvalIDs", ..., "Index"}` and the write's index. A missing node is
/// `ORDU_NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn ordu_node_deregister(
    store: *const ordu_store,
    node_id: *const c_char,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_node_deregister";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "node_id", node_id)?;
        Ok(host::deregister_node(s, id)?)
    })
}

/// Sets a node's status from `{"Status": "ready" | "down" | "initializing"}`.
/// On `ORDU_OK` writes `{"EvalIDs", ..., "Index"}` and the write's index.
#[no_mangle]
pub unsafe extern "C" fn ordu_node_update_status(
    store: *const ordu_store,
    node_id: *const c_char,
    body_json: *const c_char,
    body_len: usize,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_node_update_status";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "node_id", node_id)?;
        let b = body(F, "body_json", body_json, body_len)?;
        Ok(host::update_node_status(s, id, b)?)
    })
}

/// Sets a node's drain flag from `{"Drain": true}`. On `ORDU_OK` writes
/// `{"EvalIDs", ..., "Index"}` and the write's index.
#[no_mangle]
pub unsafe extern "C" fn ordu_node_update_drain(
    store: *const ordu_store,
    node_id: *const c_char,
    body_json: *const c_char,
    body_len: usize,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_node_update_drain";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "node_id", node_id)?;
        let b = body(F, "body_json", body_json, body_len)?;
        Ok(host::update_node_drain(s, id, b)?)
    })
}

/// Drains a node from Nomad 1.x's
/// `{"DrainSpec": {"Deadline": ns, "IgnoreSystemJobs": bool} | null, "MarkEligible": bool}`
/// (a null `DrainSpec` ends the drain). On `ORDU_OK` writes
/// `{"EvalIDs", "EvalCreateIndex", "NodeModifyIndex", "Index"}` and the
/// write's index. A missing node is `ORDU_NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn ordu_node_drain(
    store: *const ordu_store,
    node_id: *const c_char,
    body_json: *const c_char,
    body_len: usize,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_node_drain";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "node_id", node_id)?;
        let b = body(F, "body_json", body_json, body_len)?;
        Ok(host::drain_node(s, id, b)?)
    })
}

/// Sets a node's scheduling eligibility from
/// `{"Eligibility": "eligible" | "ineligible"}`. On `ORDU_OK` writes
/// `{"EvalIDs", "EvalCreateIndex", "NodeModifyIndex", "Index"}` and the
/// write's index. A missing node is `ORDU_NOT_FOUND`, another value
/// `ORDU_INVALID`.
#[no_mangle]
pub unsafe extern "C" fn ordu_node_update_eligibility(
    store: *const ordu_store,
    node_id: *const c_char,
    body_json: *const c_char,
    body_len: usize,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_node_update_eligibility";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "node_id", node_id)?;
        let b = body(F, "body_json", body_json, body_len)?;
        Ok(host::update_node_eligibility(s, id, b)?)
    })
}

/// Creates a `node-update` evaluation for each job with allocations on the
/// node and each system job (Nomad's `POST /v1/node/<id>/evaluate`). On
/// `ORDU_OK` writes `{"EvalIDs", "EvalCreateIndex", "NodeModifyIndex",
/// "Index"}` and the write's index (0 when there was nothing to evaluate).
/// A missing node is `ORDU_NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn ordu_node_evaluate(
    store: *const ordu_store,
    node_id: *const c_char,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_node_evaluate";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "node_id", node_id)?;
        Ok(host::evaluate_node(s, id)?)
    })
}

// Here rather than in evaluations.rs: the header has it among the nodes'
// functions, and cbindgen writes the header in source order.

/// Stops an allocation (Nomad's `POST /v1/allocation/<id>/stop`): it is
/// marked to migrate and an `alloc-stop` evaluation replaces it. `region`
/// may be NULL. On `ORDU_OK` writes `{"EvalID", "Index"}` and the write's
/// index. A missing allocation is `ORDU_NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn ordu_allocation_stop(
    store: *const ordu_store,
    alloc_id: *const c_char,
    region: *const c_char,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_allocation_stop";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "alloc_id", alloc_id)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::stop_allocation(s, id, region)?)
    })
}

/// Reads a node (Nomad's `GET /v1/node/<id>`). Blocks as `ordu_job_get`
/// does. A missing node is `ORDU_NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn ordu_node_get(
    store: *const ordu_store,
    node_id: *const c_char,
    region: *const c_char,
    min_index: u64,
    wait_ms: u64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_node_get";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "node_id", node_id)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::node(
            s,
            id,
            &host::query(min_index, wait_ms, region, None),
        )?)
    })
}

/// Lists nodes whose ID starts with `prefix` (NULL or "": all), in ID
/// order, as Nomad's `GET /v1/nodes` stubs. Blocks as `ordu_job_get` does.
#[no_mangle]
pub unsafe extern "C" fn ordu_node_list(
    store: *const ordu_store,
    prefix: *const c_char,
    region: *const c_char,
    min_index: u64,
    wait_ms: u64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_node_list";
    run(F, store, json_out, index_out, |s| {
        let prefix = opt_cstr(F, "prefix", prefix)?.unwrap_or("");
        let region = opt_cstr(F, "region", region)?;
        Ok(host::nodes(
            s,
            prefix,
            &host::query(min_index, wait_ms, region, None),
        )?)
    })
}

/// Lists a node's allocations, full objects (Nomad's
/// `GET /v1/node/<id>/allocations`). Blocks as `ordu_job_get` does.
#[no_mangle]
pub unsafe extern "C" fn ordu_node_allocations(
    store: *const ordu_store,
    node_id: *const c_char,
    region: *const c_char,
    min_index: u64,
    wait_ms: u64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_node_allocations";
    run(F, store, json_out, index_out, |s| {
        let id = cstr(F, "node_id", node_id)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::node_allocations(
            s,
            id,
            &host::query(min_index, wait_ms, region, None),
        )?)
    })
}
