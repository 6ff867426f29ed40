//! Group commit: with a log that batches (`Log::batches`), the writes that
//! arrive while one append is in flight go to the log together, in one
//! `append_batch`; each still gets its own index and its own answer, a
//! refused batch leaves nothing visible, and `apply` decides the conflicts
//! between writes of one batch.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use ordu::log::{Log, LogError};
use ordu::{Command, ErrorKind, Store};
use support::*;

/// A log that commits batches, taking `delay` per commit as a disk's sync
/// does. The batch numbered in `fail` (1-based) is refused; the first one
/// waits for `hold` to be released when it is set.
#[derive(Default)]
struct BatchLog {
    entries: Mutex<Vec<(u64, Command)>>,
    batches: Mutex<Vec<usize>>,
    fail: Mutex<Option<usize>>,
    hold: Mutex<Option<mpsc::Receiver<()>>>,
    holding: AtomicBool,
    /// The batch numbered so panics, as a host's buggy log might.
    panic_at: Mutex<Option<usize>>,
    delay: Duration,
    /// What [`Log::commit_delay`] answers.
    commit_delay: Duration,
}

impl BatchLog {
    fn sizes(&self) -> Vec<usize> {
        self.batches.lock().unwrap().clone()
    }
    fn entries(&self) -> Vec<(u64, Command)> {
        self.entries.lock().unwrap().clone()
    }
    /// Makes the next batch wait until the returned sender sends.
    fn hold_next(&self) -> mpsc::Sender<()> {
        let (tx, rx) = mpsc::channel();
        *self.hold.lock().unwrap() = Some(rx);
        tx
    }
}

impl Log for BatchLog {
    fn append(&self, _: u64, _: &Command) -> Result<u64, LogError> {
        panic!("a batching log is handed batches only")
    }

    fn batches(&self) -> bool {
        true
    }

    fn commit_delay(&self) -> Duration {
        self.commit_delay
    }

    fn append_batch(&self, after: u64, commands: &[&Command]) -> Result<u64, LogError> {
        let hold = self.hold.lock().unwrap().take();
        if let Some(rx) = hold {
            self.holding.store(true, Ordering::SeqCst);
            rx.recv().unwrap();
        }
        std::thread::sleep(self.delay);
        let n = {
            let mut b = self.batches.lock().unwrap();
            b.push(commands.len());
            b.len()
        };
        if *self.panic_at.lock().unwrap() == Some(n) {
            panic!("batch {n}: the log's own bug");
        }
        if *self.fail.lock().unwrap() == Some(n) {
            return Err(LogError(format!("batch {n}: no space left on device")));
        }
        let mut entries = self.entries.lock().unwrap();
        for (i, c) in commands.iter().enumerate() {
            entries.push((after + 1 + i as u64, (*c).clone()));
        }
        Ok(after + 1)
    }
}

fn batching_store(log: &Arc<BatchLog>) -> Arc<Store> {
    Arc::new(manual_store().with_log(log.clone()))
}

/// The log replayed into a fresh store: its snapshot, and how many entries
/// it refused (as the leader did).
fn replayed(entries: &[(u64, Command)]) -> (Vec<u8>, usize) {
    let replica = manual_store();
    let refused = entries
        .iter()
        .filter(|(index, cmd)| replica.apply_committed(*index, cmd.clone()).is_err())
        .count();
    (snapshot(&replica), refused)
}

