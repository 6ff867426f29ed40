//! Spinning before sleeping: a serving thread that has just answered keeps
//! its CPU busy for a short while (`--spin`, default 100 µs) instead of
//! sleeping in the kernel at once.
//!
//! On a virtual machine, a CPU with nothing to run halts, and waking a halted
//! virtual CPU takes a trip through the hypervisor: tens of microseconds,
//! more than the server spends on a request. Guests usually hide this by
//! polling for a while before they halt (Linux's `haltpoll` idle driver);
//! with that polling off (`guest_halt_poll_ns` 0, as on this project's
//! machines), a client that sends its next request as soon as it has the
//! answer meets a halted CPU every time. Go's scheduler avoids it the same
//! way as this module: a thread that runs out of work spins a little before
//! it parks.
//!
//! How: one task per serving thread. It sleeps until a request comes, then
//! yields to the runtime again and again until no request has come for the
//! window. While a task has yielded, tokio's current-thread runtime looks
//! for I/O without blocking, so a request that comes during the window is
//! picked up at once. It costs the window of one CPU each time the server
//! goes quiet, and nothing while it stays quiet. Under a steady load whose
//! requests come less than the window apart the thread never sleeps: its CPU
//! shows busy even when the requests need a fraction of it. `--spin 0` for a
//! host where that matters more than latency (a CPU billed by use, or shared
//! with work that needs it).

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

thread_local! {
    /// Requests this thread has begun: the spinning task's sign of work.
    static BEGUN: Cell<u64> = const { Cell::new(0) };
    /// Whether this thread's spinning task sleeps until the next request.
    static SLEEPING: Cell<bool> = const { Cell::new(false) };
    /// What wakes it.
    static WAKE: Arc<tokio::sync::Notify> = Arc::new(tokio::sync::Notify::new());
}

/// Marks a request begun on this thread.
pub fn request_begun() {
    BEGUN.set(BEGUN.get().wrapping_add(1));
    if SLEEPING.replace(false) {
        WAKE.with(|w| w.notify_one());
    }
}

/// Runs the spinning for this thread (spawned on its runtime, never
/// returns): spins while requests come less than `window` apart.
pub async fn run(window: Duration) {
    let wake = WAKE.with(Arc::clone);
    loop {
        SLEEPING.set(true);
        wake.notified().await;
        let mut seen = BEGUN.get();
        let mut since = Instant::now();
        loop {
            tokio::task::yield_now().await;
            let now = BEGUN.get();
            if now != seen {
                seen = now;
                since = Instant::now();
            } else if since.elapsed() >= window {
                break;
            }
        }
    }
}
