//! Lists a page at a time: evaluations, allocations, jobs and nodes, with
//! Nomad's list options and next-page tokens.

use std::ffi::c_char;
use std::ptr;

use ordu_core::host::{self, Reply};
use ordu_core::Store;

use crate::args::{body, deliver, opt_cstr, out, store_ref};
use crate::error::{guard, ordu_result};
use crate::store::ordu_store;
use crate::string::ordu_string;

/// The shape of every paged list: as [`run`](crate::args::run), with the list options
/// decoded from `(options_json, options_len)` (NULL: every default), and the
/// next page's token written to `*next_token_out` when it is not NULL.
#[allow(clippy::too_many_arguments)]
unsafe fn list(
    func: &'static str,
    store: *const ordu_store,
    options_json: *const c_char,
    options_len: usize,
    ns: *const c_char,
    region: *const c_char,
    min_index: u64,
    wait_ms: u64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
    next_token_out: *mut *mut ordu_string,
    op: fn(&Store, &ordu_core::ListOptions, &ordu_core::QueryOptions) -> ordu_core::Result<Reply>,
) -> ordu_result {
    guard(func, || {
        let store = store_ref(func, store)?;
        out(func, "json_out", json_out)?;
        let options = if options_json.is_null() {
            ordu_core::ListOptions::all()
        } else {
            host::list_options(body(func, "options_json", options_json, options_len)?)?
        };
        let ns = opt_cstr(func, "ns", ns)?;
        let region = opt_cstr(func, "region", region)?;
        let mut reply = op(
            store,
            &options,
            &host::query(min_index, wait_ms, region, ns),
        )?;
        if !next_token_out.is_null() {
            *next_token_out = match reply.next_token.take() {
                Some(t) => Box::into_raw(ordu_string::new(t)),
                None => std::ptr::null_mut(),
            };
        }
        deliver(reply, json_out, index_out);
        Ok(())
    })
}

/// Lists the evaluations of `ns` (NULL: `default`; `"*"`: every
/// namespace), full objects (Nomad's `GET /v1/evaluations`), a page at a
/// time.
///
/// `options_json` (`options_len` bytes; NULL or blank: the whole list) is
/// `{"prefix": "", "job": "", "status": "", "per_page": 0, "next_token": "",
/// "reverse": false}`, every key optional: `prefix` filters on the ID,
/// `job` on `JobID`, `status` on `Status`; `per_page` (0: all) bounds the
/// page; `next_token` starts it where a previous page said; `reverse` walks
/// from the end. The order is Nomad's: by `CreateIndex` then ID, with a
/// token `<CreateIndex>.<ID>`; by ID with a `prefix`, the token the ID.
/// An unknown key, a `per_page` below 0 or above 2^31-1, or a token of the
/// wrong form is `ORDU_INVALID_JSON`.
///
/// Blocks as `ordu_job_get` does; the index is that of the last change to
/// any evaluation. On `ORDU_OK` writes the page's JSON array and the index
/// and, when `next_token_out` is not NULL, the next page's token (free it
/// with `ordu_string_free`), or NULL when this page is the last.
#[no_mangle]
pub unsafe extern "C" fn ordu_evaluation_list(
    store: *const ordu_store,
    options_json: *const c_char,
    options_len: usize,
    ns: *const c_char,
    region: *const c_char,
    min_index: u64,
    wait_ms: u64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
    next_token_out: *mut *mut ordu_string,
) -> ordu_result {
    list(
        "ordu_evaluation_list",
        store,
        options_json,
        options_len,
        ns,
        region,
        min_index,
        wait_ms,
        json_out,
        index_out,
        next_token_out,
        host::evaluations,
    )
}

/// Lists the allocations of `ns` (NULL: `default`; `"*"`: every
/// namespace), list stubs (Nomad's `GET /v1/allocations`), a page at a time, as `ordu_evaluation_list` does (`status` filters on
/// `ClientStatus`); the index is that of the last change to any
/// allocation.
#[no_mangle]
pub unsafe extern "C" fn ordu_allocation_list(
    store: *const ordu_store,
    options_json: *const c_char,
    options_len: usize,
    ns: *const c_char,
    region: *const c_char,
    min_index: u64,
    wait_ms: u64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
    next_token_out: *mut *mut ordu_string,
) -> ordu_result {
    list(
        "ordu_allocation_list",
        store,
        options_json,
        options_len,
        ns,
        region,
        min_index,
        wait_ms,
        json_out,
        index_out,
        next_token_out,
        host::allocations,
    )
}

/// `ordu_job_list` a page at a time, with the options of
/// `ordu_evaluation_list` (`prefix`, `per_page`, `next_token`, `reverse`;
/// `job` and `status` are ignored). Jobs are in namespace and then ID order
/// and the token is `<Namespace>.<ID>`, as Nomad's.
#[no_mangle]
pub unsafe extern "C" fn ordu_job_list_page(
    store: *const ordu_store,
    options_json: *const c_char,
    options_len: usize,
    ns: *const c_char,
    region: *const c_char,
    min_index: u64,
    wait_ms: u64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
    next_token_out: *mut *mut ordu_string,
) -> ordu_result {
    list(
        "ordu_job_list_page",
        store,
        options_json,
        options_len,
        ns,
        region,
        min_index,
        wait_ms,
        json_out,
        index_out,
        next_token_out,
        host::jobs_page,
    )
}

/// `ordu_node_list` a page at a time, as `ordu_job_list_page`; the token
/// is the node ID.
#[no_mangle]
pub unsafe extern "C" fn ordu_node_list_page(
    store: *const ordu_store,
    options_json: *const c_char,
    options_len: usize,
    region: *const c_char,
    min_index: u64,
    wait_ms: u64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
    next_token_out: *mut *mut ordu_string,
) -> ordu_result {
    list(
        "ordu_node_list_page",
        store,
        options_json,
        options_len,
        ptr::null(),
        region,
        min_index,
        wait_ms,
        json_out,
        index_out,
        next_token_out,
        host::nodes_page,
    )
}
