//! C ABI of ordu: `libordu.so` / `libordu.a` and `include/ordu.h`.
//!
//! A thin layer over [`ordu_core::host`]: every function checks its pointers,
//! turns C strings into `&str`, calls the one JSON entry point of the core
//! and hands the answer back in a library-owned [`ordu_string`]. No function
//! holds logic of its own, so the C API behaves as the Python module and the
//! Rust API do.
//!
//! Rules every function follows (the header repeats them):
//!
//! - Each fallible function returns an [`ordu_result`]; outputs are written
//!   only when it is `ORDU_OK`.
//! - A NULL pointer that is not documented as optional is
//!   `ORDU_NULL_PARAMETER`, a C string that is not UTF-8 is
//!   `ORDU_INVALID_UTF8`; neither crashes.
//! - A function that names a job, or lists jobs, evaluations or
//!   allocations, takes the namespace `ns` right before `region` (NULL or
//!   "": `default`; `"*"`: every namespace, on lists).
//! - Every export is a panic boundary: a panic inside ordu is
//!   `ORDU_PANIC`, never an unwind into C.
//! - The calling thread's last error, as JSON, is read with
//!   [`ordu_last_error`].

#![allow(non_camel_case_types)]
// The pointer contract of every export is stated once, in the crate docs and
// the header's preamble, rather than in a `# Safety` section per function.
#![allow(clippy::missing_safety_doc)]

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::{Arc, OnceLock};

use ordu_core::host::{self, Reply};
use ordu_core::{Delivery, Error, ErrorKind, Store};

mod durable;
mod events;
mod log;
pub use durable::*;
pub use events::*;
pub use log::*;

/// The result of every fallible function. The values are stable and a
/// retired value is never reused: 1 to 99 are the core's error kinds (the
/// `code` of the error JSON), 100 and up are errors of the C binding itself.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ordu_result {
    /// Success: the outputs were written.
    ORDU_OK = 0,
    /// The object asked for (job, evaluation, allocation, node) does not
    /// exist. The error JSON has `what`, `id` and the read's `index`.
    ORDU_NOT_FOUND = 1,
    /// The request decoded but breaks a rule of the model (Nomad answers 500).
    /// The error JSON has `stage: "validate"` and `errors`, a list of
    /// `{path, message}` naming every problem.
    ORDU_INVALID = 2,
    /// A check-and-set (`EnforceIndex`) or broker token did not match. The
    /// error JSON has `current_index`.
    ORDU_CONFLICT = 3,
    /// The request names a region this store does not hold. The error JSON
    /// has `requested` and `region`.
    ORDU_REGION = 4,
    /// The request is over a configured bound. The error JSON has `path` and
    /// `limit`.
    ORDU_LIMIT = 5,
    /// The store's log refused the write (disk full, not the leader);
    /// nothing changed. The error JSON's message has the log's reason.
    ORDU_UNAVAILABLE = 6,
    /// A required pointer argument was NULL.
    ORDU_NULL_PARAMETER = 100,
    /// A string argument (an ID, a prefix, a region, a JSON body) is not
    /// UTF-8. The error JSON's message names the argument and the byte offset.
    ORDU_INVALID_UTF8 = 101,
    /// A JSON body did not decode into the request: malformed JSON, a wrong
    /// type, an unknown or missing field (Nomad answers 400). This is the
    /// core's `invalid` kind at `stage: "decode"`, so the error JSON has
    /// `kind: "invalid"`, `code: 2`, `stage: "decode"` and `errors`.
    ORDU_INVALID_JSON = 102,
    /// ordu panicked inside the call: a bug in ordu, please report it with
    /// the error JSON's message. The panic did not cross into C, but whether
    /// the operation took effect is unknown.
    ORDU_PANIC = 103,
}

