//! Reading format 2. The allocations go to their table as each is read;
//! a large snapshot's are read on two threads: a second one begins at an
//! allocation about halfway through the bytes, found by its look, while
//! this one reads the rest of the state and the allocations before it. The
//! guess is checked as this thread walks the array (an allocation must
//! begin exactly there); when it does not hold, or either thread meets
//! anything amiss, the whole snapshot is read again on one thread, so the
//! state and any error are the ones a single reader gives.

use std::collections::hash_map::Entry;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, SyncSender};

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::*;

/// Snapshots from this size on are read on two threads when there are two
/// CPUs: below it, starting a thread costs more than it saves.
pub(super) const PARALLEL_BYTES: usize = 8 << 20;

/// Where in the bytes the second thread begins, in percent: this thread
/// also walks the second part (to find the end of the array), so it takes
/// less than half of the allocations to read.
const SPLIT_PERCENT: usize = 46;

/// Format 2 as read. Its allocations go to their table as each is read,
/// with their job and resources shared at once (see [`Placer`]), so that a
/// million of them are never held twice, decoded and then shared.
pub(super) struct In2 {
    pub index: u64,
    /// By [`job_key`](crate::structs::job_key), whatever the format wrote.
    pub jobs: BTreeMap<String, Arc<Job>>,
    pub evals: HashMap<String, Arc<Evaluation>>,
    pub allocs: HashMap<String, Arc<Allocation>>,
    pub nodes: BTreeMap<String, Arc<Node>>,
    pub job_indexes: BTreeMap<String, JobIndexes>,
    pub node_indexes: BTreeMap<String, NodeIndexes>,
    pub tables: TableIndexes,
    /// Format 3's kept job versions (none in format 2), by job key.
    pub job_versions: BTreeMap<String, VecDeque<Arc<Job>>>,
    /// Format 4's namespaces (none before).
    pub namespaces: Vec<Namespace>,
    /// The second thread read the allocations from the split on.
    pub split_used: bool,
}

/// About the bytes an allocation takes in a snapshot: sizes the allocation
/// table before it is read, so that it is not grown (each growth hashes
/// every ID again) more than once.
const ALLOC_BYTES: usize = 1024;

/// Places decoded allocations in their table: each gets its job (by its
/// position in `alloc_jobs`) and shares its per-task resources.
struct Placer<'a> {
    shared: &'a [Arc<Job>],
    resources: ResourceInterner,
    allocs: HashMap<String, Arc<Allocation>>,
}

impl<'a> Placer<'a> {
    fn new(shared: &'a [Arc<Job>], capacity: usize) -> Self {
        Placer {
            shared,
            resources: ResourceInterner::default(),
            allocs: HashMap::with_capacity(capacity),
        }
    }

    fn place(&mut self, n: usize, mut a: Allocation) -> std::result::Result<(), String> {
        let Some(job) = self.shared.get(n) else {
            return Err(format!(
                "allocation {}: job {n} is not in alloc_jobs ({} jobs)",
                a.id,
                self.shared.len()
            ));
        };
        if job.id != a.job_id {
            return Err(format!(
                "allocation {} of job {:?} names job {n}, which is {:?}",
                a.id, a.job_id, job.id
            ));
        }
        a.job = job.clone();
        self.resources.share(&mut a);
        match self.allocs.entry(a.id.clone()) {
            Entry::Occupied(e) => Err(format!("allocation {} appears twice", e.key())),
            Entry::Vacant(e) => {
                e.insert(Arc::new(a));
                Ok(())
            }
        }
    }
}

/// `alloc_jobs` shared with the job table: one copy per distinct job, the
/// table's own when it is the same job.
fn share_jobs(jobs: &BTreeMap<String, Arc<Job>>, alloc_jobs: Vec<Job>) -> Vec<Arc<Job>> {
    alloc_jobs
        .into_iter()
        .map(|j| share_job(jobs, Arc::new(j)))
        .collect()
}

/// The `allocs` array, each element placed as it is read.
/// With a split, the elements from the one that begins at the split on are
/// only walked over (the second thread reads them); answers whether one
/// began there.
struct PlaceAll<'p, 'a> {
    placer: &'p mut Placer<'a>,
    split: Option<(usize, usize)>,
}

