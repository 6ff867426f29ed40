//! SPEC "Indexes" and "Blocking reads" (index part): per-key indexes (a write
//! to job B neither wakes nor changes the index of a read on job A), indexes
//! never go backwards (also across delete and collection), and a `min_index`
//! above the store's index returns at once (a reset).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ordu::structs::AllocClientUpdate;
use ordu::{Command, Error, Store};
use support::*;

/// The index a read of job `id` answers, found or not.
fn job_index(store: &Store, id: &str) -> u64 {
    match store.job(id, &now()) {
        Ok(q) => q.meta.index,
        Err(Error::NotFound { index, .. }) => index,
        Err(e) => panic!("{e}"),
    }
}

fn indexes(store: &Store, id: &str) -> [u64; 3] {
    [
        job_index(store, id),
        store.job_evaluations(id, &now()).unwrap().meta.index,
        store.job_allocations(id, true, &now()).unwrap().meta.index,
    ]
}

#[test]
fn a_write_to_job_b_does_not_change_the_indexes_of_job_a() {
    let store = manual_store();
    add_node(&store, "n1");
    register(&store, &job("a", 1)).unwrap();
    place(&store, "a", "n1", &[("a0", 0)]);
    register(&store, &job("b", 1)).unwrap();
    let a = indexes(&store, "a");
    let list = store.jobs("", &now()).unwrap().meta.index;

    register(&store, &job("b", 2)).unwrap();
    store.evaluate_job("b", &Default::default()).unwrap();
    place(&store, "b", "n1", &[("b0", 0)]);
    store.deregister_job("b", &Default::default()).unwrap();
    assert_eq!(indexes(&store, "a"), a, "job A's reads did not move");
    assert!(
        store.jobs("", &now()).unwrap().meta.index > list,
        "the list did"
    );
}

#[test]
fn each_read_moves_only_with_what_it_covers() {
    let store = manual_store();
    add_node(&store, "n1");
    register(&store, &job("a", 1)).unwrap();
    let [j0, e0, a0] = indexes(&store, "a");

    // A new evaluation: only the evaluations read moves.
    store.evaluate_job("a", &Default::default()).unwrap();
    let [j1, e1, a1] = indexes(&store, "a");
    assert_eq!((j1, a1), (j0, a0));
    assert!(e1 > e0);

    // A placement: the allocations read moves (and the job, whose status
    // becomes running).
    place(&store, "a", "n1", &[("x", 0)]);
    let [_, e2, a2] = indexes(&store, "a");
    assert_eq!(e2, e1);
    assert!(a2 > a1);

    // A client update moves the allocations read only.
    let [j3, e3, _] = indexes(&store, "a");
    store
        .update_alloc_client(AllocClientUpdate {
            id: "x".into(),
            client_status: "running".into(),
            ..AllocClientUpdate::default()
        })
        .unwrap();
    let [j4, e4, a4] = indexes(&store, "a");
    assert_eq!((j4, e4), (j3, e3));
    assert!(a4 > a2);
}

#[test]
fn indexes_never_go_backwards_across_delete_and_collection() {
    let store = manual_store();
    add_node(&store, "n1");
    let mut seen = Vec::new();
    let mut record = |store: &Store| seen.push(indexes(store, "a"));

    register(&store, &job("a", 1)).unwrap();
    record(&store);
    place(&store, "a", "n1", &[("x", 0)]);
    record(&store);
    register(&store, &job("a", 2)).unwrap();
    record(&store);
    let d = store.deregister_job("a", &Default::default()).unwrap();
    record(&store);
    assert_eq!(
        job_index(&store, "a"),
        d.index,
        "a deleted job reads at its deletion"
    );

    // Collect everything of the job: the reads answer the collection's
    // index, not 0 and not an older one.
    let (evals, allocs) = store.with_state(|s| {
        (
            s.evals_by_job("default", "a")
                .iter()
                .map(|e| e.id.clone())
                .collect(),
            s.allocs_by_job("default", "a")
                .iter()
                .map(|a| a.id.clone())
                .collect(),
        )
    });
    let gc = store
        .apply(Command::GarbageCollect {
            evals,
            allocs,
            jobs: Vec::new(),
        })
        .unwrap();
    record(&store);
    assert_eq!(store.job_evaluations("a", &now()).unwrap().meta.index, gc);
    assert_eq!(
        store.job_allocations("a", true, &now()).unwrap().meta.index,
        gc
    );
    match store.allocation("x", &now()).unwrap_err() {
        Error::NotFound { index, .. } => assert!(index >= gc),
        e => panic!("{e}"),
    }

    register(&store, &job("a", 1)).unwrap();
    record(&store);
    for w in seen.windows(2) {
        for (a, b) in w[0].iter().zip(&w[1]) {
            assert!(b >= a, "index went backwards: {seen:?}");
        }
    }
    assert!(seen.last().unwrap()[0] > d.index);
}

#[test]
fn a_min_index_above_the_store_returns_at_once() {
    let store = manual_store();
    register(&store, &job("a", 1)).unwrap();
    register(&store, &job("a", 2)).unwrap();
    let start = Instant::now();
    let q = store
        .job("a", &after(1_000, Duration::from_secs(30)))
        .unwrap();
    assert_eq!(q.meta.index, 2, "the current index, lower than asked");
    let l = store
        .jobs("", &after(1_000, Duration::from_secs(30)))
        .unwrap();
    assert_eq!(l.meta.index, 2);
    let e = store.job("zz", &after(1_000, Duration::from_secs(30)));
    assert!(matches!(e, Err(Error::NotFound { .. })));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "no wait for a reset"
    );
}

#[test]
fn min_index_0_never_blocks() {
    let store = manual_store();
    let start = Instant::now();
    let q = store.jobs("", &after(0, Duration::from_secs(30))).unwrap();
    assert_eq!(q.meta.index, 0);
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_blocked_read_on_job_a_is_not_woken_by_job_b() {
    let store = Arc::new(manual_store());
    register(&store, &job("a", 1)).unwrap();
    register(&store, &job("b", 1)).unwrap();
    let ia = job_index(&store, "a");
    let reader = {
        let store = store.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            let q = store
                .job("a", &after(ia, Duration::from_millis(400)))
                .unwrap();
            (q.meta.index, start.elapsed())
        })
    };
    for n in 2..20 {
        register(&store, &job("b", n)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    let (index, waited) = reader.join().unwrap();
    assert_eq!(index, ia);
    assert!(
        waited >= Duration::from_millis(400),
        "returned early: {waited:?}"
    );
}