impl ordu_result {
    /// The stable snake_case name: a core kind's own name, or the binding's.
    fn name(self) -> &'static str {
        match self {
            ordu_result::ORDU_OK => "ok",
            ordu_result::ORDU_NULL_PARAMETER => "null_parameter",
            ordu_result::ORDU_INVALID_UTF8 => "invalid_utf8",
            ordu_result::ORDU_INVALID_JSON => "invalid_json",
            ordu_result::ORDU_PANIC => "panic",
            kind => ErrorKind::from_code(kind as u32).map_or("unknown", ErrorKind::name),
        }
    }

    fn from_code(code: u32) -> Option<ordu_result> {
        ordu_result::ALL.into_iter().find(|r| *r as u32 == code)
    }

    const ALL: [ordu_result; 11] = [
        ordu_result::ORDU_OK,
        ordu_result::ORDU_NOT_FOUND,
        ordu_result::ORDU_INVALID,
        ordu_result::ORDU_CONFLICT,
        ordu_result::ORDU_REGION,
        ordu_result::ORDU_LIMIT,
        ordu_result::ORDU_UNAVAILABLE,
        ordu_result::ORDU_NULL_PARAMETER,
        ordu_result::ORDU_INVALID_UTF8,
        ordu_result::ORDU_INVALID_JSON,
        ordu_result::ORDU_PANIC,
    ];
}

/// The result code of a core error: the core's own mapping
/// ([`Error::c_result`]).
fn result_of(e: &Error) -> ordu_result {
    // A kind added to the core after this enum: the test below fails first,
    // and a build that slips through still reports an error.
    ordu_result::from_code(e.c_result()).unwrap_or(ordu_result::ORDU_INVALID)
}

/// A store: jobs, evaluations, allocations and nodes, with blocking reads.
/// Created by `ordu_store_new`, freed by `ordu_store_free`. It is internally
/// synchronised: every function takes `const ordu_store *` and may be called
/// from any number of threads at once.
pub struct ordu_store {
    // Declared before `durable`, so dropped first: the store's last write
    // is done before the directory's lock goes.
    store: Arc<Store>,
    /// The data directory the store's log is kept in (`"data_dir"`), and
    /// what its recovery restored.
    durable: Option<durable::Kept>,
}

impl ordu_store {
    /// A store kept in memory (or in a host's log).
    fn memory(store: Store) -> Box<ordu_store> {
        Box::new(ordu_store {
            store: Arc::new(store),
            durable: None,
        })
    }

    /// The Rust store behind a C handle, for Rust code that shares a store
    /// with C code (not part of the C API).
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// An evaluation handed to the host in manual scheduling mode by
/// `ordu_eval_dequeue`: process it with `ordu_eval_process` (or give it back
/// with `ordu_eval_nack`, or drop it with `ordu_eval_ack`), then free it with
/// `ordu_delivery_free`.
pub struct ordu_delivery {
    delivery: Delivery,
}

/// A JSON text owned by ordu: read it with `ordu_string_ptr` and
/// `ordu_string_len`, free it with `ordu_string_free`.
pub struct ordu_string {
    /// The bytes followed by one NUL.
    bytes: Box<[u8]>,
}

impl ordu_string {
    fn new(text: String) -> Box<ordu_string> {
        let mut bytes = text.into_bytes();
        // JSON from serde_json escapes U+0000, so this is the only NUL.
        bytes.push(0);
        Box::new(ordu_string {
            bytes: bytes.into_boxed_slice(),
        })
    }

    fn len(&self) -> usize {
        self.bytes.len() - 1
    }
}

// ---- the last error of each thread ----

thread_local! {
    static LAST_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn set_last_error(e: Option<String>) {
    // During thread teardown the slot may be gone; the error is then lost
    // rather than a panic raised.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = e);
}

/// Why a call failed: a core error, or one of the binding's own.
enum Failure {
    Core(Error),
    Binding(ordu_result, String),
    /// The data directory could not be opened or recovered.
    Durable(ordu_durable::Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Core(e)
    }
}

impl Failure {
    fn null(func: &str, param: &str) -> Self {
        Failure::Binding(
            ordu_result::ORDU_NULL_PARAMETER,
            format!("{func}: {param} is NULL"),
        )
    }

    /// The result code and the error JSON.
    fn into_parts(self) -> (ordu_result, String) {
        match self {
            Failure::Core(e) => {
                let code = result_of(&e);
                let mut v = e.to_json();
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("result".into(), (code as u32).into());
                }
                (code, v.to_string())
            }
            Failure::Durable(e) => {
                let code = ordu_result::ORDU_UNAVAILABLE;
                let (reason, path) = durable::reason(&e);
                let mut v = Error::Unavailable {
                    message: e.to_string(),
                }
                .to_json();
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("result".into(), (code as u32).into());
                    obj.insert("reason".into(), reason.into());
                    obj.insert("path".into(), path.to_string_lossy().into());
                }
                (code, v.to_string())
            }
            Failure::Binding(code, message) => {
                let v = serde_json::json!({
                    "kind": code.name(),
                    "code": code as u32,
                    "result": code as u32,
                    "message": message,
                });
                (code, v.to_string())
            }
        }
    }
}