impl<'de> DeserializeSeed<'de> for PlaceAll<'_, '_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<bool, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PlaceAll<'_, '_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a sequence of [job, allocation]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<bool, A::Error> {
        let Some((base, at)) = self.split else {
            while let Some((n, a)) = seq.next_element::<(usize, Allocation)>()? {
                self.placer.place(n, a).map_err(A::Error::custom)?;
            }
            return Ok(false);
        };
        // Each element's text, to know where it begins.
        let mut met = false;
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            met = met || raw.get().as_ptr() as usize - base == at;
            if met {
                continue;
            }
            let (n, a) =
                serde_json::from_str::<(usize, Allocation)>(raw.get()).map_err(A::Error::custom)?;
            self.placer.place(n, a).map_err(A::Error::custom)?;
        }
        Ok(met)
    }
}

/// The second thread's part: where it begins, and how it gets the
/// allocations' jobs once this thread has read them.
struct Split {
    /// The bytes' address, and the split's offset in them.
    base: usize,
    at: usize,
    jobs: SyncSender<Vec<Arc<Job>>>,
}

/// `{"version": .., "state": ..}`: the state read with `S`; the version was
/// read before.
struct Top<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Top<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<S::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Top<S> {
    type Value = S::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a snapshot")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<S::Value, A::Error> {
        let mut seed = Some(self.0);
        let mut state = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key != "state" {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let Some(seed) = seed.take() else {
                return Err(A::Error::duplicate_field("state"));
            };
            state = Some(map.next_value_seed(seed)?);
        }
        state.ok_or_else(|| A::Error::missing_field("state"))
    }
}

/// Format 2's state. The allocations are placed as they are read when
/// `jobs` and `alloc_jobs` came before them, as the writer puts them; in
/// another order they are held until both are read.
struct In2Seed {
    /// The allocation table's expected size.
    capacity: usize,
    split: Option<Split>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field2 {
    Index,
    Jobs,
    Evals,
    AllocJobs,
    Allocs,
    Nodes,
    JobIndexes,
    NodeIndexes,
    Tables,
    JobVersions,
    Namespaces,
    #[serde(other)]
    Other,
}

/// Values of a job-keyed table, keyed by their job's [`Job::key`]: format 4
/// writes them as a list (each value names its job), formats 2 and 3 as a
/// map by job ID, whose keys are so not needed either.
struct Keyed<V>(BTreeMap<String, V>);

/// A value that names its job.
trait OfJob {
    /// `None`: nothing to key it by (an empty list of versions, never written).
    fn job_key(&self) -> Option<String>;
}

impl OfJob for Arc<Job> {
    fn job_key(&self) -> Option<String> {
        Some(self.key())
    }
}

impl OfJob for VecDeque<Arc<Job>> {
    fn job_key(&self) -> Option<String> {
        self.front().map(|j| j.key())
    }
}

impl<'de, V: Deserialize<'de> + OfJob> Deserialize<'de> for Keyed<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct KeyedVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de> + OfJob> Visitor<'de> for KeyedVisitor<V> {
            type Value = Keyed<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list, or a map by job ID")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Keyed<V>, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(v) = seq.next_element::<V>()? {
                    put(&mut out, v)?;
                }
                Ok(Keyed(out))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Keyed<V>, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((_, v)) = map.next_entry::<IgnoredAny, V>()? {
                    put(&mut out, v)?;
                }
                Ok(Keyed(out))
            }
        }
        fn put<V: OfJob, E: serde::de::Error>(
            out: &mut BTreeMap<String, V>,
            v: V,
        ) -> std::result::Result<(), E> {
            let key = v
                .job_key()
                .ok_or_else(|| E::custom("an empty list of job versions"))?;
            if out.insert(key, v).is_some() {
                return Err(E::custom("a job twice"));
            }
            Ok(())
        }
        d.deserialize_any(KeyedVisitor(std::marker::PhantomData))
    }
}

/// Sets a field read once, refusing a second.
fn once<T, E: serde::de::Error>(
    slot: &mut Option<T>,
    value: T,
    name: &'static str,
) -> std::result::Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

