//! The store's speed goals (issue 2), on the seed job:
//!
//! - `register/*`: one job register, typed request and JSON body (target
//!   ≤ 20 µs). Manual mode measures the write itself (validate, command,
//!   apply, wake, enqueue); inline mode adds the scheduler run it triggers.
//! - `get/seed_json`: read the seed job and encode it as JSON (≤ 5 µs).
//! - `list/10000_*`: the list stubs of 10,000 jobs (≤ 10 ms), and with JSON.
//! - `wake/one_waiter`: from the start of a write to a blocked reader of
//!   that job returning (≤ 50 µs).
//!
//! Run: `cargo bench -p ordu --bench store -- --warm-up-time 1 --measurement-time 3`
//! (criterion writes each median to `target/criterion/<name>/new/estimates.json`).

use std::hint::black_box;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use ordu::structs::{Job, JobRegisterRequest};
use ordu::{Config, QueryOptions, SchedulingMode, Store, WriteOptions};

const SEED: &str = include_str!("../../testdata/seed-job.json");
const SEED_ID: &str = "binstore-storagelocker";
/// Jobs registered into one store before it is replaced, so that memory
/// stays bounded however many iterations criterion asks for.
const CHUNK: u64 = 2_000;

fn seed_job(id: &str) -> Job {
    let mut job: Job = serde_json::from_str(SEED).expect("seed parses");
    job.id = id.to_string();
    job.name = id.to_string();
    job
}

fn seed_body(id: &str) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_str(SEED).unwrap();
    v["ID"] = id.into();
    v["Name"] = id.into();
    serde_json::to_vec(&serde_json::json!({ "Job": v })).unwrap()
}

fn store(mode: SchedulingMode) -> Store {
    Store::new(Config {
        mode,
        ..Config::default()
    })
}

/// Registers `iters` new jobs, `CHUNK` per store; only the registers are timed.
fn time_registers(iters: u64, mode: SchedulingMode, json: bool) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = CHUNK.min(iters - done);
        let s = store(mode);
        let w = WriteOptions::default();
        if json {
            let bodies: Vec<_> = (0..n).map(|i| seed_body(&format!("job-{i}"))).collect();
            let start = Instant::now();
            for b in &bodies {
                black_box(s.register_job_json(b, &w).unwrap());
            }
            total += start.elapsed();
        } else {
            let reqs: Vec<_> = (0..n)
                .map(|i| JobRegisterRequest {
                    job: Some(seed_job(&format!("job-{i}"))),
                    ..JobRegisterRequest::default()
                })
                .collect();
            let start = Instant::now();
            for r in reqs {
                black_box(s.register_job(r, &w).unwrap());
            }
            total += start.elapsed();
        }
        done += n;
    }
    total
}

fn register(c: &mut Criterion) {
    let mut g = c.benchmark_group("register");
    g.bench_function("typed_seed", |b| {
        b.iter_custom(|n| time_registers(n, SchedulingMode::Manual, false))
    });
    g.bench_function("json_seed", |b| {
        b.iter_custom(|n| time_registers(n, SchedulingMode::Manual, true))
    });
    g.bench_function("typed_seed_inline", |b| {
        b.iter_custom(|n| time_registers(n, SchedulingMode::Inline, false))
    });
    g.finish();
}

fn get(c: &mut Criterion) {
    let s = store(SchedulingMode::Manual);
    s.register_job_json(&seed_body(SEED_ID), &WriteOptions::default())
        .unwrap();
    let q = QueryOptions::default();
    c.bench_function("get/seed_json", |b| {
        b.iter(|| {
            let r = s.job(black_box(SEED_ID), &q).unwrap();
            black_box(serde_json::to_vec(&*r.value).unwrap())
        })
    });
}

