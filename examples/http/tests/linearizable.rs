//! The history check of a three-server cluster: clients register, read and
//! check-and-set a few jobs through random servers while the leader is
//! killed and restarted and a leader is paused past the election timeout.
//! Every operation is recorded with its span (invoked, returned) and its
//! answer, and stateright's `LinearizabilityTester` decides, job by job,
//! whether one order of the operations, each taking effect at one instant
//! of its span, explains every answer. Linearizability is local, so the
//! jobs are checked apart.

mod common;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stateright::semantics::{ConsistencyTester, LinearizabilityTester, SequentialSpec};

use common::cluster::Cluster;
use common::request_on;

/// Client threads, each sending one operation at a time.
const CLIENTS: u64 = 6;
/// Jobs the clients contend on at a time.
const JOBS: u64 = 2;
/// Operations on one set of jobs before the clients move to new ones: a
/// job's history stays short enough for the tester's search, which tries
/// orders one by one, to decide it quickly, even when it is not
/// linearizable.
const OPS_PER_ROUND: u64 = 40;
/// How long the checker may take before the test gives up: a search takes
/// a few seconds here, but once took over 30 s with the machine loaded.
const CHECK_WITHIN: Duration = Duration::from_secs(90);

/// One job seen as a register: the value its last register wrote (a
/// `Meta` entry unique to that write) and its `JobModifyIndex`. Raft picks
/// the indexes, so the spec does not predict them: a write takes any index
/// above every one the job had.
#[derive(Clone, Debug, Default, PartialEq)]
struct JobSpec {
    /// The value and its index; the index is unknown after a write whose
    /// answer was lost, until a read or a check-and-set tells it.
    job: Option<(u64, Option<u64>)>,
    /// The highest `JobModifyIndex` the job is known to have had.
    floor: u64,
}

#[derive(Clone, Debug, PartialEq)]
enum Op {
    /// `PUT /v1/jobs` with this value.
    Register(u64),
    /// `GET /v1/job/<id>`.
    Get,
    /// `PUT /v1/jobs` with `EnforceIndex` and `JobModifyIndex: expect`.
    Cas { value: u64, expect: u64 },
}

#[derive(Clone, Debug, PartialEq)]
enum Ret {
    /// A register's `JobModifyIndex`.
    Registered(u64),
    /// The value and `JobModifyIndex` read; `None` for 404.
    Got(Option<(u64, u64)>),
    /// A check-and-set taken, with its `JobModifyIndex`.
    Set(u64),
    /// A check-and-set refused, with what the refusal says of the job.
    Refused(Refusal),
    /// What the spec answers for an operation left in flight (the tester
    /// does not compare it).
    Unknown,
}

/// The three texts of a check-and-set conflict (docs/http-api.md).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Refusal {
    /// `job does not exist`.
    Absent,
    /// `job already exists` (the check-and-set sent 0).
    Exists,
    /// `job exists with conflicting job modify index: N`.
    At(u64),
}

impl JobSpec {
    /// Whether the job exists with index `index`; an unknown index above
    /// the floor may be it, and is then known.
    fn index_is(&mut self, index: u64) -> bool {
        let floor = self.floor;
        match &mut self.job {
            Some((_, Some(i))) => *i == index,
            Some((_, unknown @ None)) if index > floor => {
                *unknown = Some(index);
                self.floor = index;
                true
            }
            _ => false,
        }
    }

    /// Whether a check-and-set sending `expect` matches.
    fn matches(&mut self, expect: u64) -> bool {
        match self.job {
            None => expect == 0,
            Some(_) => expect != 0 && self.index_is(expect),
        }
    }

    /// A write of `value` answered with `index`, which must be above every
    /// index the job had.
    fn wrote(&mut self, value: u64, index: u64) -> bool {
        if index <= self.floor {
            return false;
        }
        self.job = Some((value, Some(index)));
        self.floor = index;
        true
    }
}

impl SequentialSpec for JobSpec {
    type Op = Op;
    type Ret = Ret;