/// The panic boundary every fallible export runs in: records the error of
/// this call (or clears it) and turns it into a result code.
fn guard(func: &'static str, f: impl FnOnce() -> Result<(), Failure>) -> ordu_result {
    let failure = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            set_last_error(None);
            return ordu_result::ORDU_OK;
        }
        Ok(Err(failure)) => failure,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".into());
            Failure::Binding(ordu_result::ORDU_PANIC, format!("{func}: panic: {what}"))
        }
    };
    // Building the error JSON does not panic, but stay behind the boundary.
    let (code, text) = catch_unwind(AssertUnwindSafe(|| failure.into_parts())).unwrap_or((
        ordu_result::ORDU_PANIC,
        String::from(r#"{"kind":"panic","code":103,"result":103,"message":"panic while reporting an error"}"#),
    ));
    set_last_error(Some(text));
    code
}

// ---- argument checks ----

unsafe fn store_ref<'a>(func: &str, p: *const ordu_store) -> Result<&'a Store, Failure> {
    match p.as_ref() {
        Some(s) => Ok(&*s.store),
        None => Err(Failure::null(func, "store")),
    }
}

fn utf8<'a>(func: &str, param: &str, bytes: &'a [u8]) -> Result<&'a str, Failure> {
    std::str::from_utf8(bytes).map_err(|e| {
        Failure::Binding(
            ordu_result::ORDU_INVALID_UTF8,
            format!(
                "{func}: {param} is not UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// A required NUL-terminated string argument.
unsafe fn cstr<'a>(func: &str, param: &str, p: *const c_char) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::null(func, param));
    }
    utf8(func, param, CStr::from_ptr(p).to_bytes())
}

/// An optional NUL-terminated string argument (NULL: absent).
unsafe fn opt_cstr<'a>(
    func: &str,
    param: &str,
    p: *const c_char,
) -> Result<Option<&'a str>, Failure> {
    if p.is_null() {
        Ok(None)
    } else {
        cstr(func, param, p).map(Some)
    }
}

/// A required (pointer, length) body; it must be UTF-8, as JSON is.
unsafe fn body<'a>(
    func: &str,
    param: &str,
    p: *const c_char,
    len: usize,
) -> Result<&'a [u8], Failure> {
    if p.is_null() {
        return Err(Failure::null(func, param));
    }
    if len > isize::MAX as usize {
        return Err(Failure::Core(Error::Limit {
            path: param.to_string(),
            limit: isize::MAX as u64,
            message: format!("length {len} is not a valid object size"),
        }));
    }
    let bytes = std::slice::from_raw_parts(p.cast::<u8>(), len);
    utf8(func, param, bytes)?;
    Ok(bytes)
}

fn out<T>(func: &str, param: &str, p: *mut T) -> Result<(), Failure> {
    if p.is_null() {
        Err(Failure::null(func, param))
    } else {
        Ok(())
    }
}

/// Writes a successful reply to the outputs (checked non-NULL before the
/// operation ran; `index_out` is optional).
unsafe fn deliver(r: Reply, json_out: *mut *mut ordu_string, index_out: *mut u64) {
    *json_out = Box::into_raw(ordu_string::new(r.body));
    if !index_out.is_null() {
        *index_out = r.index;
    }
}

/// The shape of every operation: check the store and the outputs, run `op`,
/// write its reply.
unsafe fn run(
    func: &'static str,
    store: *const ordu_store,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
    op: impl FnOnce(&Store) -> Result<Reply, Failure>,
) -> ordu_result {
    guard(func, || {
        let store = store_ref(func, store)?;
        out(func, "json_out", json_out)?;
        let reply = op(store)?;
        deliver(reply, json_out, index_out);
        Ok(())
    })
}

