//! SPEC "Blocking reads": every read blocks until its index passes
//! `min_index` or the wait runs out (default 5 minutes, cap 10, plus up to
//! wait/16 jitter); a timeout answers the current value and index, not an
//! error; the same mechanism serves a blocking thread and a `Future` that
//! needs no particular runtime.

mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use ordu::structs::AllocClientUpdate;
use ordu::structs::EvalStatus;
use ordu::{reads, Error, QueryOptions, Store};
use support::*;

const LONG: Duration = Duration::from_secs(20);

/// Runs `write` on another thread after a short pause.
fn later(
    store: &Arc<Store>,
    write: impl FnOnce(&Store) + Send + 'static,
) -> std::thread::JoinHandle<()> {
    let store = store.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        write(&store);
    })
}

#[test]
fn a_write_wakes_a_blocked_job_read() {
    let store = Arc::new(manual_store());
    register(&store, &job("a", 1)).unwrap();
    let before = store.job("a", &now()).unwrap();
    let w = later(&store, |s| {
        register(s, &job("a", 7)).unwrap();
    });
    let start = Instant::now();
    let q = store.job("a", &after(before.meta.index, LONG)).unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(q.meta.index > before.meta.index);
    assert_eq!(q.value.task_groups[0].count, 7);
    w.join().unwrap();
}

#[test]
fn every_read_kind_wakes_on_its_change() {
    let store = Arc::new(manual_store());
    add_node(&store, "n1");
    let r = register(&store, &job("a", 1)).unwrap();
    place(&store, "a", "n1", &[("x", 0)]);
    let i = store.index();

    let w = later(&store, |s| {
        register(s, &job("b", 1)).unwrap();
    });
    assert!(store.jobs("", &after(i, LONG)).unwrap().meta.index > i);
    w.join().unwrap();

    let i = store.index();
    let w = later(&store, |s| {
        s.evaluate_job("a", &Default::default()).unwrap();
    });
    let q = store.job_evaluations("a", &after(i, LONG)).unwrap();
    assert!(q.meta.index > i);
    assert_eq!(q.value.len(), 2);
    w.join().unwrap();

    let i = store.index();
    let w = later(&store, |s| {
        s.update_alloc_client(AllocClientUpdate {
            id: "x".into(),
            client_status: "running".into(),
            ..AllocClientUpdate::default()
        })
        .unwrap();
    });
    let q = store.allocation("x", &after(i, LONG)).unwrap();
    assert_eq!(q.value.client_status, "running");
    w.join().unwrap();

    let i = store.index();
    let w = later(&store, |s| {
        s.update_alloc_client(AllocClientUpdate {
            id: "x".into(),
            client_status: "complete".into(),
            ..AllocClientUpdate::default()
        })
        .unwrap();
    });
    let q = store.job_allocations("a", false, &after(i, LONG)).unwrap();
    assert_eq!(q.value[0].client_status, "complete");
    w.join().unwrap();

    // One evaluation, woken when it changes (here: the broker's coalescing
    // writes an older pending one as canceled, or a register adds one).
    let e = store.evaluation(&r.eval_id, &now()).unwrap();
    let eval_id = r.eval_id.clone();
    let w = later(&store, move |s| {
        s.apply(ordu::Command::EvalUpsert {
            evals: vec![ordu::structs::Evaluation {
                status: EvalStatus::Complete,
                ..(*s.evaluation(&eval_id, &now()).unwrap().value).clone()
            }],
        })
        .unwrap();
    });
    let q = store
        .evaluation(&r.eval_id, &after(e.meta.index, LONG))
        .unwrap();
    assert_eq!(q.value.status, "complete");
    w.join().unwrap();
}

#[test]
fn a_missing_job_read_wakes_when_the_job_appears() {
    let store = Arc::new(manual_store());
    register(&store, &job("other", 1)).unwrap();
    let index = match store.job("a", &now()) {
        Err(Error::NotFound { index, .. }) => index,
        r => panic!("{r:?}"),
    };
    let w = later(&store, |s| {
        register(s, &job("a", 1)).unwrap();
    });
    let q = store.job("a", &after(index, LONG)).unwrap();
    assert_eq!(q.value.id, "a");
    w.join().unwrap();
}

