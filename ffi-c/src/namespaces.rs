//! Namespaces, as Nomad's `/v1/namespace` endpoints.

use std::ffi::c_char;

use ordu_core::host;

use crate::args::{body, cstr, opt_cstr, run};
use crate::error::ordu_result;
use crate::store::ordu_store;
use crate::string::ordu_string;

/// Lists the namespaces whose name starts with `prefix` (NULL or "": all),
/// in name order, as Nomad's `GET /v1/namespaces`: `[{"Name",
/// "Description", "Quota", "Meta", "CreateIndex", "ModifyIndex"}, ...]`.
/// `default` is always there. Blocks as `ordu_job_get` does; the index is
/// that of the last change to any namespace.
#[no_mangle]
pub unsafe extern "C" fn ordu_namespace_list(
    store: *const ordu_store,
    prefix: *const c_char,
    region: *const c_char,
    min_index: u64,
    wait_ms: u64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_namespace_list";
    run(F, store, json_out, index_out, |s| {
        let prefix = opt_cstr(F, "prefix", prefix)?.unwrap_or("");
        let region = opt_cstr(F, "region", region)?;
        Ok(host::namespaces(
            s,
            prefix,
            &host::query(min_index, wait_ms, region, None),
        )?)
    })
}

/// Reads a namespace (Nomad's `GET /v1/namespace/<name>`). Blocks as
/// `ordu_job_get` does; the index is that of the namespaces. A missing
/// namespace is `ORDU_NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn ordu_namespace_get(
    store: *const ordu_store,
    name: *const c_char,
    region: *const c_char,
    min_index: u64,
    wait_ms: u64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_namespace_get";
    run(F, store, json_out, index_out, |s| {
        let name = cstr(F, "name", name)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::namespace(
            s,
            name,
            &host::query(min_index, wait_ms, region, None),
        )?)
    })
}

/// Creates or updates a namespace (Nomad's `PUT /v1/namespace/<name>`)
/// from `{"Name", "Description", "Quota", "Meta"}`. `name` may be NULL (or
/// ""): the body's `Name` is taken; when both are given they must agree.
/// `region` may be NULL. On `ORDU_OK` writes `null` (Nomad answers no
/// body) and the write's index. A name that is not 1 to 128 letters,
/// digits and `-`, or a description over 256 bytes, is `ORDU_INVALID`
/// (the error JSON's `errors` name `Name` or `Description`).
#[no_mangle]
pub unsafe extern "C" fn ordu_namespace_upsert(
    store: *const ordu_store,
    name: *const c_char,
    body_json: *const c_char,
    body_len: usize,
    region: *const c_char,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_namespace_upsert";
    run(F, store, json_out, index_out, |s| {
        let name = opt_cstr(F, "name", name)?.unwrap_or("");
        let b = body(F, "body_json", body_json, body_len)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::upsert_namespace(s, name, b, region)?)
    })
}

/// Deletes a namespace (Nomad's `DELETE /v1/namespace/<name>`). `region`
/// may be NULL. On `ORDU_OK` writes `null` and the write's index. A
/// missing namespace is `ORDU_NOT_FOUND`; `default`, or a namespace that
/// still holds a job (stopped or not: purge it first), is `ORDU_CONFLICT`.
#[no_mangle]
pub unsafe extern "C" fn ordu_namespace_delete(
    store: *const ordu_store,
    name: *const c_char,
    region: *const c_char,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_namespace_delete";
    run(F, store, json_out, index_out, |s| {
        let name = cstr(F, "name", name)?;
        let region = opt_cstr(F, "region", region)?;
        Ok(host::delete_namespace(s, name, region)?)
    })
}
