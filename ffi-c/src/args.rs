//! Argument checks every export makes (a NULL or a text that is not UTF-8
//! is a result code, never a crash), and the shape of an operation that
//! answers JSON.

use std::ffi::{c_char, CStr};

use ordu_core::host::Reply;
use ordu_core::{Error, Store};

use crate::error::{guard, ordu_result, Failure};
use crate::store::ordu_store;
use crate::string::ordu_string;

pub(crate) unsafe fn store_ref<'a>(func: &str, p: *const ordu_store) -> Result<&'a Store, Failure> {
    match p.as_ref() {
        Some(s) => Ok(&*s.store),
        None => Err(Failure::null(func, "store")),
    }
}

pub(crate) fn utf8<'a>(func: &str, param: &str, bytes: &'a [u8]) -> Result<&'a str, Failure> {
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
pub(crate) unsafe fn cstr<'a>(
    func: &str,
    param: &str,
    p: *const c_char,
) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::null(func, param));
    }
    utf8(func, param, CStr::from_ptr(p).to_bytes())
}

/// An optional NUL-terminated string argument (NULL: absent).
pub(crate) unsafe fn opt_cstr<'a>(
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
pub(crate) unsafe fn body<'a>(
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

pub(crate) fn out<T>(func: &str, param: &str, p: *mut T) -> Result<(), Failure> {
    if p.is_null() {
        Err(Failure::null(func, param))
    } else {
        Ok(())
    }
}

/// Writes a successful reply to the outputs (checked non-NULL before the
/// operation ran; `index_out` is optional).
pub(crate) unsafe fn deliver(r: Reply, json_out: *mut *mut ordu_string, index_out: *mut u64) {
    *json_out = Box::into_raw(ordu_string::new(r.body));
    if !index_out.is_null() {
        *index_out = r.index;
    }
}

/// The shape of every operation: check the store and the outputs, run `op`,
/// write its reply.
pub(crate) unsafe fn run(
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
