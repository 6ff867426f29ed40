//! Snapshots: the whole state as versioned bytes, and back.
//!
//! Format 2 (written) stores each job its allocations run once, as Nomad's
//! plan results do: `alloc_jobs` lists the distinct jobs (equal content is
//! one job, whatever the sharing in memory) in the order the allocations, in
//! ID order, first use them, and each allocation is written as
//! `[n, allocation without its job]`. A million allocations of a thousand
//! jobs so write a thousand jobs, not a million. Format 1 (read only) wrote
//! every allocation with its job. Either way restore shares each job again:
//! one copy per distinct job, and the job table's copy when it is the same
//! job, so a restored state takes the memory the original did.
//!
//! The layout is written out here rather than derived on [`State`], so that a
//! field added to the state cannot change a format silently.

use std::collections::hash_map::Entry;

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::*;
use crate::error::{FieldError, Stage};
use crate::structs::{lifted_job, without_jobs, Resources};

/// The format version of [`State::snapshot`]; a change to the format that
/// older code could not read takes the next number.
pub const SNAPSHOT_VERSION: u32 = 2;

/// The oldest format [`State::restore`] still reads.
pub const OLDEST_SNAPSHOT_VERSION: u32 = 1;

#[derive(Serialize)]
struct Out<'a> {
    version: u32,
    state: StateOut<'a>,
}

#[derive(Serialize)]
struct StateOut<'a> {
    index: u64,
    jobs: &'a BTreeMap<String, Arc<Job>>,
    #[serde(serialize_with = "in_key_order")]
    evals: &'a HashMap<String, Arc<Evaluation>>,
    alloc_jobs: Vec<&'a Job>,
    #[serde(serialize_with = "allocs_without_jobs")]
    allocs: Vec<(usize, &'a Allocation)>,
    nodes: &'a BTreeMap<String, Arc<Node>>,
    job_indexes: &'a BTreeMap<String, JobIndexes>,
    node_indexes: &'a BTreeMap<String, NodeIndexes>,
    tables: &'a TableIndexes,
}

/// Format 2 as read. Its allocations go to their table as each is read,
/// with their job and resources shared at once (see [`Placer`]), so that a
/// million of them are never held twice, decoded and then shared.
struct In2 {
    index: u64,
    jobs: BTreeMap<String, Arc<Job>>,
    evals: HashMap<String, Arc<Evaluation>>,
    allocs: HashMap<String, Arc<Allocation>>,
    nodes: BTreeMap<String, Arc<Node>>,
    job_indexes: BTreeMap<String, JobIndexes>,
    node_indexes: BTreeMap<String, NodeIndexes>,
    tables: TableIndexes,
}

/// Format 1: the allocations a map by ID, each with its job.
#[derive(Deserialize)]
struct In1 {
    index: u64,
    jobs: BTreeMap<String, Arc<Job>>,
    evals: HashMap<String, Arc<Evaluation>>,
    allocs: HashMap<String, Arc<Allocation>>,
    nodes: BTreeMap<String, Arc<Node>>,
    job_indexes: BTreeMap<String, JobIndexes>,
    node_indexes: BTreeMap<String, NodeIndexes>,
    tables: TableIndexes,
}

#[derive(Deserialize)]
struct Versioned<S> {
    state: S,
}

/// Jobs that may be equal are looked up by these first, so that finding a
/// job's equal compares few jobs in full.
type JobKey<'a> = (&'a str, u64, u64);

fn job_key(job: &Job) -> JobKey<'_> {
    (job.id.as_str(), job.version, job.job_modify_index)
}

