//! The event stream's costs (issue 15, point 8), printed as a table:
//!
//! - register (manual mode, the seed job, typed: `register/typed_seed` of
//!   benches/store.rs) with the stream off (`event_buffer_size` 0), on with
//!   no subscriber, and on with 1 and 1,000 subscribers that wait for every
//!   batch and take it: threads blocked in `EventSubscription::next`, or
//!   tasks awaiting `EventSubscription::next_async` on a tokio runtime of
//!   two workers (as ordu-http serves them); and with 1,000 subscriber
//!   threads that read only after the writes (a subscription holds a
//!   place, not a queue: until it reads, it costs a write nothing);
//! - for each, the register's wall time and the writing thread's own CPU
//!   time (`CLOCK_THREAD_CPUTIME_ID`): on a machine with fewer
//!   CPUs than busy subscribers the wall time also counts the CPU the
//!   subscribers take from the writer, the CPU time only what the write
//!   itself does;
//! - throughput: batches per second published by one writer and taken by
//!   every subscriber (each subscriber gets every batch; deliveries are
//!   batches × subscribers).
//!
//! Run: `cargo bench -p ordu --bench events`. ORDU_BENCH_N: registers per
//! run (default 20,000); ORDU_BENCH_RUNS: runs per case, of which the
//! median is printed (default 5); ORDU_BENCH_CASES: the cases to run, by
//! the names in the first column, comma-separated (default all).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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

/// CPU time of the calling thread so far.
fn thread_cpu() -> Option<Duration> {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to write.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    (r == 0).then(|| Duration::new(t.tv_sec as u64, t.tv_nsec as u32))
}

#[derive(Clone, Copy, PartialEq)]
enum Waiting {
    /// OS threads blocked in `next`.
    Threads,
    /// Tasks awaiting `next_async` on a two-worker tokio runtime.
    Tasks,
}

/// Subscribers that take every batch until told to stop; `taken` counts
/// batches taken, by all of them.
struct Subscribers {
    stop: Arc<AtomicBool>,
    taken: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Subscribers {
    /// `n` subscribers from the next write on; with `hold`, they wait at
    /// `hold` before reading (threads only).
    fn start(
        store: &Arc<Store>,
        n: usize,
        waiting: Waiting,
        hold: Option<Arc<Barrier>>,
    ) -> Subscribers {
        let stop = Arc::new(AtomicBool::new(false));
        let taken = Arc::new(AtomicU64::new(0));
        let mut subs = Subscribers {
            stop: stop.clone(),
            taken: taken.clone(),
            threads: Vec::new(),
            tasks: Vec::new(),
            runtime: None,
        };
        if n == 0 {
            return subs;
        }
        match waiting {
            Waiting::Threads => {
                let ready = Arc::new(Barrier::new(n + 1));
                subs.threads = (0..n)
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
            }
            Waiting::Tasks => {
                assert!(hold.is_none(), "tasks read as they go");
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .build()
                    .unwrap();
                let ready = Arc::new(AtomicUsize::new(0));
                subs.tasks = (0..n)
                    .map(|_| {
                        let mut sub = store.subscribe_events(TopicFilter::all(), 0).unwrap();
                        let (stop, taken, ready) = (stop.clone(), taken.clone(), ready.clone());
                        rt.spawn(async move {
                            ready.fetch_add(1, Ordering::Relaxed);
                            while !stop.load(Ordering::Relaxed) {
                                let deadline = Instant::now() + Duration::from_millis(50);
                                match sub.next_async(deadline).await {
                                    Ok(Some(b)) => {
                                        black_box(&b);
                                        taken.fetch_add(1, Ordering::Relaxed);
                                    }
                                    Ok(None) => {}
                                    Err(e) => panic!("a subscriber fell behind: {e}"),
                                }
                            }
                        })
                    })
                    .collect();
                // Every task polled once, so waiting, before the writes.
                while ready.load(Ordering::Relaxed) < n {
                    std::thread::sleep(Duration::from_millis(1));
                }
                std::thread::sleep(Duration::from_millis(20));
                subs.runtime = Some(rt);
            }
        }
        subs
    }

    fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        if let Some(rt) = self.runtime {
            rt.block_on(async {
                for t in self.tasks {
                    t.await.unwrap();
                }
            });
        }
    }
}

struct Figures {
    /// Wall time per register.
    wall: Duration,
    /// The writing thread's CPU time per register.
    cpu: Option<Duration>,
    /// From the first write until every subscriber took every batch.
    delivered: Duration,
}