// ---- library ----

/// The version of libordu, a static NUL-terminated string such as "0.1.0".
#[no_mangle]
pub extern "C" fn ordu_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The stable snake_case name of a result code ("ok", "not_found", ...,
/// "panic"), a static NUL-terminated string; "unknown" for a value this
/// library does not define.
#[no_mangle]
pub extern "C" fn ordu_result_name(result: c_int) -> *const c_char {
    // The names as C strings, made once: they live as long as the library.
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        ordu_result::ALL
            .iter()
            .map(|r| CString::new(r.name()).unwrap_or_default())
            .collect()
    });
    match ordu_result::ALL.iter().position(|r| *r as c_int == result) {
        Some(i) => names[i].as_ptr(),
        None => c"unknown".as_ptr(),
    }
}

/// The error of the last fallible call made on this thread, as JSON.
///
/// On `ORDU_OK` writes to `*error_out` a new `ordu_string` (free it with
/// `ordu_string_free`), or NULL when that call succeeded (or none was made).
/// The slot is per thread, so concurrent callers each see their own error,
/// and every fallible function except this one overwrites it.
///
/// The JSON is `{"kind", "code", "result", "message", ...}`: `kind` and
/// `code` are the core's error kind ("not_found" 1, "invalid" 2, "conflict"
/// 3, "region" 4, "limit" 5) or, for errors of the binding, the result's
/// name and value; `result` is the `ordu_result` the call returned;
/// `message` is Nomad's text. By kind it also has: not_found `what`, `id`,
/// `index`; invalid `stage` ("decode" or "validate") and `errors`, a list
/// of `{"path", "message"}`; conflict `current_index`; region `requested`,
/// `region`; limit `path`, `limit`.
#[no_mangle]
pub unsafe extern "C" fn ordu_last_error(error_out: *mut *mut ordu_string) -> ordu_result {
    if error_out.is_null() {
        return ordu_result::ORDU_NULL_PARAMETER;
    }
    let copy = catch_unwind(|| {
        LAST_ERROR
            .try_with(|slot| slot.borrow().clone())
            .ok()
            .flatten()
    });
    match copy {
        Ok(text) => {
            *error_out = text.map_or(ptr::null_mut(), |t| Box::into_raw(ordu_string::new(t)));
            ordu_result::ORDU_OK
        }
        Err(_) => ordu_result::ORDU_PANIC,
    }
}

/// The text of `s`: NUL-terminated JSON, valid until `ordu_string_free(s)`.
/// NULL when `s` is NULL.
#[no_mangle]
pub unsafe extern "C" fn ordu_string_ptr(s: *const ordu_string) -> *const c_char {
    match s.as_ref() {
        Some(s) => s.bytes.as_ptr().cast(),
        None => ptr::null(),
    }
}

/// The length of `s` in bytes, without the terminating NUL; 0 when `s` is
/// NULL.
#[no_mangle]
pub unsafe extern "C" fn ordu_string_len(s: *const ordu_string) -> usize {
    s.as_ref().map_or(0, ordu_string::len)
}

/// Frees a string ordu handed out. NULL is allowed and does nothing.
#[no_mangle]
pub unsafe extern "C" fn ordu_string_free(s: *mut ordu_string) {
    if !s.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(s))));
    }
}

// ---- the store ----

