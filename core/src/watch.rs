//! Waiters keyed by what they read, woken after a write commits.
//!
//! A waiter subscribes to its keys *before* it reads, so a write that lands
//! between the read and the wait still wakes it. The keys are the state's
//! ([`Key`]: which reads an applied command may have changed); a collision
//! only costs a spurious wake-up, after which the reader re-checks its index
//! and waits again.
//!
//! Two ways to wait over one signal: [`Subscription::wait_until`] blocks the
//! thread; [`Subscription::changed`] is a `Future` that needs no particular
//! runtime (its timeout is served by one shared timer thread).
//!
//! A crowd (crate-internal) is for many waiters on one thing that every
//! write changes, the event stream: the writer only marks it changed and
//! one notifier thread, shared by the process, wakes the waiters, so the
//! writer's work is the same with a thousand of them as with one.

use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use parking_lot::{Condvar, Mutex, MutexGuard};

/// The key a waiter waits on: what the state says an apply touched.
pub use crate::state::Key;

#[derive(Default)]
struct SignalState {
    fired: bool,
    timed_out: bool,
    /// A deadline of this signal is in the timer's heap.
    armed: bool,
    waker: Option<Waker>,
}

#[derive(Default)]
struct Signal {
    state: Mutex<SignalState>,
    cond: Condvar,
}

impl Signal {
    fn fire(&self, timeout: bool) {
        let waker = {
            let mut s = self.state.lock();
            if timeout {
                s.timed_out = true;
            } else {
                s.fired = true;
            }
            s.waker.take()
        };
        self.cond.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// The registry of waiters. One per store.
#[derive(Default)]
pub struct Watch {
    waiters: Mutex<HashMap<Key, HashMap<u64, Arc<Signal>>>>,
    next_id: AtomicU64,
}

impl Watch {
    /// A registry with no waiters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers interest in `keys`. Call before reading what they cover.
    pub fn subscribe(self: &Arc<Self>, keys: &[Key]) -> Subscription {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let signal = Arc::new(Signal::default());
        {
            let mut w = self.waiters.lock();
            for k in keys {
                w.entry(*k).or_default().insert(id, signal.clone());
            }
        }
        Subscription {
            watch: self.clone(),
            keys: keys.to_vec(),
            id,
            waiter: Waiter { signal },
        }
    }

    /// Wakes every waiter on any of `keys`. Call after the write is visible.
    pub fn notify(&self, keys: impl IntoIterator<Item = Key>) {
        let mut fired = Vec::new();
        {
            let mut w = self.waiters.lock();
            if w.is_empty() {
                return;
            }
            for k in keys {
                if let Some(set) = w.remove(&k) {
                    fired.extend(set.into_values());
                }
            }
        }
        for s in fired {
            s.fire(false);
        }
    }

    /// Wakes every waiter (after a restore, when any answer may have changed).
    pub fn notify_all(&self) {
        let all: Vec<_> = self.waiters.lock().drain().collect();
        for (_, set) in all {
            for s in set.into_values() {
                s.fire(false);
            }
        }
    }

    /// Number of keys with at least one waiter (for tests and metrics).
    pub fn watched_keys(&self) -> usize {
        self.waiters.lock().len()
    }

    fn unsubscribe(&self, keys: &[Key], id: u64) {
        let mut w = self.waiters.lock();
        for k in keys {
            if let Some(set) = w.get_mut(k) {
                set.remove(&id);
                if set.is_empty() {
                    w.remove(k);
                }
            }
        }
    }
}

/// Interest in some keys; dropped, it unregisters.
pub struct Subscription {
    watch: Arc<Watch>,
    keys: Vec<Key>,
    id: u64,
    waiter: Waiter,
}

impl Subscription {
    /// Blocks until a key fires or `deadline` passes. True if a key fired.
    pub fn wait_until(&self, deadline: Instant) -> bool {
        self.waiter.wait_until(deadline)
    }

    /// Resolves to true when a key fires, or to false once `deadline` passes.
    /// Works on any executor.
    pub fn changed(&self, deadline: Instant) -> Changed<'_> {
        self.waiter.changed(deadline)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.watch.unsubscribe(&self.keys, self.id);
    }
}

/// One wait's signal, fired once (by a write, or by its deadline for a
/// future).
struct Waiter {
    signal: Arc<Signal>,
}

impl Waiter {
    fn wait_until(&self, deadline: Instant) -> bool {
        let mut s = self.signal.state.lock();
        while !s.fired {
            if self.signal.cond.wait_until(&mut s, deadline).timed_out() {
                return s.fired;
            }
        }
        true
    }

