//! Result codes and errors: the `ordu_result` every fallible export
//! returns, the error JSON of the calling thread's last failed call, and
//! the panic boundary every export runs in.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::OnceLock;

use ordu_core::{Error, ErrorKind};

use crate::durable;
use crate::string::ordu_string;

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
pub(crate) fn result_of(e: &Error) -> ordu_result {
    // A kind added to the core after this enum: the test below fails first,
    // and a build that slips through still reports an error.
    ordu_result::from_code(e.c_result()).unwrap_or(ordu_result::ORDU_INVALID)
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
pub(crate) enum Failure {
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
    pub(crate) fn null(func: &str, param: &str) -> Self {
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
pub(crate) fn guard(func: &'static str, f: impl FnOnce() -> Result<(), Failure>) -> ordu_result {
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

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;
    use crate::string::{ordu_string_free, ordu_string_ptr};

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