impl<'de> DeserializeSeed<'de> for In2Seed {
    type Value = In2;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<In2, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for In2Seed {
    type Value = In2;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a format 2 state")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<In2, A::Error> {
        let (mut index, mut jobs, mut evals, mut nodes) = (None, None, None, None);
        let (mut job_indexes, mut node_indexes, mut tables) = (None, None, None);
        let mut job_versions: Option<Keyed<VecDeque<Arc<Job>>>> = None;
        let mut namespaces = None;
        let mut alloc_jobs: Option<Vec<Job>> = None;
        let mut shared: Option<Vec<Arc<Job>>> = None;
        // Placed as read, or held (in another order) until the jobs are in.
        let mut placed: Option<HashMap<String, Arc<Allocation>>> = None;
        let mut held: Option<Vec<(usize, Allocation)>> = None;
        let mut split_used = false;
        while let Some(field) = map.next_key::<Field2>()? {
            match field {
                Field2::Index => once(&mut index, map.next_value()?, "index")?,
                Field2::Jobs => {
                    let keyed: Keyed<Arc<Job>> = map.next_value()?;
                    once(&mut jobs, keyed.0, "jobs")?
                }
                Field2::Evals => once(&mut evals, map.next_value()?, "evals")?,
                Field2::AllocJobs => {
                    if alloc_jobs.is_some() || shared.is_some() {
                        return Err(A::Error::duplicate_field("alloc_jobs"));
                    }
                    alloc_jobs = Some(map.next_value()?);
                }
                Field2::Allocs => {
                    if placed.is_some() || held.is_some() {
                        return Err(A::Error::duplicate_field("allocs"));
                    }
                    match (&jobs, alloc_jobs.take()) {
                        (Some(jobs), Some(aj)) => {
                            let shared = shared.insert(share_jobs(jobs, aj));
                            let split = self.split.as_ref().and_then(|sp| {
                                sp.jobs.send(shared.clone()).ok().map(|()| (sp.base, sp.at))
                            });
                            let mut placer = Placer::new(shared, self.capacity);
                            split_used = map.next_value_seed(PlaceAll {
                                placer: &mut placer,
                                split,
                            })?;
                            placed = Some(placer.allocs);
                        }
                        (_, aj) => {
                            alloc_jobs = aj;
                            held = Some(map.next_value()?);
                        }
                    }
                }
                Field2::Nodes => once(&mut nodes, map.next_value()?, "nodes")?,
                Field2::JobIndexes => once(&mut job_indexes, map.next_value()?, "job_indexes")?,
                Field2::NodeIndexes => once(&mut node_indexes, map.next_value()?, "node_indexes")?,
                Field2::Tables => once(&mut tables, map.next_value()?, "tables")?,
                Field2::JobVersions => once(&mut job_versions, map.next_value()?, "job_versions")?,
                Field2::Namespaces => once(&mut namespaces, map.next_value()?, "namespaces")?,
                Field2::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let missing = A::Error::missing_field;
        let jobs = jobs.ok_or_else(|| missing("jobs"))?;
        let allocs = match (placed, held) {
            (Some(placed), _) => placed,
            (None, held) => {
                let held = held.ok_or_else(|| missing("allocs"))?;
                let aj = alloc_jobs.ok_or_else(|| missing("alloc_jobs"))?;
                let shared = share_jobs(&jobs, aj);
                let mut placer = Placer::new(&shared, held.len());
                for (n, a) in held {
                    placer.place(n, a).map_err(A::Error::custom)?;
                }
                placer.allocs
            }
        };
        Ok(In2 {
            index: index.ok_or_else(|| missing("index"))?,
            jobs,
            evals: evals.ok_or_else(|| missing("evals"))?,
            allocs,
            nodes: nodes.ok_or_else(|| missing("nodes"))?,
            job_indexes: job_indexes.ok_or_else(|| missing("job_indexes"))?,
            node_indexes: node_indexes.ok_or_else(|| missing("node_indexes"))?,
            tables: tables.ok_or_else(|| missing("tables"))?,
            job_versions: job_versions.map(|k| k.0).unwrap_or_default(),
            namespaces: namespaces.unwrap_or_default(),
            split_used,
        })
    }
}

/// Reads format 2 `bytes`; from `parallel_bytes` on, on two threads when
/// there are two CPUs.
pub(super) fn read(bytes: &[u8], parallel_bytes: usize) -> Result<In2> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus > 1 && bytes.len() >= parallel_bytes {
        if let Some(state) = split_point(bytes).and_then(|at| read_split(bytes, at)) {
            return Ok(state);
        }
    }
    read_one(bytes, None)
}

fn read_one(bytes: &[u8], split: Option<Split>) -> Result<In2> {
    let seed = Top(In2Seed {
        capacity: bytes.len() / ALLOC_BYTES,
        split,
    });
    let mut de = serde_json::Deserializer::from_slice(bytes);
    seed.deserialize(&mut de)
        .and_then(|s| de.end().map(|()| s))
        .map_err(|e| bad(e.to_string()))
}

/// Where a second thread may begin reading allocations: an element of
/// `allocs` found by its look (`}],[<digits>,{"ID":`), a little before the
/// middle. Only a guess; [`read_split`] checks it.
fn split_point(bytes: &[u8]) -> Option<usize> {
    let from = bytes.len() / 100 * SPLIT_PERCENT;
    let window = &bytes[from..bytes.len().min(from + (1 << 20))];
    let mut i = 0;
    while let Some(p) = window[i..].windows(4).position(|w| w == b"}],[") {
        let at = i + p + 3;
        let rest = &window[at + 1..];
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 && rest[digits..].starts_with(br#",{"ID":"#) {
            return Some(from + at);
        }
        i = at;
    }
    None
}

/// Reads `bytes` with a second thread taking the allocations from the
/// element at `at` to the end of the array. None: the split did not hold,
/// or something did not read; the caller reads the snapshot on one thread.
fn read_split(bytes: &[u8], at: usize) -> Option<In2> {
    let abort = &AtomicBool::new(false);
    let (tx, rx) = sync_channel::<Vec<Arc<Job>>>(1);
    std::thread::scope(|s| {
        let second = std::thread::Builder::new()
            .name("ordu-restore".into())
            .spawn_scoped(s, move || {
                let shared = rx.recv().ok()?;
                let capacity = (bytes.len() - at) / ALLOC_BYTES;
                place_from(bytes, at, &shared, capacity, abort)
            })
            .ok()?;
        let split = Split {
            base: bytes.as_ptr() as usize,
            at,
            jobs: tx,
        };
        let first = read_one(bytes, Some(split));
        if !first.as_ref().is_ok_and(|s| s.split_used) {
            abort.store(true, Relaxed);
        }
        let second = second.join().ok().flatten();
        let mut state = first.ok()?;
        if !state.split_used {
            // This thread read every allocation.
            return Some(state);
        }
        let more = second?;
        state.allocs.reserve(more.len());
        for (id, a) in more {
            if state.allocs.insert(id, a).is_some() {
                // Twice: the single reader names it.
                return None;
            }
        }
        Some(state)
    })
}

/// The second thread: the elements of an array from the one at `at` to the
/// array's end, placed in a table of their own. None on anything amiss, or
/// once `abort` is set.
fn place_from(
    bytes: &[u8],
    at: usize,
    shared: &[Arc<Job>],
    capacity: usize,
    abort: &AtomicBool,
) -> Option<HashMap<String, Arc<Allocation>>> {
    let mut placer = Placer::new(shared, capacity);
    let mut pos = at;
    loop {
        if abort.load(Relaxed) {
            return None;
        }
        let mut one =
            serde_json::Deserializer::from_slice(&bytes[pos..]).into_iter::<(usize, Allocation)>();
        let (n, a) = one.next()?.ok()?;
        placer.place(n, a).ok()?;
        pos += one.byte_offset();
        while bytes.get(pos).is_some_and(u8::is_ascii_whitespace) {
            pos += 1;
        }
        match bytes.get(pos)? {
            b',' => pos += 1,
            b']' => return Some(placer.allocs),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{json, Value};

    use super::*;
    use crate::structs::JobRegisterRequest;
    use crate::{Config, SchedulingMode, Store, WriteOptions};

    /// A state of a few hundred allocations: two jobs without networks
    /// (their groups share resources) and one with a port each.
    fn snapshot() -> Vec<u8> {
        let store = Store::new(Config {
            mode: SchedulingMode::Manual,
            ..Config::default()
        });
        for i in 0..8 {
            let node = json!({
                "ID": format!("{i:08x}-0000-4000-8000-000000000000"), "Name": format!("n{i}"),
                "Datacenter": "dc1", "Status": "ready", "Attributes": {"driver.docker": "1"},
                "Resources": {"CPU": 64000, "MemoryMB": 65536, "DiskMB": 100_000,
                    "Networks": [{"Device": "eth0", "CIDR": format!("10.0.0.{i}/32"),
                                  "IP": format!("10.0.0.{i}"), "MBits": 10000}]}});
            store
                .register_node(serde_json::from_value(node).unwrap())
                .unwrap();
        }
        for (id, count, ports) in [("a", 150, false), ("b", 120, false), ("c", 40, true)] {
            let mut res = json!({"CPU": 20, "MemoryMB": 32});
            if ports {
                res["Networks"] = json!([{"MBits": 1, "DynamicPorts": [{"Label": "http"}]}]);
            }
            let job = json!({"ID": id, "Datacenters": ["dc1"], "TaskGroups": [{
                "Name": "g", "Count": count, "Tasks": [{"Name": "t", "Driver": "docker",
                "Config": {"image": "x"}, "Resources": res}]}]});
            let req = JobRegisterRequest {
                job: Some(serde_json::from_value(job).unwrap()),
                ..JobRegisterRequest::default()
            };
            store.register_job(req, &WriteOptions::default()).unwrap();
        }
        while let Some(d) = store.dequeue_evaluation(&[], Duration::ZERO) {
            store.process_evaluation(&d).unwrap();
        }
        assert_eq!(store.with_state(State::alloc_count), 310);
        store.snapshot()
    }

    fn state(s: In2) -> State {
        let mut s = from_v2(s, SNAPSHOT_VERSION);
        s.rebuild();
        s
    }

    #[test]
    fn two_threads_read_the_state_one_reads() {
        let bytes = snapshot();
        let one = state(read_one(&bytes, None).unwrap());
        assert!(one.snapshot() == bytes);
        let at = split_point(&bytes).expect("an allocation about halfway");
        let two = read_split(&bytes, at).expect("the split holds");
        assert!(two.split_used, "the second thread read its part");
        let two = state(two);
        assert!(two.snapshot() == bytes);
        // The lookups rebuilt from either are the same.
        assert_eq!(two.derived.usage, one.derived.usage);
        assert_eq!(two.derived.allocs_by_node, one.derived.allocs_by_node);
        assert_eq!(two.derived.allocs_by_job, one.derived.allocs_by_job);

        // In another key order the allocations wait for their jobs.
        let sorted = serde_json::to_vec(&serde_json::from_slice::<Value>(&bytes).unwrap()).unwrap();
        assert!(state(read(&sorted, 0).unwrap()).snapshot() == bytes);
    }

    #[test]
    fn a_split_that_does_not_hold_reads_on_one_thread() {
        let bytes = snapshot();
        let at = split_point(&bytes).unwrap();
        // Inside an allocation: the second thread cannot read from there.
        let s = read_split(&bytes, at + 1).expect("read by this thread");
        assert!(!s.split_used);
        assert!(state(s).snapshot() == bytes);

        // Inside an allocation, where something that reads as one begins:
        // this thread never meets it, so what the second read is dropped.
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let job = v["state"]["alloc_jobs"][0]["ID"].as_str().unwrap();
        let fake = format!(r#"[[{{}}],[0,{{"ID":"zz","JobID":"{job}"}}]]"#);
        let text = String::from_utf8(bytes).unwrap().replacen(
            r#""TaskStates":null"#,
            &format!(r#""TaskStates":{{"t":{fake}}}"#),
            1,
        );
        let at = text.find(r#"[0,{"ID":"zz""#).unwrap();
        let s = read_split(text.as_bytes(), at).expect("read by this thread");
        assert!(!s.split_used);
        assert!(!s.allocs.contains_key("zz"));
        let serial = state(read_one(text.as_bytes(), None).unwrap());
        assert!(state(s).snapshot() == serial.snapshot());
        assert!(serial.snapshot() == text.as_bytes());
    }

    #[test]
    fn an_allocation_twice_across_the_split_is_refused() {
        let bytes = snapshot();
        let text = String::from_utf8(bytes).unwrap();
        let at = split_point(text.as_bytes()).unwrap();
        // A copy of the first allocation (this thread's) where the second
        // thread reads it.
        let start = text.find(r#""allocs":["#).unwrap() + r#""allocs":["#.len();
        let first_len = {
            let mut one = serde_json::Deserializer::from_str(&text[start..])
                .into_iter::<(usize, Allocation)>();
            one.next().unwrap().unwrap();
            one.byte_offset()
        };
        let first = &text[start..start + first_len];
        let twice = format!("{}{first},{}", &text[..at], &text[at..]);
        let at = split_point(twice.as_bytes()).unwrap();
        assert!(read_split(twice.as_bytes(), at).is_none());
        let err = read(twice.as_bytes(), 0).err().expect("refused");
        assert!(err.to_string().contains("appears twice"), "{err}");
    }
}
