//! Leaving the interpreter while threads are inside ordu calls.
//!
//! Up to Python 3.13, a thread that takes the GIL back after the interpreter
//! has begun to finalize is ended on the spot with `pthread_exit`. Its
//! unwinding cannot cross the Rust frames of a call into this module (the
//! catch around every call stops it), and the process aborts with "FATAL:
//! exception not rethrown". A daemon thread blocked in a read at exit (an
//! `ordu.http` long-poll, say) does that as soon as its wait ends.
//!
//! So the module registers an `atexit` hook, and `atexit` hooks run before
//! finalization begins. From the hook on, no call lets go of the GIL (a
//! blocking read answers at once, a waiting one stops at its next slice), and
//! the hook itself waits, without the GIL, until every call that was running
//! without it has taken it back.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// Set by the exit hook: the interpreter is about to finalize.
static CLOSING: AtomicBool = AtomicBool::new(false);
/// Calls running without the GIL right now.
static DETACHED: AtomicUsize = AtomicUsize::new(0);

/// How long the exit hook waits for detached calls. A waiting read notices
/// the hook within one slice (100 ms); only a long write takes longer, and
/// exit does not wait for it forever.
const GRACE: Duration = Duration::from_secs(2);

/// True once the interpreter is on its way out: waits must not start.
pub(crate) fn closing() -> bool {
    CLOSING.load(SeqCst)
}

/// Runs `f` with the GIL released and counted as detached, or, once the
/// interpreter is closing, with the GIL held (so the thread never has to take
/// it back during finalization).
///
/// The flag is read and the count raised while this thread holds the GIL, as
/// the hook holds it when it sets the flag, so the two cannot interleave.
pub(crate) fn detach<T, F>(py: Python<'_>, f: F) -> T
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    if closing() {
        return f();
    }
    DETACHED.fetch_add(1, SeqCst);
    // Dropped after `py.detach` has returned, that is with the GIL held again.
    let _back = Back;
    py.detach(f)
}

struct Back;

impl Drop for Back {
    fn drop(&mut self) {
        DETACHED.fetch_sub(1, SeqCst);
    }
}

/// The `atexit` hook: closes, then lets detached calls come back.
#[pyfunction]
fn at_exit(py: Python<'_>) {
    CLOSING.store(true, SeqCst);
    let deadline = Instant::now() + GRACE;
    py.detach(|| {
        while DETACHED.load(SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// Registers the hook (at module import).
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let hook = wrap_pyfunction!(at_exit, m)?;
    m.py().import("atexit")?.call_method1("register", (hook,))?;
    Ok(())
}