    /// Only for operations left in flight, which may have taken effect: a
    /// write whose index nobody saw. (A check-and-set that would not match
    /// changes nothing, the same as not taking it into the order at all.)
    fn invoke(&mut self, op: &Op) -> Ret {
        match *op {
            Op::Register(value) => self.job = Some((value, None)),
            Op::Cas { value, expect } => {
                if self.matches(expect) {
                    self.job = Some((value, None));
                }
            }
            Op::Get => {}
        }
        Ret::Unknown
    }

    fn is_valid_step(&mut self, op: &Op, ret: &Ret) -> bool {
        match (op, ret) {
            (Op::Register(value), Ret::Registered(index)) => self.wrote(*value, *index),
            (Op::Get, Ret::Got(None)) => self.job.is_none(),
            (Op::Get, Ret::Got(Some((value, index)))) => {
                matches!(self.job, Some((v, _)) if v == *value) && self.index_is(*index)
            }
            (Op::Cas { value, expect }, Ret::Set(index)) => {
                self.matches(*expect) && self.wrote(*value, *index)
            }
            (Op::Cas { expect, .. }, Ret::Refused(r)) => match *r {
                Refusal::Absent => self.job.is_none() && *expect != 0,
                Refusal::Exists => self.job.is_some() && *expect == 0,
                Refusal::At(index) => *expect != 0 && index != *expect && self.index_is(index),
            },
            _ => false,
        }
    }
}

/// One operation as a client saw it. `invoked` and `returned` come from
/// one counter shared by every client, taken before the request is sent
/// and after its answer is read: their order is real time's.
#[derive(Clone, Debug)]
struct Record {
    /// The tester's thread: a client's, renewed after each operation left
    /// in flight (one thread has at most one).
    thread: u64,
    job: String,
    op: Op,
    invoked: u64,
    /// `None`: in flight for ever (no answer, or one that does not say
    /// whether the write was made).
    returned: Option<(u64, Ret)>,
    /// The member sent to, and the milliseconds since the start at which
    /// the request was sent and answered, for the report.
    server: usize,
    span_ms: (u128, u128),
}

/// What the clients share.
struct Run {
    apis: Vec<SocketAddr>,
    start: Instant,
    clock: AtomicU64,
    values: AtomicU64,
    ops: AtomicU64,
    stop: AtomicBool,
    records: Mutex<Vec<Record>>,
    /// How many operations had no effect and no answer worth recording: a
    /// request never sent (connect refused), a write refused before the
    /// log, a read not answered.
    dropped: AtomicU64,
    /// Error answers to writes, by text.
    errors: Mutex<BTreeMap<String, u64>>,
}

/// A small random generator (xorshift64*), enough to pick servers, jobs and
/// operations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }

    fn millis(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + self.below(to - from + 1))
    }
}

/// Why a request has no answer.
enum Unanswered {
    /// It was never sent: it did nothing.
    NotSent,
    /// Sent, and then the connection failed or timed out.
    Lost,
}

fn call(
    api: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    wait: Duration,
) -> Result<(u16, String), Unanswered> {
    let mut s = TcpStream::connect_timeout(&api, Duration::from_secs(1))
        .map_err(|_| Unanswered::NotSent)?;
    s.set_read_timeout(Some(wait))
        .map_err(|_| Unanswered::NotSent)?;
    s.set_write_timeout(Some(wait))
        .map_err(|_| Unanswered::NotSent)?;
    request_on(&mut s, method, path, body).ok_or(Unanswered::Lost)
}

fn register_body(id: &str, value: u64, expect: Option<u64>) -> String {
    let cas = expect.map_or(String::new(), |i| {
        format!(r#","EnforceIndex":true,"JobModifyIndex":{i}"#)
    });
    format!(
        r#"{{"Job":{{"ID":"{id}","Datacenters":["dc1"],"Meta":{{"v":"{value}"}},"TaskGroups":[{{"Name":"g","Count":0,"Tasks":[{{"Name":"t","Driver":"exec"}}]}}]}}{cas}}}"#
    )
}

fn modify_index(body: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v["JobModifyIndex"].as_u64()
}

/// A job read: its value and `JobModifyIndex`.
fn read_job(body: &str) -> Option<(u64, u64)> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let value = v["Meta"]["v"].as_str()?.parse().ok()?;
    Some((value, v["JobModifyIndex"].as_u64()?))
}