impl State {
    /// The whole state as bytes, with the format's version
    /// ([`SNAPSHOT_VERSION`]); equal states give equal bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_snapshot(&mut out).expect("state serialises");
        out
    }

    /// [`State::snapshot`] written to `w` as it is made, so that a large
    /// state goes to a file without its whole image in memory. Fails only
    /// when `w` does.
    pub fn write_snapshot(&self, w: impl std::io::Write) -> std::io::Result<()> {
        let (alloc_jobs, allocs) = lift_jobs(&self.allocs);
        let out = Out {
            version: SNAPSHOT_VERSION,
            state: StateOut {
                index: self.index,
                jobs: &self.jobs,
                evals: &self.evals,
                alloc_jobs,
                allocs,
                nodes: &self.nodes,
                job_indexes: &self.job_indexes,
                node_indexes: &self.node_indexes,
                tables: &self.tables,
            },
        };
        serde_json::to_writer(w, &out).map_err(std::io::Error::from)
    }

    /// A state from [`State::snapshot`] bytes of this format or an older one
    /// still read ([`OLDEST_SNAPSHOT_VERSION`]). Bytes of another version, or
    /// that do not decode, are an invalid-input error naming `snapshot`.
    pub fn restore(bytes: &[u8]) -> Result<State> {
        let mut s = match read_version(bytes)? {
            1 => {
                let Versioned { state }: Versioned<In1> = decode(bytes)?;
                from_v1(state)
            }
            2 => {
                let seed = Top(In2Seed {
                    capacity: bytes.len() / ALLOC_BYTES,
                });
                let mut de = serde_json::Deserializer::from_slice(bytes);
                let state = seed
                    .deserialize(&mut de)
                    .and_then(|s| de.end().map(|()| s))
                    .map_err(|e| bad(e.to_string()))?;
                from_v2(state)
            }
            v => {
                return Err(bad(format!(
                    "format version {v} is not one this ordu reads \
                     ({OLDEST_SNAPSHOT_VERSION} to {SNAPSHOT_VERSION})"
                )))
            }
        };
        s.rebuild();
        Ok(s)
    }
}

fn bad(message: String) -> Error {
    Error::Invalid {
        stage: Stage::Decode,
        errors: vec![FieldError::new("snapshot", message)],
    }
}

fn decode<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))
}

/// The format version, read before the rest so that a snapshot of another
/// format is named as such rather than as a decode error. Snapshots written
/// here start with it, which spares decoding a large one twice; other JSON
/// is decoded in full for it.
fn read_version(bytes: &[u8]) -> Result<u32> {
    let prefix = br#"{"version":"#;
    if let Some(rest) = bytes.strip_prefix(prefix) {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if (1..=9).contains(&digits) && rest.get(digits) == Some(&b',') {
            let text = std::str::from_utf8(&rest[..digits]).expect("ASCII digits");
            return text.parse().map_err(|_| bad("bad version".into()));
        }
    }
    #[derive(Deserialize)]
    struct Version {
        version: u32,
    }
    let v: Version = decode(bytes)?;
    Ok(v.version)
}

/// The distinct jobs of the allocations, in first use over the allocations
/// in ID order, and each allocation (in ID order) with its job's position.
fn lift_jobs(allocs: &HashMap<String, Arc<Allocation>>) -> (Vec<&Job>, Vec<(usize, &Allocation)>) {
    let mut sorted: Vec<&Allocation> = allocs.values().map(|a| &**a).collect();
    sorted.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let mut jobs: Vec<&Job> = Vec::new();
    // Most allocations share their job's memory with many others: one
    // pointer lookup then finds it without comparing jobs.
    let mut by_ptr: HashMap<*const Job, usize> = HashMap::new();
    let mut by_key: HashMap<JobKey, Vec<usize>> = HashMap::new();
    let out = sorted
        .into_iter()
        .map(|a| {
            let ptr = Arc::as_ptr(&a.job);
            let n = match by_ptr.get(&ptr) {
                Some(&n) => n,
                None => {
                    let same = by_key.entry(job_key(&a.job)).or_default();
                    let n = match same.iter().find(|&&n| *jobs[n] == *a.job) {
                        Some(&n) => n,
                        None => {
                            jobs.push(&a.job);
                            same.push(jobs.len() - 1);
                            jobs.len() - 1
                        }
                    };
                    by_ptr.insert(ptr, n);
                    n
                }
            };
            (n, a)
        })
        .collect();
    (jobs, out)
}

