//! A log that applies its own entries (`Log::applies`), as a Raft state
//! machine does: one thread applies what the log commits, in the log's
//! order, through `Store::apply_committed_outcome`, and a write is answered
//! with the outcome of its own entry.

mod support;

use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use ordu::log::{Log, LogError};
use ordu::state::Applied;
use ordu::{Command, Config, ErrorKind, SchedulingMode, Store};
use support::*;

type Reply = mpsc::Sender<ordu::Result<Applied>>;
/// The entries the log committed, with their indexes.
type Committed = Arc<Mutex<Vec<(u64, Command)>>>;

/// Commits entries in arrival order and hands them to one applier thread,
/// which applies each to the store and answers the write that proposed it.
struct AppliedLog {
    tx: Mutex<mpsc::Sender<(Command, Reply)>>,
    committed: Committed,
}

impl AppliedLog {
    fn start(store: Arc<OnceLock<Weak<Store>>>) -> AppliedLog {
        let (tx, rx) = mpsc::channel::<(Command, Reply)>();
        let committed = Arc::new(Mutex::new(Vec::new()));
        let log = committed.clone();
        std::thread::spawn(move || {
            // Indexes skip, as a Raft log's do (entries that are not ordu's).
            let mut index = 0;
            for (cmd, reply) in rx {
                index += 2;
                log.lock().unwrap().push((index, cmd.clone()));
                let Some(store) = store.get().and_then(Weak::upgrade) else {
                    return;
                };
                let _ = reply.send(store.apply_committed_outcome(index, cmd));
            }
        });
        AppliedLog {
            tx: Mutex::new(tx),
            committed,
        }
    }
}

impl Log for AppliedLog {
    fn append(&self, _: u64, _: &Command) -> Result<u64, LogError> {
        panic!("a log that applies is handed writes through append_applied")
    }

    fn applies(&self) -> bool {
        true
    }

    fn append_applied(&self, command: &Command) -> Result<ordu::Result<Applied>, LogError> {
        let (reply, answer) = mpsc::channel();
        self.tx
            .lock()
            .unwrap()
            .send((command.clone(), reply))
            .map_err(|_| LogError("the log stopped".into()))?;
        answer
            .recv()
            .map_err(|_| LogError("the log stopped before applying".into()))
    }
}

fn cluster_store(mode: SchedulingMode) -> (Arc<Store>, Committed) {
    let slot = Arc::new(OnceLock::new());
    let log = AppliedLog::start(slot.clone());
    let committed = log.committed.clone();
    let store = Arc::new(
        store_with(Config {
            mode,
            scheduler_workers: 4,
            ..Config::default()
        })
        .with_log(log),
    );
    slot.set(Arc::downgrade(&store)).unwrap();
    (store, committed)
}

#[test]
fn writes_from_many_threads_apply_once_each_in_the_logs_order() {
    let (store, committed) = cluster_store(SchedulingMode::Queued);
    add_node(&store, "n1");
    add_node(&store, "n2");
    // 40 allocations of 300 MB fit the two nodes' 2 x 8192 MB.
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                (0..5)
                    .map(|i| {
                        register(&store, &job(&format!("w{w}-{i}"), 2))
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
    answered.dedup();
    assert_eq!(answered.len(), 20, "each write its own index");
    store.process_queued();
    let placed: usize = store
        .jobs("", &now())
        .unwrap()
        .value
        .iter()
        .map(|j| {
            store
                .job_allocations(&j.id, false, &now())
                .unwrap()
                .value
                .len()
        })
        .sum();
    assert_eq!(placed, 40, "every job placed, once");

    // A replica fed the same entries in order holds the same state.
    let replica = manual_store();
    for (index, cmd) in committed.lock().unwrap().iter() {
        let _ = replica.apply_committed(*index, cmd.clone());
    }
    assert!(snapshot(&replica) == snapshot(&store));
}

#[test]
fn a_check_and_set_that_lost_at_apply_is_answered_as_a_conflict() {
    let (store, _) = cluster_store(SchedulingMode::Manual);
    let first = register(&store, &job("web", 1)).unwrap();
    let modify = first.job_modify_index;
    let racers: Vec<_> = (0..4)
        .map(|n| {
            let store = store.clone();
            std::thread::spawn(move || register_cas(&store, &job("web", 2 + n), modify))
        })
        .collect();
    let outcomes: Vec<_> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    let won = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(won, 1, "{outcomes:?}");
    for o in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert_eq!(o.kind(), ErrorKind::Conflict, "{o}");
    }
}

#[test]
fn a_follower_refuses_writes_and_a_stopped_log_refuses_them_too() {
    let (store, _) = cluster_store(SchedulingMode::Manual);
    store.set_leader(false);
    let err = register(&store, &job("web", 1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(store.job("web", &now()).is_err());
}