/// The refusal a check-and-set conflict's text states, if it is one.
fn refusal(body: &str) -> Option<Refusal> {
    if !body.starts_with("Enforcing job modify index") {
        return None;
    }
    if body.ends_with("job does not exist") {
        Some(Refusal::Absent)
    } else if body.ends_with("job already exists") {
        Some(Refusal::Exists)
    } else {
        let (_, n) = body.rsplit_once("conflicting job modify index: ")?;
        Some(Refusal::At(n.trim().parse().ok()?))
    }
}

/// Whether an error answering a write says the write never reached Raft's
/// log: no leader known where it was sent (`cluster::no_leader`), a
/// leader a follower could not connect to (`cluster::forward`), the store
/// or Raft refusing it as not the leader (Raft also answers so for entries
/// it truncated, which no leader can commit), or a server still starting.
fn refused_before_the_log(body: &str) -> bool {
    let unreached = body.starts_with("No cluster leader: the leader at ")
        && body.ends_with(" did not answer: client error (Connect)");
    unreached
        || [
            "No cluster leader",
            "write not committed: this server is not the leader",
            "write not committed: No cluster leader: this server is not the leader",
            "write not committed: the cluster is starting",
        ]
        .contains(&body)
}

/// How an operation ended.
enum Outcome {
    Answered(Ret),
    /// May or may not have taken effect.
    InFlight,
    /// Took no effect and says nothing.
    Nothing,
}