    fn changed(&self, deadline: Instant) -> Changed<'_> {
        Changed {
            signal: &self.signal,
            deadline,
            armed: false,
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let left_behind = {
            let s = self.signal.state.lock();
            // A deadline the timer fired is out of its heap already.
            s.armed && !s.timed_out
        };
        if left_behind {
            // Its deadline is dead weight in the timer's heap from now on.
            timer().dropped();
        }
    }
}

/// Waiters on one thing that every write changes, woken together: the
/// event stream's subscribers.
///
/// The writer's part is constant: after its write is visible it calls
/// [`Crowd::wake`], which reads one counter and, when someone waits and
/// no wake-up is pending, queues the crowd for the notifier thread (one
/// for the process) and wakes that thread. The notifier takes every wait
/// registered and fires each. A waiter wakes once however many writes
/// came while it slept, reads all of them, and registers again only when
/// there is nothing left to read.
#[derive(Default)]
pub(crate) struct Crowd {
    /// The registered waits, one per owner (a subscription).
    waiting: Mutex<HashMap<u64, Arc<Signal>>>,
    /// `waiting`'s length, read by writers without the lock.
    count: AtomicUsize,
    /// Queued for the notifier and not yet taken by it.
    queued: AtomicBool,
}

impl Crowd {
    /// Registers a wait of `owner`'s (replacing any it left), to be made
    /// *before* looking at what the writes change: a write that lands
    /// after the look wakes it. Dropped, it unregisters.
    pub(crate) fn wait(&self, owner: u64) -> CrowdWait<'_> {
        let signal = Arc::new(Signal::default());
        {
            let mut w = self.waiting.lock();
            w.insert(owner, signal.clone());
            self.count.store(w.len(), Ordering::SeqCst);
        }
        // Paired with the writer's fence in `wake`: either the writer sees
        // this count, or the look that follows sees its write.
        fence(Ordering::SeqCst);
        CrowdWait {
            crowd: self,
            owner,
            waiter: Waiter { signal },
        }
    }

    /// Wakes every registered wait, off the caller's thread. Call after the
    /// write is visible (its lock released).
    pub(crate) fn wake(self: &Arc<Self>) {
        fence(Ordering::SeqCst);
        if self.count.load(Ordering::SeqCst) == 0 || self.queued.swap(true, Ordering::SeqCst) {
            return;
        }
        notifier().queue(self.clone());
    }

    /// The notifier's part: takes the registered waits and fires them.
    fn fire(&self) {
        // Cleared before taking: a write after the take queues again.
        self.queued.store(false, Ordering::SeqCst);
        let taken = {
            let mut w = self.waiting.lock();
            self.count.store(0, Ordering::SeqCst);
            std::mem::take(&mut *w)
        };
        for s in taken.into_values() {
            s.fire(false);
        }
    }
}

/// A wait registered in a [`Crowd`]; see [`Crowd::wait`].
pub(crate) struct CrowdWait<'a> {
    crowd: &'a Crowd,
    owner: u64,
    waiter: Waiter,
}

impl CrowdWait<'_> {
    /// Blocks until the crowd is woken or `deadline` passes. True if woken.
    pub(crate) fn wait_until(&self, deadline: Instant) -> bool {
        self.waiter.wait_until(deadline)
    }

    /// Resolves to true when the crowd is woken, or to false once
    /// `deadline` passes. Works on any executor.
    pub(crate) fn changed(&self, deadline: Instant) -> Changed<'_> {
        self.waiter.changed(deadline)
    }
}

