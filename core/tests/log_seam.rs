//! The log seam (`ordu::log`): a write reaches the host's log before it
//! applies, applies at the index the log gives, and a refused append leaves
//! nothing visible. Replaying the log rebuilds the same state.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use ordu::log::{Log, LogError};
use ordu::{Command, ErrorKind, Store};
use support::*;

/// A test log: keeps every entry; fails the appends whose 1-based number is
/// in `fail`; steps indexes by `step` (a Raft log has entries of its own
/// between ordu's).
#[derive(Default)]
struct TestLog {
    entries: Mutex<Vec<(u64, Command)>>,
    fail: Mutex<Vec<u64>>,
    appends: AtomicU64,
    step: u64,
}

impl TestLog {
    fn stepping(step: u64) -> Arc<TestLog> {
        Arc::new(TestLog {
            step,
            ..TestLog::default()
        })
    }
    fn entries(&self) -> Vec<(u64, Command)> {
        self.entries.lock().unwrap().clone()
    }
    fn fail_next(&self) {
        let n = self.appends.load(Ordering::SeqCst) + 1;
        self.fail.lock().unwrap().push(n);
    }
}

impl Log for TestLog {
    fn append(&self, after: u64, command: &Command) -> Result<u64, LogError> {
        let n = self.appends.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail.lock().unwrap().contains(&n) {
            return Err(LogError(format!(
                "append {n} failed: no space left on device"
            )));
        }
        let index = after + self.step.max(1);
        self.entries.lock().unwrap().push((index, command.clone()));
        Ok(index)
    }
}

fn logged_store(log: &Arc<TestLog>) -> Store {
    manual_store().with_log(log.clone())
}