/// Creates a store from a JSON configuration of `config_len` bytes. Every
/// key is optional: `{"region": "global", "mode": "inline" | "grouped" |
/// "queued" | "manual", "delivery_limit": 3, "nack_timeout": "60s", "seed": 1, "limits":
/// {"max_group_count": 10000, "max_job_count": 100000,
/// "max_request_bytes": 8388608, "max_constraints": 1000}}`. A NULL
/// `config_json` (its length is then ignored) or an empty or all-blank text
/// means every default. An unknown key or a value of the wrong type is
/// `ORDU_INVALID_JSON`, a bad value (an empty region, an unknown mode) is
/// `ORDU_INVALID`; the error JSON's `errors` name the field.
///
/// With `"data_dir": "PATH"` the store is durable: its state is kept in that
/// directory (created if missing) and recovered from it here, so a store
/// opened again on the same directory has the same state and index. Each
/// write returns only after its entry is on disk; writes made from several
/// threads at once share one commit. `"snapshot_every": N` (only with
/// `data_dir`) writes a snapshot every N entries and drops the entries
/// before it (0: never; default 10000). A directory another store holds,
/// a corrupt file or an I/O error is `ORDU_UNAVAILABLE`, whose error JSON
/// has `reason` ("locked", "corrupt", "io" or "replay"), `path` and the
/// message. See `ordu_store_recovery` and `ordu_store_snapshot_now`.
///
/// On `ORDU_OK` writes the new store to `*store_out`; free it with
/// `ordu_store_free` (which closes the data directory).
#[no_mangle]
pub unsafe extern "C" fn ordu_store_new(
    config_json: *const c_char,
    config_len: usize,
    store_out: *mut *mut ordu_store,
) -> ordu_result {
    const F: &str = "ordu_store_new";
    guard(F, || {
        out(F, "store_out", store_out)?;
        let config = if config_json.is_null() {
            host::store_config(b"")?
        } else {
            host::store_config(body(F, "config_json", config_json, config_len)?)?
        };
        let store = match config.data_dir {
            None => ordu_store::memory(Store::new(config.config)),
            Some(ref dir) => durable::open(dir, config.snapshot_every, config.config.clone())?,
        };
        *store_out = Box::into_raw(store);
        Ok(())
    })
}

/// Frees a store. NULL is allowed and does nothing. No other call on this
/// store may be running or made afterwards (a blocked read included): the
/// host joins its threads first.
#[no_mangle]
pub unsafe extern "C" fn ordu_store_free(store: *mut ordu_store) {
    if !store.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(store))));
    }
}

/// The index of the store's last write (0 before the first), written to
/// `*index_out`.
#[no_mangle]
pub unsafe extern "C" fn ordu_store_index(
    store: *const ordu_store,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_store_index";
    guard(F, || {
        let store = store_ref(F, store)?;
        out(F, "index_out", index_out)?;
        *index_out = store.index();
        Ok(())
    })
}

// ---- jobs ----
//
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

// ---- namespaces ----

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

// ---- evaluations and allocations ----

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

// ---- nodes ----

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

// ---- lists with paging ----

/// The shape of every paged list: as [`run`], with the list options
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

// ---- maintenance ----

/// Collects terminal evaluations last changed before `older_than_ns` (unix
/// time in nanoseconds) whose allocations are all terminal, with those
/// allocations, and terminal allocations of jobs that no longer exist. On `ORDU_OK` writes `{"Index": n}` and `n`, the write's
/// index (0 when there was nothing to collect).
#[no_mangle]
pub unsafe extern "C" fn ordu_garbage_collect(
    store: *const ordu_store,
    older_than_ns: i64,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_garbage_collect";
    run(F, store, json_out, index_out, |s| {
        Ok(host::garbage_collect(s, older_than_ns)?)
    })
}

/// Carries drains on, as Nomad's drainer does; a host calls it on a timer
/// (every second, say). What a drain moves that still runs once its
/// deadline has passed is stopped (its replacements placed elsewhere or
/// blocked), and a drain whose node no longer runs anything it moves ends
/// (the node stays ineligible). On `ORDU_OK` writes `{"Index": n}` and `n`,
/// the last write's index (0 when there was nothing to do).
#[no_mangle]
pub unsafe extern "C" fn ordu_advance_drains(
    store: *const ordu_store,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_advance_drains";
    run(F, store, json_out, index_out, |s| Ok(host::advance_drains(s)?))
}

// ---- queued scheduling mode ----

/// Queued mode (`{"mode": "queued"}`): processes on this thread, as one
/// group, the evaluations of every write answered so far. A write in this
/// mode returns once applied, its evaluations queued; the host calls this
/// from a thread of its own when `ordu_store_processing_behind` says there
/// is work (a read does it too before it answers, so it never sees a write
/// unprocessed). A group another thread is processing is waited for.
///
/// On `ORDU_OK` writes to `*index_out`, when it is not NULL, the index up
/// to which writes' evaluations are processed. A follower processes
/// nothing and returns at once.
#[no_mangle]
pub unsafe extern "C" fn ordu_store_process_queued(
    store: *const ordu_store,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_store_process_queued";
    guard(F, || {
        let upto = store_ref(F, store)?.process_queued();
        if !index_out.is_null() {
            *index_out = upto;
        }
        Ok(())
    })
}