#[test]
fn a_timeout_answers_the_current_value_and_index() {
    let store = manual_store();
    register(&store, &job("a", 3)).unwrap();
    let i = store.job("a", &now()).unwrap().meta.index;
    let wait = Duration::from_millis(320);
    let start = Instant::now();
    let q = store.job("a", &after(i, wait)).unwrap();
    let took = start.elapsed();
    assert_eq!(q.meta.index, i);
    assert_eq!(q.value.task_groups[0].count, 3);
    assert!(took >= wait, "{took:?}");
    // Jitter adds at most wait/16 (20 ms); allow for a loaded machine.
    assert!(
        took < wait + Duration::from_millis(20) + Duration::from_secs(1),
        "{took:?}"
    );

    // A not-found read times out as not found, with its index.
    let err = store
        .job("zz", &after(1, Duration::from_millis(50)))
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { index: 1, .. }), "{err:?}");
}

#[test]
fn wait_defaults_to_5_minutes_and_is_capped_at_10() {
    let q = |wait: Option<Duration>| QueryOptions {
        min_index: 1,
        wait,
        ..QueryOptions::default()
    };
    assert_eq!(q(None).effective_wait(), Duration::from_secs(300));
    assert_eq!(
        q(Some(Duration::ZERO)).effective_wait(),
        Duration::from_secs(300)
    );
    assert_eq!(
        q(Some(Duration::from_secs(2))).effective_wait(),
        Duration::from_secs(2)
    );
    assert_eq!(
        q(Some(Duration::from_secs(600))).effective_wait(),
        Duration::from_secs(600)
    );
    assert_eq!(
        q(Some(Duration::from_secs(3600))).effective_wait(),
        Duration::from_secs(600)
    );
    assert_eq!(
        q(Some(Duration::MAX)).effective_wait(),
        Duration::from_secs(600),
        "no overflow from a huge wait"
    );
    assert_eq!(ordu::store::DEFAULT_WAIT, Duration::from_secs(300));
    assert_eq!(ordu::store::MAX_WAIT, Duration::from_secs(600));
}

#[test]
fn many_blocked_threads_on_one_key_all_wake() {
    let store = Arc::new(manual_store());
    register(&store, &job("a", 1)).unwrap();
    let i = store.index();
    let readers: Vec<_> = (0..32)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || store.job("a", &after(i, LONG)).unwrap().meta.index)
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    register(&store, &job("a", 2)).unwrap();
    for r in readers {
        assert!(r.join().unwrap() > i);
    }
}