impl Run {
    fn now(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst)
    }

    /// Counts an error answer to a write by its text (digits left out).
    fn tally(&self, body: &str) {
        let text: String = body
            .chars()
            .filter(|c| !c.is_ascii_digit())
            .take(90)
            .collect();
        *self.errors.lock().unwrap().entry(text).or_default() += 1;
    }

    fn ms(&self) -> u128 {
        self.start.elapsed().as_millis()
    }

    /// Sends `op` on `job` to member `server`, waiting at most `wait`, and
    /// records it unless it did nothing; whether it is left in flight.
    fn perform(&self, thread: u64, job: &str, op: Op, server: usize, wait: Duration) -> Outcome {
        let api = self.apis[server];
        let (from, invoked) = (self.ms(), self.now());
        let outcome = match op {
            Op::Get => match call(api, "GET", &format!("/v1/job/{job}"), "", wait) {
                Ok((200, body)) => match read_job(&body) {
                    Some(got) => Outcome::Answered(Ret::Got(Some(got))),
                    None => panic!("a job read that does not parse: {body}"),
                },
                Ok((404, _)) => Outcome::Answered(Ret::Got(None)),
                _ => Outcome::Nothing,
            },
            Op::Register(value) | Op::Cas { value, .. } => {
                let expect = match op {
                    Op::Cas { expect, .. } => Some(expect),
                    _ => None,
                };
                let body = register_body(job, value, expect);
                match call(api, "PUT", "/v1/jobs", &body, wait) {
                    Ok((200, body)) => {
                        let index = modify_index(&body).unwrap_or_else(|| {
                            panic!("a register answer without an index: {body}")
                        });
                        Outcome::Answered(match expect {
                            Some(_) => Ret::Set(index),
                            None => Ret::Registered(index),
                        })
                    }
                    Ok((500, body)) if expect.is_some() && refusal(&body).is_some() => {
                        Outcome::Answered(Ret::Refused(refusal(&body).unwrap()))
                    }
                    Ok((_, body)) if refused_before_the_log(&body) => {
                        self.tally(&body);
                        Outcome::Nothing
                    }
                    // Any other error ("not committed", a leader that
                    // did not answer a forward): the write may be in the
                    // log, and so may it be after a timeout or a closed
                    // connection.
                    Ok((_, body)) => {
                        self.tally(&body);
                        Outcome::InFlight
                    }
                    Err(Unanswered::Lost) => Outcome::InFlight,
                    Err(Unanswered::NotSent) => Outcome::Nothing,
                }
            }
        };
        let returned = match &outcome {
            Outcome::Answered(ret) => Some((self.now(), ret.clone())),
            Outcome::InFlight => None,
            Outcome::Nothing => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return outcome;
            }
        };
        self.records.lock().unwrap().push(Record {
            thread,
            job: job.to_string(),
            op,
            invoked,
            returned,
            server,
            span_ms: (from, self.ms()),
        });
        outcome
    }

    /// One client: operations on the current round's jobs, each sent to a
    /// random member, until told to stop.
    fn client(&self, c: u64, seed: u64) {
        let mut rng = Rng::new(seed);
        let mut thread = c << 32;
        // The last index this client saw of each job, for its check-and-sets.
        let mut seen: BTreeMap<String, u64> = BTreeMap::new();
        while !self.stop.load(Ordering::SeqCst) {
            let n = self.ops.fetch_add(1, Ordering::SeqCst);
            let job = format!("lin-{}-{}", n / OPS_PER_ROUND, rng.below(JOBS));
            let value = self.values.fetch_add(1, Ordering::SeqCst);
            let op = match rng.below(10) {
                0..=3 => Op::Get,
                4..=6 => Op::Register(value),
                _ => Op::Cas {
                    value,
                    expect: seen.get(&job).copied().unwrap_or(0),
                },
            };
            let server = rng.below(self.apis.len() as u64) as usize;
            // Under a paused leader, writes give up after about an election
            // (left in flight) and reads half the time sooner, and go on
            // elsewhere: some clients write through the new leader while
            // others wait on the paused one, for what it answers once it
            // resumes.
            let wait = match op {
                Op::Get if rng.below(2) == 0 => Duration::from_millis(300),
                Op::Get => Duration::from_secs(5),
                _ => Duration::from_millis(1200),
            };
            match self.perform(thread, &job, op, server, wait) {
                Outcome::Answered(Ret::Registered(i) | Ret::Set(i) | Ret::Got(Some((_, i)))) => {
                    seen.insert(job, i);
                }
                Outcome::Answered(Ret::Refused(Refusal::At(i))) => {
                    seen.insert(job, i);
                }
                Outcome::Answered(Ret::Got(None) | Ret::Refused(Refusal::Absent)) => {
                    seen.insert(job, 0);
                }
                Outcome::Answered(_) => {}
                // No leader, or none reachable: wait a little for one.
                Outcome::Nothing => std::thread::sleep(rng.millis(20, 80)),
                Outcome::InFlight => {
                    thread += 1;
                    std::thread::sleep(rng.millis(20, 80));
                }
            }
        }
    }
}

/// What the history holds, by kind of operation and outcome.
#[derive(Debug, Default)]
struct Counts {
    registered: usize,
    register_in_flight: usize,
    reads_found: usize,
    reads_absent: usize,
    cas_set: usize,
    cas_refused: usize,
    cas_in_flight: usize,
}

fn counts(records: &[Record]) -> Counts {
    let mut n = Counts::default();
    for r in records {
        match (&r.op, r.returned.as_ref().map(|(_, ret)| ret)) {
            (Op::Register(_), Some(_)) => n.registered += 1,
            (Op::Register(_), None) => n.register_in_flight += 1,
            (Op::Get, Some(Ret::Got(Some(_)))) => n.reads_found += 1,
            (Op::Get, _) => n.reads_absent += 1,
            (Op::Cas { .. }, Some(Ret::Set(_))) => n.cas_set += 1,
            (Op::Cas { .. }, Some(_)) => n.cas_refused += 1,
            (Op::Cas { .. }, None) => n.cas_in_flight += 1,
        }
    }
    n
}