impl Drop for CrowdWait<'_> {
    fn drop(&mut self) {
        let mut w = self.crowd.waiting.lock();
        // Still there unless the notifier took it.
        if w.get(&self.owner)
            .is_some_and(|s| Arc::ptr_eq(s, &self.waiter.signal))
        {
            w.remove(&self.owner);
            self.crowd.count.store(w.len(), Ordering::SeqCst);
        }
    }
}

/// One thread for the whole process that wakes crowds, so that writers
/// do not.
struct Notifier {
    queue: Mutex<Vec<Arc<Crowd>>>,
    cond: Condvar,
}

fn notifier() -> &'static Notifier {
    static NOTIFIER: OnceLock<&'static Notifier> = OnceLock::new();
    NOTIFIER.get_or_init(|| {
        let n: &'static Notifier = Box::leak(Box::new(Notifier {
            queue: Mutex::new(Vec::new()),
            cond: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("ordu-notifier".into())
            .spawn(move || n.run())
            .expect("spawn the ordu notifier thread");
        n
    })
}

impl Notifier {
    /// Queues `crowd` to be woken (once: see `Crowd::queued`).
    fn queue(&self, crowd: Arc<Crowd>) {
        self.queue.lock().push(crowd);
        self.cond.notify_one();
    }

    fn run(&self) {
        let mut q = self.queue.lock();
        loop {
            while q.is_empty() {
                self.cond.wait(&mut q);
            }
            let crowds = std::mem::take(&mut *q);
            MutexGuard::unlocked(&mut q, || {
                for c in crowds {
                    c.fire();
                }
            });
        }
    }
}

/// The future of [`Subscription::changed`].
pub struct Changed<'a> {
    signal: &'a Arc<Signal>,
    deadline: Instant,
    armed: bool,
}

impl Future for Changed<'_> {
    type Output = bool;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        // `Changed` holds a reference and plain data, so it is `Unpin`.
        let this = self.get_mut();
        {
            let mut s = this.signal.state.lock();
            if s.fired {
                return Poll::Ready(true);
            }
            if s.timed_out || Instant::now() >= this.deadline {
                return Poll::Ready(false);
            }
            s.waker = Some(cx.waker().clone());
            if !this.armed {
                s.armed = true;
            }
        }
        if !this.armed {
            this.armed = true;
            timer().schedule(this.deadline, Arc::downgrade(this.signal));
        }
        Poll::Pending
    }
}

/// One thread for the whole process that fires the deadlines of waiting futures.
struct Timer {
    heap: Mutex<Deadlines>,
    cond: Condvar,
}

/// The deadlines, earliest first, and about how many of them are of
/// subscriptions dropped since the last sweep (the count only decides when
/// to sweep: a subscription may have armed more than one deadline, or been
/// dropped while a sweep ran).
///
/// A wait that ends early (its key fired, or its client went away) leaves
/// its deadline behind, and with it the signal's allocation (the entry's
/// `Weak`). Waits of minutes woken by frequent writes would pile these up by
/// the million, so once the dropped ones are half the heap (and more than
/// [`SWEEP_MIN`]), the next deadline scheduled sweeps them out: a cost in
/// proportion to the drops that called for it.
#[derive(Default)]
struct Deadlines {
    heap: BinaryHeap<Deadline>,
    dropped: usize,
}

/// Fewest dropped deadlines worth a sweep.
const SWEEP_MIN: usize = 1024;

struct Deadline {
    at: Instant,
    signal: Weak<Signal>,
}

impl PartialEq for Deadline {
    fn eq(&self, o: &Self) -> bool {
        self.at == o.at
    }
}
impl Eq for Deadline {}
impl PartialOrd for Deadline {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Deadline {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        o.at.cmp(&self.at) // earliest first in a max-heap
    }
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<&'static Timer> = OnceLock::new();
    TIMER.get_or_init(|| {
        let t: &'static Timer = Box::leak(Box::new(Timer {
            heap: Mutex::new(Deadlines::default()),
            cond: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("ordu-timer".into())
            .spawn(move || t.run())
            .expect("spawn the ordu timer thread");
        t
    })
}