#[test]
fn a_restore_wakes_every_waiter_and_an_older_state_reads_as_a_reset() {
    let store = Arc::new(manual_store());
    register(&store, &job("a", 1)).unwrap();
    let old = store.with_state(|s| s.snapshot());
    register(&store, &job("a", 2)).unwrap();
    register(&store, &job("b", 1)).unwrap();
    let readers: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|id| {
            let store = store.clone();
            let i = store.job(id, &now()).unwrap().meta.index;
            std::thread::spawn(move || {
                let start = Instant::now();
                let q = store.job(id, &after(i, LONG));
                (q.map(|q| q.meta.index), start.elapsed())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    // Back to the state after the first write: every reader wakes, and
    // their min_index is now above the store's index, so they answer at once.
    store.restore(ordu::State::restore(&old).unwrap());
    assert_eq!(store.index(), 1);
    let mut answers = Vec::new();
    for r in readers {
        let (answer, waited) = r.join().unwrap();
        assert!(waited < Duration::from_secs(10), "woken by the restore");
        answers.push(answer);
    }
    assert_eq!(answers[0].as_ref().unwrap(), &1);
    assert!(matches!(answers[1], Err(Error::NotFound { .. })));
}

// ---- the Future ----

fn assert_send<T: Send>(_: &T) {}

#[test]
fn wait_async_resolves_at_once_without_min_index() {
    let store = manual_store();
    register(&store, &job("a", 1)).unwrap();
    let (q, polls) = block_on(store.wait_async(reads::job("default", "a"), &now()));
    assert_eq!(q.unwrap().value.id, "a");
    assert_eq!(polls, 1);
}

#[test]
fn wait_async_wakes_on_a_write() {
    let store = Arc::new(manual_store());
    register(&store, &job("a", 1)).unwrap();
    let i = store.index();
    let opts = after(i, LONG);
    let fut = store.wait_async(reads::job("default", "a"), &opts);
    assert_send(&fut);
    let w = later(&store, |s| {
        register(s, &job("a", 2)).unwrap();
    });
    let start = Instant::now();
    let (q, polls) = block_on(fut);
    let q = q.unwrap();
    assert!(q.meta.index > i);
    assert_eq!(q.value.task_groups[0].count, 2);
    assert!(polls >= 2, "it was pending first");
    assert!(start.elapsed() < Duration::from_secs(10));
    w.join().unwrap();
}

#[test]
fn wait_async_times_out_with_the_current_answer() {
    let store = manual_store();
    register(&store, &job("a", 1)).unwrap();
    let i = store.index();
    let wait = Duration::from_millis(150);
    let start = Instant::now();
    let (q, _) = block_on(store.wait_async(reads::job("default", "a"), &after(i, wait)));
    assert_eq!(q.unwrap().meta.index, i);
    assert!(start.elapsed() >= wait);
    assert!(start.elapsed() < wait + Duration::from_secs(2));
}

/// Wakes the driving thread and counts how often it was woken.
struct Flag(std::thread::Thread, AtomicUsize);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.unpark();
    }
}

#[test]
fn a_thousand_async_waits_on_one_thread() {
    // Thousands of open long-polls need no thread each: 1,000 futures on the
    // test thread, half of them on keys that change.
    let store = Arc::new(manual_store());
    for k in 0..100 {
        register(&store, &job(&format!("j{k}"), 1)).unwrap();
    }
    let i = store.index();
    let opts = after(i, Duration::from_secs(3));
    let mut futs: Vec<Option<Pin<Box<dyn Future<Output = _>>>>> = (0..1000)
        .map(|n| {
            let f: Pin<Box<dyn Future<Output = _>>> =
                Box::pin(store.wait_async(reads::job("default", &format!("j{}", n % 100)), &opts));
            Some(f)
        })
        .collect();
    let flag = Arc::new(Flag(std::thread::current(), AtomicUsize::new(0)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut done = vec![None; 1000];
    let poll_all = |futs: &mut Vec<Option<Pin<Box<dyn Future<Output = _>>>>>,
                    done: &mut Vec<Option<(u64, Instant)>>,
                    cx: &mut Context<'_>| {
        for (n, slot) in futs.iter_mut().enumerate() {
            if let Some(f) = slot {
                if let Poll::Ready(r) = f.as_mut().poll(cx) {
                    let r: ordu::Result<ordu::Query<_>> = r;
                    done[n] = Some((r.unwrap().meta.index, Instant::now()));
                    *slot = None;
                }
            }
        }
    };
    // Each future takes its deadline at its first poll, so none is due
    // before `start` + 3 s.
    let start = Instant::now();
    poll_all(&mut futs, &mut done, &mut cx);
    assert!(done.iter().all(Option::is_none), "all pending at first");

    // Change the even jobs.
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for k in (0..100).step_by(2) {
                register(&store, &job(&format!("j{k}"), 2)).unwrap();
            }
        })
    };
    while futs.iter().any(Option::is_some) {
        std::thread::park_timeout(Duration::from_millis(100));
        poll_all(&mut futs, &mut done, &mut cx);
    }
    writer.join().unwrap();
    for (n, d) in done.iter().enumerate() {
        let (index, at) = d.unwrap();
        if (n % 100) % 2 == 0 {
            assert!(index > i, "waiter {n} missed its change");
            assert!(at - start < Duration::from_secs(3), "waiter {n} woke late");
        } else {
            // Job jK was registered at index K + 1 and has not changed since.
            assert_eq!(
                index,
                (n % 100) as u64 + 1,
                "waiter {n} answered another key's change"
            );
            assert!(
                at - start >= Duration::from_secs(3),
                "waiter {n} returned early"
            );
        }
    }
    assert!(flag.1.load(Ordering::SeqCst) > 0);
}