/// Whether writes answered so far left evaluations that no group has
/// processed yet: 1 or 0 in `*behind_out`. Always 0 in inline and manual
/// modes, and on a follower (it processes nothing).
#[no_mangle]
pub unsafe extern "C" fn ordu_store_processing_behind(
    store: *const ordu_store,
    behind_out: *mut c_int,
) -> ordu_result {
    const F: &str = "ordu_store_processing_behind";
    guard(F, || {
        let store = store_ref(F, store)?;
        out(F, "behind_out", behind_out)?;
        *behind_out = c_int::from(store.processing_behind());
        Ok(())
    })
}

// ---- manual scheduling mode ----

/// Manual mode: takes the next ready evaluation whose scheduler type is one
/// of `types` (an array of `types_len` NUL-terminated strings such as
/// "service", "batch", "system"; NULL or empty: every type), waiting up to
/// `wait_ms` milliseconds for one (0: not at all; capped at 10 minutes).
///
/// On `ORDU_OK` writes to `*delivery_out` a new `ordu_delivery`, or NULL
/// when none arrived in time. In inline mode (the default) the store runs
/// evaluations itself and this finds none.
#[no_mangle]
pub unsafe extern "C" fn ordu_eval_dequeue(
    store: *const ordu_store,
    types: *const *const c_char,
    types_len: usize,
    wait_ms: u64,
    delivery_out: *mut *mut ordu_delivery,
) -> ordu_result {
    const F: &str = "ordu_eval_dequeue";
    guard(F, || {
        let store = store_ref(F, store)?;
        out(F, "delivery_out", delivery_out)?;
        let mut names = Vec::new();
        if types_len > 0 {
            if types.is_null() {
                return Err(Failure::null(F, "types"));
            }
            let types = std::slice::from_raw_parts(types, types_len);
            for (i, t) in types.iter().enumerate() {
                names.push(cstr(F, &format!("types[{i}]"), *t)?);
            }
        }
        *delivery_out = host::dequeue_evaluation(store, &names, wait_ms)
            .map_or(ptr::null_mut(), |delivery| {
                Box::into_raw(Box::new(ordu_delivery { delivery }))
            });
        Ok(())
    })
}

/// A delivery as JSON: `{"Eval": {...}, "Token": "...", "Attempt": n}`,
/// written to `*json_out`, and the evaluation's modify index to
/// `*index_out` when it is not NULL.
#[no_mangle]
pub unsafe extern "C" fn ordu_delivery_json(
    delivery: *const ordu_delivery,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_delivery_json";
    guard(F, || {
        let d = delivery
            .as_ref()
            .ok_or_else(|| Failure::null(F, "delivery"))?;
        out(F, "json_out", json_out)?;
        deliver(host::delivery(&d.delivery)?, json_out, index_out);
        Ok(())
    })
}

/// Manual mode: runs the scheduler for a dequeued evaluation, applies its
/// plan and acks it (nacks it when its plans keep conflicting). On
/// `ORDU_OK` writes `{"Index": n}` and the plan's index. A delivery that no
/// longer holds its evaluation (already processed, acked or nacked) is
/// `ORDU_CONFLICT`.
#[no_mangle]
pub unsafe extern "C" fn ordu_eval_process(
    store: *const ordu_store,
    delivery: *const ordu_delivery,
    json_out: *mut *mut ordu_string,
    index_out: *mut u64,
) -> ordu_result {
    const F: &str = "ordu_eval_process";
    run(F, store, json_out, index_out, |s| {
        let d = delivery
            .as_ref()
            .ok_or_else(|| Failure::null(F, "delivery"))?;
        Ok(host::process_evaluation(s, &d.delivery)?)
    })
}

/// Manual mode: acks a dequeued evaluation without running it (the host
/// handled it). A delivery that no longer holds its evaluation is
/// `ORDU_CONFLICT`.
#[no_mangle]
pub unsafe extern "C" fn ordu_eval_ack(
    store: *const ordu_store,
    delivery: *const ordu_delivery,
) -> ordu_result {
    const F: &str = "ordu_eval_ack";
    guard(F, || {
        let s = store_ref(F, store)?;
        let d = delivery
            .as_ref()
            .ok_or_else(|| Failure::null(F, "delivery"))?;
        Ok(s.ack_evaluation(&d.delivery)?)
    })
}