/// A tester holding one job's history, its events fed in the order of the
/// shared counter.
///
/// The tester tries the threads' next operations in the order of their
/// IDs, and has no memory of the states it tried: an operation left in
/// flight, which it may take into the order at any point after its
/// invocation or leave out, multiplies the orders it tries. The threads
/// are numbered again so that those ending in flight come last: the
/// answered operations are tried first, and an operation in flight only
/// when the answers need it.
fn tester(records: &[&Record]) -> LinearizabilityTester<u64, JobSpec> {
    let mut last: BTreeMap<u64, bool> = BTreeMap::new();
    let mut in_order = records.to_vec();
    in_order.sort_by_key(|r| r.invoked);
    for r in &in_order {
        last.insert(r.thread, r.returned.is_none());
    }
    let mut threads: Vec<(bool, u64)> = last.into_iter().map(|(t, f)| (f, t)).collect();
    threads.sort();
    let id: BTreeMap<u64, u64> = threads
        .iter()
        .enumerate()
        .map(|(k, (_, t))| (*t, k as u64))
        .collect();
    let mut events: Vec<(u64, usize, bool)> = Vec::new();
    for (k, r) in records.iter().enumerate() {
        events.push((r.invoked, k, true));
        if let Some((at, _)) = r.returned {
            events.push((at, k, false));
        }
    }
    events.sort();
    let mut t = LinearizabilityTester::new(JobSpec::default());
    for (_, k, invoke) in events {
        let r = records[k];
        if invoke {
            t.on_invoke(id[&r.thread], r.op.clone()).unwrap();
        } else {
            t.on_return(id[&r.thread], r.returned.clone().unwrap().1)
                .unwrap();
        }
    }
    t
}

/// One job's history, as a person reads it.
fn show(records: &[&Record]) -> String {
    let mut rs = records.to_vec();
    rs.sort_by_key(|r| r.invoked);
    rs.iter()
        .map(|r| {
            let ret = match &r.returned {
                Some((_, ret)) => format!("{ret:?}"),
                None => "(in flight)".into(),
            };
            format!(
                "  {:>6}..{:<6} ms  {}  thread {:#x}  server {}  {:?} -> {ret}\n",
                r.span_ms.0,
                r.span_ms.1,
                r.job,
                r.thread,
                r.server + 1,
                r.op
            )
        })
        .collect()
}

/// How the check of the jobs went.
#[derive(Debug, Default)]
struct Verdict {
    /// The jobs whose history is not linearizable.
    bad: Vec<String>,
    /// The job the checker was still on when time ran out.
    undecided: Option<String>,
    /// The longest one job took, and which.
    slowest: (Duration, String),
}

/// Checks each job's history in a thread of its own with room for the
/// tester's recursion (one frame per operation), giving up after
/// [`CHECK_WITHIN`].
fn check(records: &[Record]) -> Verdict {
    let mut by_job: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    for r in records {
        by_job.entry(r.job.clone()).or_default().push(r.clone());
    }
    let jobs: Vec<String> = by_job.keys().cloned().collect();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            for rs in by_job.values() {
                let rs: Vec<&Record> = rs.iter().collect();
                let took = Instant::now();
                let linearizable = tester(&rs).serialized_history().is_some();
                if tx.send((linearizable, took.elapsed())).is_err() {
                    return;
                }
            }
        })
        .unwrap();
    let deadline = Instant::now() + CHECK_WITHIN;
    let mut v = Verdict::default();
    for job in jobs {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((linearizable, took)) => {
                if !linearizable {
                    v.bad.push(job.clone());
                }
                if took > v.slowest.0 {
                    v.slowest = (took, job);
                }
            }
            Err(_) => {
                v.undecided = Some(job);
                break;
            }
        }
    }
    v
}