/// Registers `n` new jobs with `subscribers` waiting as `waiting`; with
/// `pace`, one every `pace` (a register's time is then the median of
/// each one's, and every subscriber is waiting when it comes).
fn run(
    buffer: usize,
    subscribers: usize,
    waiting: Waiting,
    later: bool,
    pace: Option<Duration>,
    n: u64,
) -> Figures {
    let s = store(buffer);
    let hold = later.then(|| Arc::new(Barrier::new(subscribers + 1)));
    let subs = Subscribers::start(&s, subscribers, waiting, hold.clone());
    let w = WriteOptions::default();
    let reqs: Vec<_> = (0..n)
        .map(|i| JobRegisterRequest {
            job: Some(seed_job(&format!("job-{i}"))),
            ..JobRegisterRequest::default()
        })
        .collect();
    let mut each = Vec::new();
    let mut cpu_each = Vec::new();
    let cpu0 = thread_cpu();
    let start = Instant::now();
    for (i, r) in reqs.into_iter().enumerate() {
        match pace {
            None => {
                black_box(s.register_job(r, &w).unwrap());
            }
            Some(p) => {
                let at = start + p * i as u32;
                while Instant::now() < at {
                    std::thread::sleep(at - Instant::now());
                }
                let (c, t) = (thread_cpu(), Instant::now());
                black_box(s.register_job(r, &w).unwrap());
                each.push(t.elapsed());
                cpu_each.extend(thread_cpu().zip(c).map(|(b, a)| b - a));
            }
        }
    }
    let (written, cpu) = match pace {
        None => (
            start.elapsed() / n as u32,
            thread_cpu().zip(cpu0).map(|(b, a)| (b - a) / n as u32),
        ),
        Some(_) => (
            median(each),
            (cpu_each.len() == n as usize).then(|| median(cpu_each)),
        ),
    };
    if let Some(h) = hold {
        h.wait();
    }
    let want = n * subscribers as u64;
    while subs.taken.load(Ordering::Relaxed) < want {
        std::thread::sleep(Duration::from_micros(200));
    }
    let delivered = start.elapsed();
    subs.finish();
    Figures {
        wall: written,
        cpu,
        delivered,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it once, small.
    let quick = !std::env::args().any(|a| a == "--bench");
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let n = env("ORDU_BENCH_N").unwrap_or(if quick { 200 } else { 20_000 });
    // Paced runs: fewer registers, one every ORDU_BENCH_PACE_US.
    let paced_n = env("ORDU_BENCH_PACED_N").unwrap_or(if quick { 20 } else { 1_000 });
    let pace = Duration::from_micros(env("ORDU_BENCH_PACE_US").unwrap_or(2_000));
    let runs = env("ORDU_BENCH_RUNS").unwrap_or(if quick { 1 } else { 5 }) as usize;
    let only = std::env::var("ORDU_BENCH_CASES").ok();
    // A buffer that holds a whole run, so that no subscriber can fall
    // behind it while 1,000 threads share two CPUs.
    let buffer = n.max(paced_n) as usize + 16;
    println!("event stream, {n} registers per run, median of {runs}");
    println!(
        "{:<8} {:<40} {:>12} {:>14} {:>12}",
        "name", "case", "register", "writer CPU", "batches/s"
    );
    // Each case against the first run of its kind (paced or not).
    let (mut base, mut paced_base) = (None, None);
    let (t, a, p) = (Waiting::Threads, Waiting::Tasks, Some(pace));
    #[rustfmt::skip]
    let cases = [
        ("off", "stream off (event_buffer_size 0)", 0, 0, t, false, None),
        ("on0", "on, 0 subscribers", buffer, 0, t, false, None),
        ("t1", "on, 1 subscriber thread", buffer, 1, t, false, None),
        ("t1000", "on, 1,000 subscriber threads", buffer, 1000, t, false, None),
        ("a1", "on, 1 async subscriber", buffer, 1, a, false, None),
        ("a1000", "on, 1,000 async subscribers", buffer, 1000, a, false, None),
        ("later", "on, 1,000 threads reading after", buffer, 1000, t, true, None),
        ("on0p", "paced: on, 0 subscribers", buffer, 0, t, false, p),
        ("t1p", "paced: 1 subscriber thread", buffer, 1, t, false, p),
        ("t1000p", "paced: 1,000 subscriber threads", buffer, 1000, t, false, p),
        ("a1p", "paced: 1 async subscriber", buffer, 1, a, false, p),
        ("a1000p", "paced: 1,000 async subscribers", buffer, 1000, a, false, p),
    ];
    for (id, name, buf, subs, waiting, later, pace) in cases {
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|c| c == id))
        {
            continue;
        }
        let (mut wall, mut cpu, mut all) = (Vec::new(), Vec::new(), Vec::new());
        let n = if pace.is_some() { paced_n } else { n };
        for _ in 0..runs {
            let f = run(buf, subs, waiting, later, pace, n);
            wall.push(f.wall);
            cpu.extend(f.cpu);
            all.push(f.delivered);
        }
        let (p, d) = (median(wall), median(all));
        let base = *if pace.is_some() {
            &mut paced_base
        } else {
            &mut base
        }
        .get_or_insert(p);
        let cpu = if cpu.len() == runs {
            format!("{:.2} µs", median(cpu).as_secs_f64() * 1e6)
        } else {
            "-".into()
        };
        let rate = if subs > 0 && pace.is_none() {
            format!("{:.0}", n as f64 / d.as_secs_f64())
        } else {
            "-".into()
        };
        println!(
            "{id:<8} {name:<40} {:>9.2} µs {cpu:>14} {rate:>12} ({:+.1}% register)",
            p.as_secs_f64() * 1e6,
            (p.as_secs_f64() / base.as_secs_f64() - 1.0) * 100.0
        );
    }
}
