//! The Rust side of py/bench/bench_get.py: the same get through
//! `ordu::host` (the core read and its JSON, what the Python binding calls),
//! and the wake-up of a blocked reader, measured the same way.
//!
//! `cargo bench -p ordu-py --bench get --no-run`, then run the binary it
//! names. Prints `name median_ns` lines (medians of per-call times over
//! batches) that bench_get.py reads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ordu::host;
use ordu::Store;

const SEED: &str = include_str!("../../testdata/seed-job.json");

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Median per-call nanoseconds of `f` over `batches` batches of `n` calls.
fn per_call(batches: usize, n: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..n {
        f();
    }
    let mut times = Vec::with_capacity(batches);
    for _ in 0..batches {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        times.push(t.elapsed().as_nanos() as f64 / n as f64);
    }
    median(times)
}

fn main() {
    let store = Arc::new(Store::default());
    let body = format!(r#"{{"Job": {SEED}}}"#);
    host::register_job(&store, body.as_bytes(), &host::write_options(None, None)).unwrap();
    let id = "binstore-storagelocker";
    let q = host::query(0, 0, None, None);

    let get = per_call(50, 2000, || {
        let r = host::job(&store, id, &q).unwrap();
        std::hint::black_box(r);
    });
    println!("get_job_json {get:.0}");
    // The same 1,000 other jobs as bench_get.py, in a store of their own,
    // read in turn.
    let many_store = Store::default();
    let seed: serde_json::Value = serde_json::from_str(SEED).unwrap();
    let many: Vec<String> = (0..1000).map(|i| format!("{id}-{i:04}")).collect();
    for other in &many {
        let mut job = seed.clone();
        job["ID"] = other.as_str().into();
        let body = serde_json::json!({ "Job": job }).to_string();
        host::register_job(
            &many_store,
            body.as_bytes(),
            &host::write_options(None, None),
        )
        .unwrap();
    }
    let mut turn = many.iter().cycle();
    let get_many = per_call(50, 2000, || {
        let r = host::job(&many_store, turn.next().unwrap(), &q).unwrap();
        std::hint::black_box(r);
    });
    println!("get_1000_jobs_json {get_many:.0}");
    let list = per_call(50, 2000, || {
        let r = host::jobs(&store, "", &q).unwrap();
        std::hint::black_box(r);
    });
    println!("list_jobs_json {list:.0}");

    // Wake: a reader blocked on the job's evaluations; the writer evaluates
    // the job; from just before the write to the reader's return.
    let mut wakes = Vec::new();
    for _ in 0..200 {
        let index = host::job_evaluations(&store, id, &q).unwrap().index;
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = {
            let store = store.clone();
            std::thread::spawn(move || {
                tx.send(()).unwrap();
                let r = host::job_evaluations(&store, id, &host::query(index, 10_000, None, None))
                    .unwrap();
                assert!(r.index > index);
                Instant::now()
            })
        };
        rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(2)); // let it block
        let t = Instant::now();
        host::evaluate_job(&store, id, &host::write_options(None, None)).unwrap();
        let woke = reader.join().unwrap();
        wakes.push(woke.saturating_duration_since(t).as_nanos() as f64);
    }
    println!("wake_blocked_reader {:.0}", median(wakes));
}
