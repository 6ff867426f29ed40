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

use std::ffi::c_char;

// Helpers the modules share; they export nothing.
mod args;

// cbindgen writes the header in source order: this file's items, then each
// module's in the order declared here, so this order is the header's. The
// blank lines keep rustfmt from sorting them.
mod error;

mod string;

mod store;

mod jobs;

mod namespaces;

mod evaluations;

mod nodes;

mod paging;

mod maintenance;

mod scheduling;

mod durable;

mod events;

mod log;

pub use durable::*;
pub use error::*;
pub use evaluations::*;
pub use events::*;
pub use jobs::*;
pub use log::*;
pub use maintenance::*;
pub use namespaces::*;
pub use nodes::*;
pub use paging::*;
pub use scheduling::*;
pub use store::*;
pub use string::*;

/// The version of libordu, a static NUL-terminated string such as "0.1.0".
#[no_mangle]
pub extern "C" fn ordu_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