/// Waits (boundedly) until the log holds a batch.
fn wait_until_holding(log: &BatchLog) {
    for _ in 0..500 {
        if log.holding.load(Ordering::SeqCst) {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("the first batch never reached the log");
}

#[test]
fn writes_that_arrive_together_share_one_append() {
    let log = Arc::new(BatchLog {
        delay: Duration::from_millis(3),
        ..BatchLog::default()
    });
    let store = batching_store(&log);
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                (0..10)
                    .map(|i| {
                        register(&store, &job(&format!("w{w}-{i}"), 1))
                            .unwrap()
                            .index
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut answered: Vec<u64> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    answered.sort_unstable();
    assert_eq!(
        answered,
        (1..=160).collect::<Vec<_>>(),
        "each its own index"
    );

    let sizes = log.sizes();
    assert_eq!(sizes.iter().sum::<usize>(), 160);
    assert!(
        sizes.len() < 80 && sizes.iter().any(|&n| n > 1),
        "160 writes from 16 threads in {} appends: {sizes:?}",
        sizes.len()
    );
    assert_eq!(store.index(), 160);
    assert!(replayed(&log.entries()) == (snapshot(&store), 0));
}

#[test]
fn a_refused_batch_answers_every_write_in_it_and_leaves_nothing() {
    let log = Arc::new(BatchLog::default());
    let store = batching_store(&log);
    register(&store, &job("first", 1)).unwrap();
    let before = snapshot(&store);

    let release = log.hold_next();
    *log.fail.lock().unwrap() = Some(3);
    let blocker = {
        let store = store.clone();
        std::thread::spawn(move || register(&store, &job("second", 1)))
    };
    wait_until_holding(&log);
    let queued: Vec<_> = (0..5)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || register(&store, &job(&format!("q{i}"), 1)))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    release.send(()).unwrap();
    let second = blocker.join().unwrap().unwrap();
    assert_eq!(second.index, 2);
    for q in queued {
        let err = q.join().unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.to_string().contains("no space left"), "{err}");
    }
    assert_eq!(log.sizes(), vec![1, 1, 5], "the five queued as one batch");
    assert_eq!(store.index(), 2);
    for i in 0..5 {
        assert!(store.job(&format!("q{i}"), &now()).is_err());
    }
    // The state is the first write's plus the second's, nothing more.
    let expected = manual_store();
    expected.restore_snapshot(&before).unwrap();
    let (index, cmd) = log.entries()[1].clone();
    expected.apply_committed(index, cmd).unwrap();
    assert!(snapshot(&expected) == snapshot(&store));

    // Writes go on after the refused batch.
    assert_eq!(register(&store, &job("later", 1)).unwrap().index, 3);
}

#[test]
fn of_two_check_and_sets_in_one_batch_the_second_is_refused() {
    let log = Arc::new(BatchLog::default());
    let store = batching_store(&log);
    let web = register(&store, &job("web", 1)).unwrap();
    let modify = store.job("web", &now()).unwrap().value.job_modify_index;
    assert_eq!(modify, web.index);

    let release = log.hold_next();
    let blocker = {
        let store = store.clone();
        std::thread::spawn(move || register(&store, &job("other", 1)))
    };
    wait_until_holding(&log);
    // Both pass the check at the state the batch begins at; apply, after
    // the first, refuses the second.
    let cas: Vec<_> = [2, 3]
        .into_iter()
        .map(|count| {
            let store = store.clone();
            std::thread::spawn(move || register_cas(&store, &job("web", count), modify))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    release.send(()).unwrap();
    blocker.join().unwrap().unwrap();
    let results: Vec<_> = cas.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(log.sizes()[2], 2, "both in one batch: {:?}", log.sizes());
    let won: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    let lost = results.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert_eq!(lost.kind(), ErrorKind::Conflict, "{lost}");

    // Both entries are in the log; every replica refuses the same one.
    assert_eq!(log.entries().len(), 4);
    assert!(replayed(&log.entries()) == (snapshot(&store), 1));
    let count = store.job("web", &now()).unwrap().value.task_groups[0].count;
    assert!(count == 2 || count == 3);
}

#[test]
fn a_batch_whose_writer_panics_answers_the_others_and_the_queue_goes_on() {
    let log = Arc::new(BatchLog::default());
    let store = batching_store(&log);
    register(&store, &job("first", 1)).unwrap();
    let release = log.hold_next();
    *log.panic_at.lock().unwrap() = Some(3);
    let blocker = {
        let store = store.clone();
        std::thread::spawn(move || register(&store, &job("second", 1)))
    };
    wait_until_holding(&log);
    // Each outcome comes back on a channel, so that a write left waiting
    // fails the test in bounded time instead of hanging it.
    let (tx, rx) = mpsc::channel();
    for i in 0..4 {
        let (store, tx) = (store.clone(), tx.clone());
        std::thread::spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                register(&store, &job(&format!("q{i}"), 1))
            }));
            let _ = tx.send(r);
        });
    }
    std::thread::sleep(Duration::from_millis(200));
    release.send(()).unwrap();
    blocker.join().unwrap().unwrap();
    // One of the four led the batch and unwound; the others are answered.
    let outcomes: Vec<_> = (0..4)
        .map(|_| {
            rx.recv_timeout(Duration::from_secs(10))
                .expect("a write of the batch left waiting")
        })
        .collect();
    assert_eq!(outcomes.iter().filter(|o| o.is_err()).count(), 1);
    for o in outcomes.into_iter().flatten() {
        let err = o.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    }
    assert_eq!(store.index(), 2);
    assert_eq!(register(&store, &job("later", 1)).unwrap().index, 3);
}