#[test]
fn each_jobs_registers_reads_and_check_and_sets_are_linearizable_under_faults() {
    let began = Instant::now();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("seed {seed:#x}");
    let mut rng = Rng::new(seed);
    let mut c = Cluster::start(3, 10_000);
    let all = c.live();
    c.leader(&all, Duration::from_secs(20));
    let run = Arc::new(Run {
        apis: c.members.iter().map(|m| m.api).collect(),
        start: Instant::now(),
        clock: AtomicU64::new(0),
        values: AtomicU64::new(1),
        ops: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        records: Mutex::new(Vec::new()),
        dropped: AtomicU64::new(0),
        errors: Mutex::new(BTreeMap::new()),
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|k| {
            let (run, seed) = (run.clone(), rng.below(u64::MAX));
            std::thread::spawn(move || run.client(k + 1, seed))
        })
        .collect();

    // The faults, at moments that vary from run to run.
    let mut faults = Vec::new();
    for round in 0..2 {
        std::thread::sleep(rng.millis(1000, 2000));
        let leader = c.leader(&all, Duration::from_secs(15));
        if round == 0 {
            c.kill(leader);
            let killed = Instant::now();
            let rest = c.live();
            let next = c.leader(&rest, Duration::from_secs(15));
            faults.push(format!(
                "{} ms: leader {} killed; {} elected after {:?}",
                run.ms(),
                leader + 1,
                next + 1,
                killed.elapsed()
            ));
            std::thread::sleep(rng.millis(300, 1000));
            c.up(leader);
            faults.push(format!("{} ms: {} restarted", run.ms(), leader + 1));
        } else {
            c.signal(leader, "-STOP");
            faults.push(format!("{} ms: leader {} paused", run.ms(), leader + 1));
            std::thread::sleep(rng.millis(3000, 4000));
            c.signal(leader, "-CONT");
            faults.push(format!("{} ms: {} resumed", run.ms(), leader + 1));
        }
    }
    std::thread::sleep(rng.millis(1000, 2000));
    // And a server paused at random, leader or not, while clients wait on it.
    let victim = rng.below(3) as usize;
    c.signal(victim, "-STOP");
    faults.push(format!("{} ms: {} paused", run.ms(), victim + 1));
    std::thread::sleep(rng.millis(2000, 3000));
    c.signal(victim, "-CONT");
    faults.push(format!("{} ms: {} resumed", run.ms(), victim + 1));
    std::thread::sleep(rng.millis(1000, 1500));
    run.stop.store(true, Ordering::SeqCst);
    for t in clients {
        t.join().unwrap();
    }
    for f in &faults {
        eprintln!("{f}");
    }
    for (text, n) in run.errors.lock().unwrap().iter() {
        eprintln!("{n:>5} writes answered {text:?}");
    }

    // Settled, every job read back through each server: a write answered
    // before is in what they read.
    c.leader(&all, Duration::from_secs(20));
    let jobs: Vec<String> = {
        let rs = run.records.lock().unwrap();
        let set: std::collections::BTreeSet<String> = rs.iter().map(|r| r.job.clone()).collect();
        set.into_iter().collect()
    };
    let mut final_thread = 1u64 << 48;
    for job in &jobs {
        for server in 0..3 {
            let wait = Duration::from_secs(10);
            match run.perform(final_thread, job, Op::Get, server, wait) {
                Outcome::Answered(_) => {}
                _ => panic!("{job} not read through server {} once settled", server + 1),
            }
            final_thread += 1;
        }
    }

    let records = std::mem::take(&mut *run.records.lock().unwrap());
    let n = counts(&records);
    let checking = Instant::now();
    let v = check(&records);
    eprintln!(
        "{} operations on {} jobs checked in {:?} (the slowest job {:?}: {}); {} more did \
         nothing (not sent, refused before the log, reads unanswered); {n:?}; whole test {:?}",
        records.len(),
        jobs.len(),
        checking.elapsed(),
        v.slowest.0,
        v.slowest.1,
        run.dropped.load(Ordering::Relaxed),
        began.elapsed()
    );
    let history = |job: &String| {
        let rs: Vec<&Record> = records.iter().filter(|r| &r.job == job).collect();
        show(&rs)
    };
    for job in &v.bad {
        eprintln!("{job} is not linearizable:\n{}", history(job));
    }
    if let Some(job) = &v.undecided {
        eprintln!("{job} was not decided:\n{}", history(job));
    }
    let all: Vec<&Record> = records.iter().collect();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("linearizable.history");
    std::fs::write(&path, show(&all)).unwrap();
    eprintln!("the whole history: {}", path.display());
    assert!(
        v.bad.is_empty(),
        "not linearizable: {:?} (histories above)",
        v.bad
    );
    assert!(
        v.undecided.is_none(),
        "the checker did not decide within {CHECK_WITHIN:?} (history above)"
    );
    // Enough of each to have checked something.
    assert!(n.registered >= 50, "{n:?}");
    assert!(n.reads_found >= 50, "{n:?}");
    assert!(n.cas_set >= 10, "{n:?}");
    assert!(n.cas_refused >= 10, "{n:?}");
}

/// The spec and the tester refuse what a linearizable job cannot answer.
mod spec {
    use super::*;

    fn tester() -> LinearizabilityTester<u64, JobSpec> {
        LinearizabilityTester::new(JobSpec::default())
    }

    #[test]
    fn a_read_of_a_value_overwritten_before_it_began_is_refused() {
        let mut t = tester();
        t.on_invret(1, Op::Register(10), Ret::Registered(5))
            .unwrap()
            .on_invret(1, Op::Register(11), Ret::Registered(7))
            .unwrap()
            .on_invret(2, Op::Get, Ret::Got(Some((10, 5))))
            .unwrap();
        assert!(t.serialized_history().is_none());
    }

    #[test]
    fn a_read_concurrent_with_a_write_may_see_either_value() {
        for got in [(10, 5), (11, 7)] {
            let mut t = tester();
            t.on_invret(1, Op::Register(10), Ret::Registered(5))
                .unwrap()
                .on_invoke(1, Op::Register(11))
                .unwrap()
                .on_invret(2, Op::Get, Ret::Got(Some(got)))
                .unwrap()
                .on_return(1, Ret::Registered(7))
                .unwrap();
            assert!(t.serialized_history().is_some(), "{got:?}");
        }
    }

    #[test]
    fn two_check_and_sets_on_one_index_cannot_both_be_taken() {
        let mut t = tester();
        t.on_invret(1, Op::Register(10), Ret::Registered(5))
            .unwrap()
            .on_invoke(
                2,
                Op::Cas {
                    value: 11,
                    expect: 5,
                },
            )
            .unwrap()
            .on_invoke(
                3,
                Op::Cas {
                    value: 12,
                    expect: 5,
                },
            )
            .unwrap()
            .on_return(2, Ret::Set(7))
            .unwrap()
            .on_return(3, Ret::Set(8))
            .unwrap();
        assert!(t.serialized_history().is_none());
        let mut t = tester();
        t.on_invret(1, Op::Register(10), Ret::Registered(5))
            .unwrap()
            .on_invret(
                2,
                Op::Cas {
                    value: 11,
                    expect: 5,
                },
                Ret::Set(7),
            )
            .unwrap()
            .on_invret(
                3,
                Op::Cas {
                    value: 12,
                    expect: 5,
                },
                Ret::Refused(Refusal::At(7)),
            )
            .unwrap();
        assert!(t.serialized_history().is_some());
    }

    #[test]
    fn a_refusal_naming_an_old_index_is_a_stale_read() {
        let mut t = tester();
        t.on_invret(1, Op::Register(10), Ret::Registered(5))
            .unwrap()
            .on_invret(1, Op::Register(11), Ret::Registered(7))
            .unwrap()
            .on_invret(
                2,
                Op::Cas {
                    value: 12,
                    expect: 3,
                },
                Ret::Refused(Refusal::At(5)),
            )
            .unwrap();
        assert!(t.serialized_history().is_none());
    }

    #[test]
    fn indexes_only_grow() {
        let mut t = tester();
        t.on_invret(1, Op::Register(10), Ret::Registered(5))
            .unwrap()
            .on_invret(1, Op::Register(11), Ret::Registered(4))
            .unwrap();
        assert!(t.serialized_history().is_none());
    }

    #[test]
    fn a_write_left_in_flight_may_be_seen_or_not_but_nothing_else_may() {
        let mut seen = tester();
        seen.on_invret(1, Op::Register(10), Ret::Registered(5))
            .unwrap()
            .on_invoke(1, Op::Register(11))
            .unwrap()
            .on_invret(2, Op::Get, Ret::Got(Some((11, 9))))
            .unwrap()
            .on_invret(
                2,
                Op::Cas {
                    value: 12,
                    expect: 9,
                },
                Ret::Set(12),
            )
            .unwrap();
        assert!(seen.serialized_history().is_some());

        let mut unseen = tester();
        unseen
            .on_invret(1, Op::Register(10), Ret::Registered(5))
            .unwrap()
            .on_invoke(1, Op::Register(11))
            .unwrap()
            .on_invret(2, Op::Get, Ret::Got(Some((10, 5))))
            .unwrap();
        assert!(unseen.serialized_history().is_some());

        // Read after it was seen, the older value is gone for good.
        let mut back = tester();
        back.on_invret(1, Op::Register(10), Ret::Registered(5))
            .unwrap()
            .on_invoke(1, Op::Register(11))
            .unwrap()
            .on_invret(2, Op::Get, Ret::Got(Some((11, 9))))
            .unwrap()
            .on_invret(2, Op::Get, Ret::Got(Some((10, 5))))
            .unwrap();
        assert!(back.serialized_history().is_none());

        // A value nobody wrote.
        let mut never = tester();
        never
            .on_invoke(1, Op::Register(11))
            .unwrap()
            .on_invret(2, Op::Get, Ret::Got(Some((99, 9))))
            .unwrap();
        assert!(never.serialized_history().is_none());
    }

    #[test]
    fn a_job_read_absent_after_it_was_written_is_refused() {
        let mut t = tester();
        t.on_invret(1, Op::Register(10), Ret::Registered(5))
            .unwrap()
            .on_invret(2, Op::Get, Ret::Got(None))
            .unwrap();
        assert!(t.serialized_history().is_none());
    }

    /// A record of `op` on job `j` by `thread`, over `span` of the shared
    /// counter; `ret` `None` for one left in flight.
    fn record(j: &str, thread: u64, op: Op, span: (u64, u64), ret: Option<Ret>) -> Record {
        Record {
            thread,
            job: j.into(),
            op,
            invoked: span.0,
            returned: ret.map(|r| (span.1, r)),
            server: 0,
            span_ms: (0, 0),
        }
    }

    #[test]
    fn the_check_of_recorded_histories_finds_the_job_read_stale() {
        let good = vec![
            record("a", 1, Op::Register(10), (0, 1), Some(Ret::Registered(5))),
            record("a", 2, Op::Register(11), (2, 9), None),
            record("a", 3, Op::Get, (3, 4), Some(Ret::Got(Some((10, 5))))),
            record("a", 3, Op::Get, (5, 6), Some(Ret::Got(Some((11, 8))))),
            record(
                "b",
                1,
                Op::Cas {
                    value: 12,
                    expect: 0,
                },
                (7, 8),
                Some(Ret::Set(9)),
            ),
        ];
        let v = check(&good);
        assert!(v.bad.is_empty() && v.undecided.is_none(), "{v:?}");

        // After the in-flight write was read, a read of the older value.
        let mut stale = good.clone();
        stale.push(record(
            "a",
            4,
            Op::Get,
            (10, 11),
            Some(Ret::Got(Some((10, 5)))),
        ));
        let v = check(&stale);
        assert_eq!(v.bad, ["a"]);
        assert!(v.undecided.is_none());
    }

    #[test]
    fn conflict_texts_parse() {
        assert_eq!(
            refusal(
                "Enforcing job modify index 7: job exists with conflicting job modify index: 10"
            ),
            Some(Refusal::At(10))
        );
        assert_eq!(
            refusal("Enforcing job modify index 7: job does not exist"),
            Some(Refusal::Absent)
        );
        assert_eq!(
            refusal("Enforcing job modify index 0: job already exists"),
            Some(Refusal::Exists)
        );
        assert_eq!(refusal("No cluster leader"), None);
    }
}