fn allocs_without_jobs<S: serde::Serializer>(
    allocs: &Vec<(usize, &Allocation)>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    without_jobs(|| allocs.serialize(s))
}

fn from_v2(s: In2) -> State {
    State {
        index: s.index,
        jobs: s.jobs,
        evals: s.evals,
        allocs: s.allocs,
        nodes: s.nodes,
        job_indexes: s.job_indexes,
        node_indexes: s.node_indexes,
        tables: s.tables,
        derived: Derived::default(),
    }
}

fn from_v1(mut s: In1) -> State {
    // Each allocation was read with its own copy of its job: equal copies
    // become one, the job table's when it is the same job.
    let mut seen: HashMap<String, Vec<Arc<Job>>> = HashMap::new();
    let mut resources = ResourceInterner::default();
    for a in s.allocs.values_mut() {
        let a = Arc::make_mut(a);
        let same = entry_mut(&mut seen, &a.job.id);
        let key = job_key(&a.job);
        a.job = match same.iter().find(|j| job_key(j) == key && ***j == *a.job) {
            Some(j) => j.clone(),
            None => {
                let j = share_job(&s.jobs, std::mem::replace(&mut a.job, lifted_job()));
                same.push(j.clone());
                j
            }
        };
        resources.share(a);
    }
    State {
        index: s.index,
        jobs: s.jobs,
        evals: s.evals,
        allocs: s.allocs,
        nodes: s.nodes,
        job_indexes: s.job_indexes,
        node_indexes: s.node_indexes,
        tables: s.tables,
        derived: Derived::default(),
    }
}

type TaskResources = Arc<BTreeMap<String, Resources>>;

/// Shares equal per-task resources between the allocations of one group, as
/// placement does (a group placed together without networks shares one).
#[derive(Default)]
struct ResourceInterner {
    /// By job, then group: looked up by `&str`, so a key is copied once per
    /// group, not once per allocation.
    seen: HashMap<String, HashMap<String, Vec<TaskResources>>>,
}

impl ResourceInterner {
    fn share(&mut self, a: &mut Allocation) {
        let groups = entry_mut(&mut self.seen, &a.job_id);
        let group = entry_mut(groups, &a.task_group);
        match group.iter().find(|r| ***r == *a.task_resources) {
            Some(r) => a.task_resources = r.clone(),
            // Networks give each allocation its own; a group keeps only a
            // few candidates so that those cannot make this quadratic.
            None if group.len() < 4 => group.push(a.task_resources.clone()),
            None => {}
        }
    }
}

/// Writes a hashed table as a map in key order, so that equal states give
/// equal snapshot bytes.
fn in_key_order<S: serde::Serializer, V: Serialize>(
    map: &&HashMap<String, V>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    let mut entries: Vec<(&String, &V)> = map.iter().collect();
    entries.sort_unstable_by_key(|(k, _)| *k);
    s.collect_map(entries)
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
struct PlaceAll<'p, 'a>(&'p mut Placer<'a>);

impl<'de> DeserializeSeed<'de> for PlaceAll<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PlaceAll<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a sequence of [job, allocation]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while let Some((n, a)) = seq.next_element::<(usize, Allocation)>()? {
            self.0.place(n, a).map_err(A::Error::custom)?;
        }
        Ok(())
    }
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
    #[serde(other)]
    Other,
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
        let mut alloc_jobs: Option<Vec<Job>> = None;
        let mut shared: Option<Vec<Arc<Job>>> = None;
        // Placed as read, or held (in another order) until the jobs are in.
        let mut placed: Option<HashMap<String, Arc<Allocation>>> = None;
        let mut held: Option<Vec<(usize, Allocation)>> = None;
        while let Some(field) = map.next_key::<Field2>()? {
            match field {
                Field2::Index => once(&mut index, map.next_value()?, "index")?,
                Field2::Jobs => once(&mut jobs, map.next_value()?, "jobs")?,
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
                            let mut placer = Placer::new(shared, self.capacity);
                            map.next_value_seed(PlaceAll(&mut placer))?;
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
        })
    }
}