/// Manual mode: gives a dequeued evaluation back; it is delivered again, or
/// written failed once it reached the delivery limit. A delivery that no
/// longer holds its evaluation is `ORDU_CONFLICT`.
#[no_mangle]
pub unsafe extern "C" fn ordu_eval_nack(
    store: *const ordu_store,
    delivery: *const ordu_delivery,
) -> ordu_result {
    const F: &str = "ordu_eval_nack";
    guard(F, || {
        let s = store_ref(F, store)?;
        let d = delivery
            .as_ref()
            .ok_or_else(|| Failure::null(F, "delivery"))?;
        Ok(s.nack_evaluation(&d.delivery)?)
    })
}

/// Frees a delivery. NULL is allowed and does nothing. Free it after
/// `ordu_eval_process`, `ordu_eval_ack` or `ordu_eval_nack`. A delivery freed
/// before is neither: its evaluation counts as nacked once the store's
/// `nack_timeout` has passed (at a later dequeue), and until then later
/// evaluations of its job wait behind it.
#[no_mangle]
pub unsafe extern "C" fn ordu_delivery_free(delivery: *mut ordu_delivery) {
    if !delivery.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(delivery))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_names_cover_every_value() {
        let names: Vec<&str> = ordu_result::ALL
            .iter()
            .map(|r| {
                let name = unsafe { CStr::from_ptr(ordu_result_name(*r as c_int)) };
                name.to_str().unwrap()
            })
            .collect();
        assert_eq!(
            names,
            [
                "ok",
                "not_found",
                "invalid",
                "conflict",
                "region",
                "limit",
                "unavailable",
                "null_parameter",
                "invalid_utf8",
                "invalid_json",
                "panic"
            ]
        );
        let unknown = unsafe { CStr::from_ptr(ordu_result_name(42)) };
        assert_eq!(unknown.to_str().unwrap(), "unknown");
    }

    #[test]
    fn core_kinds_keep_their_numbers() {
        // Every kind has a result code of its own number and name.
        for kind in ErrorKind::ALL {
            let r = ordu_result::from_code(kind.code()).expect("a result for every kind");
            assert_eq!(r.name(), kind.name(), "{kind:?}");
        }
        // The header's numbers, which C programs are built against.
        let numbers: Vec<u32> = ordu_result::ALL.iter().map(|r| *r as u32).collect();
        assert_eq!(numbers, [0, 1, 2, 3, 4, 5, 6, 100, 101, 102, 103]);
        assert_eq!(
            ordu_core::error::C_RESULT_INVALID_JSON,
            ordu_result::ORDU_INVALID_JSON as u32
        );
        let decode = Error::Invalid {
            stage: ordu_core::Stage::Decode,
            errors: vec![],
        };
        assert_eq!(result_of(&decode), ordu_result::ORDU_INVALID_JSON);
        assert_eq!(
            result_of(&Error::invalid(vec![])),
            ordu_result::ORDU_INVALID
        );
    }

    #[test]
    fn a_panic_is_a_result_not_an_unwind() {
        let r = guard("test", || panic!("boom"));
        assert_eq!(r, ordu_result::ORDU_PANIC);
        let mut e = ptr::null_mut();
        assert_eq!(unsafe { ordu_last_error(&mut e) }, ordu_result::ORDU_OK);
        let v: serde_json::Value =
            serde_json::from_slice(unsafe { CStr::from_ptr(ordu_string_ptr(e)) }.to_bytes())
                .unwrap();
        assert_eq!(v["kind"], "panic");
        assert_eq!(v["result"], 103);
        assert!(v["message"].as_str().unwrap().contains("boom"), "{v}");
        unsafe { ordu_string_free(e) };
        // A success clears the slot.
        assert_eq!(guard("test", || Ok(())), ordu_result::ORDU_OK);
        let mut e = ptr::null_mut();
        assert_eq!(unsafe { ordu_last_error(&mut e) }, ordu_result::ORDU_OK);
        assert!(e.is_null());
    }
}