#[test]
fn a_refused_append_changes_nothing_and_wakes_nobody() {
    let log = TestLog::stepping(1);
    let store = Arc::new(logged_store(&log));
    register(&store, &job("web", 1)).unwrap();
    let index = store.index();
    let before = snapshot(&store);

    // A reader blocked on the job list must not see the refused write.
    let (tx, rx) = mpsc::channel();
    let reader = {
        let store = store.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            let got = store
                .jobs("", &after(index, Duration::from_millis(400)))
                .unwrap();
            tx.send((got.meta.index, got.value.len(), start.elapsed()))
                .unwrap();
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    log.fail_next();
    let err = register(&store, &job("api", 1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.to_string().contains("no space left on device"), "{err}");
    assert_eq!(err.http_status(false), 500);

    assert_eq!(store.index(), index);
    assert!(
        snapshot(&store) == before,
        "a refused append changed the state"
    );
    assert_eq!(
        log.entries().len(),
        1,
        "the refused entry is not in the log"
    );
    let (seen, jobs, waited) = rx.recv().unwrap();
    reader.join().unwrap();
    assert_eq!(
        (seen, jobs),
        (index, 1),
        "the blocked reader saw the refused write"
    );
    assert!(
        waited >= Duration::from_millis(390),
        "woken early, after {waited:?}"
    );
    assert!(store.job("api", &now()).is_err());

    // The next write goes on, at the next index.
    let reply = register(&store, &job("api", 1)).unwrap();
    assert_eq!(reply.index, index + 1);
}

#[test]
fn writes_apply_at_the_index_the_log_gives_even_with_gaps() {
    let log = TestLog::stepping(10);
    let store = logged_store(&log);
    let a = register(&store, &job("web", 1)).unwrap();
    assert_eq!(a.index, 10);
    let b = register(&store, &job("api", 1)).unwrap();
    assert_eq!(b.index, 20);
    let got = store.job("web", &now()).unwrap();
    assert_eq!((got.meta.index, got.value.job_modify_index), (10, 10));
    assert_eq!(store.jobs("", &now()).unwrap().meta.index, 20);
    let indexes: Vec<u64> = log.entries().iter().map(|(i, _)| *i).collect();
    assert_eq!(indexes, vec![10, 20]);
}

#[test]
fn a_log_that_goes_back_refuses_the_write() {
    struct Backwards;
    impl Log for Backwards {
        fn append(&self, after: u64, _: &Command) -> Result<u64, LogError> {
            Ok(after)
        }
    }
    let store = manual_store().with_log(Backwards);
    let err = register(&store, &job("web", 1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.to_string().contains("not after"), "{err}");
    assert_eq!(store.index(), 0);
    assert!(store.job("web", &now()).is_err());
}

#[test]
fn a_refused_check_and_set_never_reaches_the_log() {
    let log = TestLog::stepping(1);
    let store = logged_store(&log);
    let first = register(&store, &job("web", 1)).unwrap();
    let err = register_cas(&store, &job("web", 2), first.index + 7).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(log.entries().len(), 1);
    register_cas(&store, &job("web", 2), first.index).unwrap();
    assert_eq!(log.entries().len(), 2);
}

#[test]
fn reads_go_on_while_the_log_works() {
    // A log that holds each append until told to go on (an fsync, a Raft
    // round trip).
    struct Slow {
        entered: mpsc::SyncSender<()>,
        go: Mutex<mpsc::Receiver<()>>,
        hold: AtomicBool,
    }
    impl Log for Slow {
        fn append(&self, after: u64, _: &Command) -> Result<u64, LogError> {
            if self.hold.load(Ordering::SeqCst) {
                self.entered.send(()).unwrap();
                self.go.lock().unwrap().recv().unwrap();
            }
            Ok(after + 1)
        }
    }
    let (entered, entered_rx) = mpsc::sync_channel(1);
    let (go_tx, go) = mpsc::channel();
    let slow = Arc::new(Slow {
        entered,
        go: Mutex::new(go),
        hold: AtomicBool::new(false),
    });
    let store = Arc::new(manual_store().with_log(slow.clone()));
    register(&store, &job("web", 1)).unwrap();
    slow.hold.store(true, Ordering::SeqCst);

    let writer = {
        let store = store.clone();
        std::thread::spawn(move || register(&store, &job("api", 1)).map(|r| r.index))
    };
    entered_rx.recv().unwrap();
    // The write is in the log's hands: reads answer, without it.
    let (tx, rx) = mpsc::channel();
    {
        let store = store.clone();
        std::thread::spawn(move || {
            let jobs = store.jobs("", &now()).unwrap();
            tx.send(jobs.value.len()).unwrap();
        });
    }
    let seen = rx.recv_timeout(Duration::from_secs(5));
    go_tx.send(()).unwrap();
    assert_eq!(seen, Ok(1), "a read waited for the log");
    assert_eq!(writer.join().unwrap().unwrap(), 2);
    assert_eq!(store.jobs("", &now()).unwrap().value.len(), 2);
}

/// A few writes of every family, through `log`.
fn workload(store: &Store) {
    store
        .register_node_json(node("n1").to_string().as_bytes())
        .unwrap();
    register(store, &job("web", 2)).unwrap();
    register(store, &job("api", 1)).unwrap();
    store.process_ready();
    register(store, &job("web", 3)).unwrap();
    store.process_ready();
    store
        .deregister_job("api", &ordu::WriteOptions::default())
        .unwrap();
    store.process_ready();
}

#[test]
fn replaying_the_log_rebuilds_the_same_state_at_every_entry() {
    let log = TestLog::stepping(3);
    let store = logged_store(&log);
    workload(&store);
    let entries = log.entries();
    assert!(entries.len() >= 8, "{} entries", entries.len());

    let replica = manual_store();
    let mut snapshots = Vec::new();
    for (index, cmd) in &entries {
        replica.apply_committed(*index, cmd.clone()).unwrap();
        snapshots.push(snapshot(&replica));
    }
    assert!(snapshot(&replica) == snapshot(&store), "the replay differs");
    assert_eq!(replica.index(), store.index());

    // Replaying up to any entry gives the same bytes again; a snapshot at
    // entry k plus the log's tail gives the original.
    for k in 0..entries.len() {
        let again = manual_store();
        for (index, cmd) in &entries[..=k] {
            again.apply_committed(*index, cmd.clone()).unwrap();
        }
        assert!(
            snapshot(&again) == snapshots[k],
            "replay to entry {k} differs"
        );

        let restored = manual_store();
        restored.restore(ordu::State::restore(&snapshots[k]).unwrap());
        for (index, cmd) in &entries[k + 1..] {
            restored.apply_committed(*index, cmd.clone()).unwrap();
        }
        assert!(
            snapshot(&restored) == snapshot(&store),
            "snapshot at entry {k} plus the tail differs"
        );
    }
}

#[test]
fn a_committed_entry_below_the_last_is_refused() {
    let store = manual_store();
    register(&store, &job("web", 1)).unwrap();
    let cmd = Command::NodeDeregister {
        node_id: "n1".into(),
        evals: Vec::new(),
    };
    let err = store.apply_committed(1, cmd).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(store.index(), 1);
}
