//! The event stream's costs (issue 15, point 8), printed as a table:
//!
//! - register (manual mode, the seed job, typed: `register/typed_seed` of
//!   benches/store.rs) with the stream off (`event_buffer_size` 0), on with
//!   no subscriber, and on with 1 and 1,000 subscribers, each a thread that
//!   waits for every batch (`EventSubscription::next`) and takes it, and
//!   with 1,000 subscribers that read only after the writes (a
//!   subscription holds a place, not a queue: until it reads, it costs a
//!   write nothing);
//! - throughput: batches per second published by one writer and taken by
//!   every one of 1 and 1,000 subscribers (each subscriber gets every
//!   batch; deliveries are batches × subscribers).
//!
//! Run: `cargo bench -p ordu --bench events` (ORDU_BENCH_N: registers per
//! run, default 20,000). Each figure is the median of 5 runs.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use ordu::events::TopicFilter;
use ordu::structs::{Job, JobRegisterRequest};
use ordu::{Config, SchedulingMode, Store, WriteOptions};

const SEED: &str = include_str!("../../testdata/seed-job.json");

fn seed_job(id: &str) -> Job {
    let mut job: Job = serde_json::from_str(SEED).expect("seed parses");
    job.id = id.to_string();
    job.name = id.to_string();
    job
}

fn store(buffer: usize) -> Arc<Store> {
    Arc::new(Store::new(Config {
        mode: SchedulingMode::Manual,
        event_buffer_size: buffer,
        ..Config::default()
    }))
}

/// Subscriber threads that take every batch until told to stop; `taken`
/// counts batches taken, by all of them.
struct Subscribers {
    stop: Arc<AtomicBool>,
    taken: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Subscribers {
    /// `n` subscribers from the next write on; with `hold`, they wait at
    /// `hold` before reading.
    fn start(store: &Arc<Store>, n: usize, hold: Option<Arc<Barrier>>) -> Subscribers {
        let stop = Arc::new(AtomicBool::new(false));
        let taken = Arc::new(AtomicU64::new(0));
        let ready = Arc::new(Barrier::new(n + 1));
        let threads = (0..n)
            .map(|_| {
                let mut sub = store.subscribe_events(TopicFilter::all(), 0).unwrap();
                let (stop, taken, ready) = (stop.clone(), taken.clone(), ready.clone());
                let hold = hold.clone();
                std::thread::Builder::new()
                    .stack_size(64 << 10)
                    .spawn(move || {
                        ready.wait();
                        if let Some(h) = hold {
                            h.wait();
                        }
                        while !stop.load(Ordering::Relaxed) {
                            let deadline = Instant::now() + Duration::from_millis(50);
                            match sub.next(deadline) {
                                Ok(Some(b)) => {
                                    black_box(&b);
                                    taken.fetch_add(1, Ordering::Relaxed);
                                }
                                Ok(None) => {}
                                Err(e) => panic!("a subscriber fell behind: {e}"),
                            }
                        }
                    })
                    .unwrap()
            })
            .collect();
        ready.wait();
        Subscribers {
            stop,
            taken,
            threads,
        }
    }

    fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
    }
}

/// Registers `n` new jobs; the time per register, and the time until the
/// subscribers took every batch.
fn run(buffer: usize, subscribers: usize, later: bool, n: u64) -> (Duration, Duration) {
    let s = store(buffer);
    let hold = later.then(|| Arc::new(Barrier::new(subscribers + 1)));
    let subs = Subscribers::start(&s, subscribers, hold.clone());
    let w = WriteOptions::default();
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
    let written = start.elapsed();
    if let Some(h) = hold {
        h.wait();
    }
    let want = n * subscribers as u64;
    while subs.taken.load(Ordering::Relaxed) < want {
        std::thread::sleep(Duration::from_micros(200));
    }
    let delivered = start.elapsed();
    subs.finish();
    (written / n as u32, delivered)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it once, small.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n: u64 = std::env::var("ORDU_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 200 } else { 20_000 });
    let runs = if quick { 1 } else { 5 };
    // A buffer that holds a whole run, so that no subscriber can fall
    // behind it while 1,000 threads share two CPUs.
    let buffer = n as usize + 16;
    println!("event stream, {n} registers per run, median of {runs}");
    println!("{:<36} {:>12} {:>16}", "case", "register", "batches/s");
    let mut base = None;
    for (name, buf, subs, later) in [
        ("stream off (event_buffer_size 0)", 0, 0, false),
        ("on, 0 subscribers", buffer, 0, false),
        ("on, 1 subscriber", buffer, 1, false),
        ("on, 1,000 subscribers", buffer, 1000, false),
        ("on, 1,000 reading after the writes", buffer, 1000, true),
    ] {
        let mut per = Vec::new();
        let mut all = Vec::new();
        for _ in 0..runs {
            let (p, d) = run(buf, subs, later, n);
            per.push(p);
            all.push(d);
        }
        let (p, d) = (median(per), median(all));
        let base = *base.get_or_insert(p);
        let rate = if subs > 0 {
            format!("{:.0}", n as f64 / d.as_secs_f64())
        } else {
            "-".into()
        };
        println!(
            "{name:<36} {:>9.2} µs {:>16} ({:+.1}% register)",
            p.as_secs_f64() * 1e6,
            rate,
            (p.as_secs_f64() / base.as_secs_f64() - 1.0) * 100.0
        );
    }
}