impl Timer {
    fn schedule(&self, at: Instant, signal: Weak<Signal>) {
        let mut d = self.heap.lock();
        if d.dropped > SWEEP_MIN && d.dropped * 2 > d.heap.len() {
            d.heap.retain(|e| e.signal.strong_count() > 0);
            d.dropped = 0;
        }
        let earliest = d.heap.peek().is_none_or(|e| at < e.at);
        d.heap.push(Deadline { at, signal });
        if earliest {
            self.cond.notify_one();
        }
    }

    /// A subscription that armed a deadline is gone.
    fn dropped(&self) {
        self.heap.lock().dropped += 1;
    }

    /// Deadlines in the heap, live or not.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.heap.lock().heap.len()
    }

    fn run(&self) {
        let mut d = self.heap.lock();
        loop {
            let now = Instant::now();
            while d.heap.peek().is_some_and(|e| e.at <= now) {
                let e = d.heap.pop().expect("peeked");
                match e.signal.upgrade() {
                    Some(s) => s.fire(true),
                    None => d.dropped = d.dropped.saturating_sub(1),
                }
            }
            match d.heap.peek().map(|e| e.at) {
                Some(at) => {
                    self.cond.wait_until(&mut d, at);
                }
                None => self.cond.wait(&mut d),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ended_waits_do_not_pile_up_in_the_timer() {
        let w = Arc::new(Watch::new());
        let far = Instant::now() + Duration::from_secs(3600);
        let mut cx = Context::from_waker(Waker::noop());
        let before = timer().len();
        for i in 0..20_000 {
            let key = Key::new("job", &format!("pile-{i}"));
            let sub = w.subscribe(&[key]);
            let mut f = std::pin::pin!(sub.changed(far));
            assert!(f.as_mut().poll(&mut cx).is_pending());
            if i % 2 == 0 {
                // Woken by a write; the others just go away (a client that
                // hung up).
                w.notify([key]);
                assert_eq!(f.as_mut().poll(&mut cx), Poll::Ready(true));
            }
        }
        let left = timer().len().saturating_sub(before);
        assert!(left < 5_000, "{left} deadlines of 20,000 ended waits left");

        // Deadlines still fire after sweeps: a live wait times out and its
        // task is woken.
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let sub = w.subscribe(&[Key::new("job", "live")]);
        let started = Instant::now();
        let mut f = std::pin::pin!(sub.changed(started + Duration::from_millis(50)));
        while f.as_mut().poll(&mut cx).is_pending() {
            assert!(started.elapsed() < Duration::from_secs(10), "never woken");
            // Only the timer's wake-up ends this park (or a spurious one).
            std::thread::park_timeout(Duration::from_secs(5));
        }
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[test]
    fn a_crowd_wakes_its_waits_off_the_writer_and_forgets_ended_ones() {
        let c = Arc::new(Crowd::default());
        // Waits that end without a wake-up leave nothing behind.
        for _ in 0..1000 {
            drop(c.wait(7));
        }
        assert_eq!(c.waiting.lock().len(), 0);
        assert_eq!(c.count.load(Ordering::SeqCst), 0);
        // No one waits: a wake queues nothing.
        c.wake();
        assert!(!c.queued.load(Ordering::SeqCst));

        let a = c.wait(1);
        let b = c.wait(2);
        let far = Instant::now() + Duration::from_secs(10);
        c.wake();
        assert!(a.wait_until(far));
        assert!(b.wait_until(far));
        drop((a, b));
        assert_eq!(c.waiting.lock().len(), 0);
        // A wait registered after a wake-up is not ended by it.
        let d = c.wait(1);
        assert!(!d.wait_until(Instant::now() + Duration::from_millis(20)));
    }

    #[test]
    fn notify_wakes_only_its_key() {
        let w = Arc::new(Watch::new());
        let a = w.subscribe(&[Key::new("job", "a")]);
        let b = w.subscribe(&[Key::new("job", "b")]);
        w.notify([Key::new("job", "a")]);
        assert!(a.wait_until(Instant::now()));
        assert!(!b.wait_until(Instant::now() + Duration::from_millis(20)));
        drop(b);
        drop(a);
        assert_eq!(w.watched_keys(), 0, "dropped subscriptions unregister");
    }
}