fn list(c: &mut Criterion) {
    let s = store(SchedulingMode::Manual);
    for i in 0..10_000 {
        let req = JobRegisterRequest {
            job: Some(seed_job(&format!("job-{i:05}"))),
            ..JobRegisterRequest::default()
        };
        s.register_job(req, &WriteOptions::default()).unwrap();
    }
    let q = QueryOptions::default();
    assert_eq!(s.jobs("", &q).unwrap().value.len(), 10_000);
    let mut g = c.benchmark_group("list");
    g.bench_function("10000_stubs", |b| {
        b.iter(|| black_box(s.jobs("", &q).unwrap()))
    });
    g.bench_function("10000_stubs_json", |b| {
        b.iter(|| {
            let r = s.jobs("", &q).unwrap();
            black_box(serde_json::to_vec(&r.value).unwrap())
        })
    });
    g.finish();
}

/// One reader thread blocks on the seed job; each iteration changes the job
/// and times from the start of the write to the reader having its answer
/// (the reader stamps the time; this thread sleeps meanwhile, so that on a
/// busy 2-core machine it does not keep the reader off a CPU).
fn wake(c: &mut Criterion) {
    let s = Arc::new(store(SchedulingMode::Manual));
    s.register_job_json(&seed_body(SEED_ID), &WriteOptions::default())
        .unwrap();
    let epoch = Instant::now();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let (woke_tx, woke_rx) = mpsc::channel::<Option<Duration>>();
    let reader = {
        let s = s.clone();
        std::thread::spawn(move || {
            let mut index = s.index();
            loop {
                if ready_tx.send(()).is_err() {
                    return;
                }
                let q = QueryOptions::blocking(index, Duration::from_secs(5));
                let r = s.job(SEED_ID, &q).unwrap();
                let at = epoch.elapsed();
                let woke = (r.meta.index > index).then_some(at);
                index = r.meta.index;
                if woke_tx.send(woke).is_err() {
                    return;
                }
            }
        })
    };
    let jobs = [seed_job(SEED_ID), {
        let mut j = seed_job(SEED_ID);
        j.task_groups[0].count = 6;
        j
    }];
    let mut flip = 0;
    let mut change = |s: &Store| {
        flip ^= 1;
        let req = JobRegisterRequest {
            job: Some(jobs[flip].clone()),
            ..JobRegisterRequest::default()
        };
        let start = epoch.elapsed();
        s.register_job(req, &WriteOptions::default()).unwrap();
        start
    };
    c.bench_function("wake/one_waiter", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // Let the reader get back into its wait (not timed).
                ready_rx.recv().unwrap();
                std::thread::sleep(Duration::from_micros(200));
                let start = change(&s);
                let at = woke_rx.recv().unwrap().expect("woken by the change");
                total += at.saturating_sub(start);
            }
            total
        })
    });
    drop(ready_rx);
    drop(woke_rx);
    // One more change releases the reader from its last wait.
    change(&s);
    reader.join().unwrap();
}

/// The floor under `wake/one_waiter` where it runs: a thread blocked on a
/// bare condition variable, notified, stamping the time it runs again.
fn condvar_baseline(c: &mut Criterion) {
    let pair = Arc::new((parking_lot::Mutex::new(0u64), parking_lot::Condvar::new()));
    let epoch = Instant::now();
    let (woke_tx, woke_rx) = mpsc::channel::<Duration>();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let waiter = {
        let pair = pair.clone();
        std::thread::spawn(move || {
            let mut seen = 0;
            loop {
                let mut g = pair.0.lock();
                if ready_tx.send(()).is_err() {
                    return;
                }
                while *g == seen {
                    pair.1.wait(&mut g);
                }
                seen = *g;
                drop(g);
                if woke_tx.send(epoch.elapsed()).is_err() {
                    return;
                }
            }
        })
    };
    c.bench_function("wake/condvar_baseline", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                ready_rx.recv().unwrap();
                std::thread::sleep(Duration::from_micros(200));
                let start = epoch.elapsed();
                *pair.0.lock() += 1;
                pair.1.notify_all();
                total += woke_rx.recv().unwrap().saturating_sub(start);
            }
            total
        })
    });
    drop(ready_rx);
    drop(woke_rx);
    *pair.0.lock() += 1;
    pair.1.notify_all();
    waiter.join().unwrap();
}

criterion_group!(benches, register, get, list, wake, condvar_baseline);
criterion_main!(benches);