/// Several scheduler threads plan one group side by side: their plans share
/// the log's appends, and the fit check at apply keeps two plans that chose
/// the same room from overcommitting a node; the one that lost plans again.
#[test]
fn plans_made_side_by_side_share_appends_and_never_overcommit_a_node() {
    let log = Arc::new(BatchLog {
        delay: Duration::from_millis(2),
        ..BatchLog::default()
    });
    let store = Arc::new(
        store_with(ordu::Config {
            mode: ordu::SchedulingMode::Queued,
            scheduler_workers: 4,
            ..ordu::Config::default()
        })
        .with_log(log.clone()),
    );
    // Two nodes of 8192 MB hold 27 allocations of the default 300 MB each.
    add_node(&store, "n1");
    add_node(&store, "n2");
    for j in 0..30 {
        register(&store, &job(&format!("j{j}"), 3)).unwrap();
    }
    let before = log.sizes().len();
    store.process_queued();
    assert!(!store.processing_behind());

    let mut placed = 0;
    for n in ["n1", "n2"] {
        let live = store
            .node_allocations(n, &now())
            .unwrap()
            .value
            .iter()
            .filter(|a| {
                !a.client_terminal() && a.desired_status == ordu::structs::AllocDesiredStatus::Run
            })
            .count();
        assert!(
            live <= 27,
            "{n} holds {live} allocations of 300 MB in 8192 MB"
        );
        placed += live;
    }
    assert!(placed >= 27, "only {placed} of 90 wanted were placed");
    let sizes = log.sizes()[before..].to_vec();
    assert!(
        sizes.iter().any(|&n| n > 1),
        "no two plans shared an append: {sizes:?}"
    );
    // What the threads wrote replays to the same state.
    assert!(replayed(&log.entries()).0 == snapshot(&store));
}

/// A store in queued mode on `log`, with a node that has room.
fn queued_store(log: &Arc<BatchLog>) -> Arc<Store> {
    let store = Arc::new(
        store_with(ordu::Config {
            mode: ordu::SchedulingMode::Queued,
            ..ordu::Config::default()
        })
        .with_log(log.clone()),
    );
    add_node(&store, "n1");
    store
}

/// With a commit delay, the plan of a client's write that would have its
/// commit to itself waits; the client's next write, arriving meanwhile,
/// leads at once and takes the plan along: one commit for both, made as
/// soon as the write came, not when the delay was over.
#[test]
fn a_plan_waits_for_the_next_write_and_shares_its_commit() {
    let delay = Duration::from_secs(3);
    let log = Arc::new(BatchLog {
        commit_delay: delay,
        ..BatchLog::default()
    });
    let store = queued_store(&log);
    register(&store, &job("a", 1)).unwrap();
    let before = log.sizes().len();
    let processing = {
        let store = store.clone();
        std::thread::spawn(move || store.process_queued())
    };
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        log.sizes().len(),
        before,
        "the plan was committed alone before the delay was over"
    );
    let started = std::time::Instant::now();
    register(&store, &job("b", 1)).unwrap();
    assert!(
        started.elapsed() < delay,
        "the write waited for the plan's delay"
    );
    assert_eq!(
        log.sizes()[before..],
        [2],
        "the write and the plan shared one append"
    );
    let placed = store.job_allocations("a", false, &now()).unwrap().value;
    assert_eq!(
        placed.len(),
        1,
        "the plan that waited placed its allocation"
    );
    // The second write's own plan has no company: it goes after the delay.
    processing.join().unwrap();
    assert_eq!(
        store
            .job_allocations("b", false, &now())
            .unwrap()
            .value
            .len(),
        1
    );
    assert!(replayed(&log.entries()).0 == snapshot(&store));
}

/// A plan that no write joins commits alone once the delay is over.
#[test]
fn a_plan_no_write_joins_commits_after_the_delay() {
    let delay = Duration::from_millis(50);
    let log = Arc::new(BatchLog {
        commit_delay: delay,
        ..BatchLog::default()
    });
    let store = queued_store(&log);
    register(&store, &job("a", 1)).unwrap();
    let before = log.sizes().len();
    let started = std::time::Instant::now();
    store.process_queued();
    assert!(started.elapsed() >= delay, "the plan did not wait");
    assert!(!store.processing_behind());
    assert!(log.sizes()[before..].iter().all(|&n| n == 1));
    let placed = store.job_allocations("a", false, &now()).unwrap().value;
    assert_eq!(placed.len(), 1);
}
