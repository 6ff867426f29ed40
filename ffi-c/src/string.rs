//! The JSON texts ordu hands out: `ordu_string`, read and freed by the
//! library's own functions.

use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

/// A JSON text owned by ordu: read it with `ordu_string_ptr` and
/// `ordu_string_len`, free it with `ordu_string_free`.
pub struct ordu_string {
    /// The bytes followed by one NUL.
    pub(crate) bytes: Box<[u8]>,
}

impl ordu_string {
    pub(crate) fn new(text: String) -> Box<ordu_string> {
        let mut bytes = text.into_bytes();
        // JSON from serde_json escapes U+0000, so this is the only NUL.
        bytes.push(0);
        Box::new(ordu_string {
            bytes: bytes.into_boxed_slice(),
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len() - 1
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
