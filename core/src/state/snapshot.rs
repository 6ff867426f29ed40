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
//! Format 3 (read) is format 2 with `job_versions` last: the versions
//! each job replaced and still keeps, newest first. Format 2 (read) has
//! none, so a state restored from it keeps only each job's current version.
//!
//! Format 4 (written) is format 3 with namespaces: `jobs` and
//! `job_versions` become lists (each job names its namespace and ID, the
//! key of its table), `job_indexes` is keyed by `<Namespace>.<ID>` (a
//! namespace holds no `.`), and `namespaces` lists those created. Formats
//! 1 to 3 (read) keyed jobs by ID alone; each goes to the namespace it
//! names (created for it), and indexes of jobs no longer there to `default`.
//!
//! The layout is written out here rather than derived on [`State`], so that a
//! field added to the state cannot change a format silently.

use serde::{Deserialize, Serialize};

use super::*;
use crate::error::{FieldError, Stage};
use crate::structs::{lifted_job, without_jobs, Resources};

mod read2;

/// The format version of [`State::snapshot`]; a change to the format that
/// older code could not read takes the next number.
pub const SNAPSHOT_VERSION: u32 = 4;

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
    #[serde(serialize_with = "values")]
    jobs: &'a BTreeMap<String, Arc<Job>>,
    #[serde(serialize_with = "in_key_order")]
    evals: &'a HashMap<String, Arc<Evaluation>>,
    alloc_jobs: Vec<&'a Job>,
    #[serde(serialize_with = "allocs_without_jobs")]
    allocs: Vec<(usize, &'a Allocation)>,
    nodes: &'a BTreeMap<String, Arc<Node>>,
    #[serde(serialize_with = "by_dotted_key")]
    job_indexes: &'a BTreeMap<String, JobIndexes>,
    node_indexes: &'a BTreeMap<String, NodeIndexes>,
    tables: &'a TableIndexes,
    #[serde(serialize_with = "values")]
    job_versions: &'a BTreeMap<String, VecDeque<Arc<Job>>>,
    #[serde(serialize_with = "values")]
    namespaces: &'a BTreeMap<String, Arc<Namespace>>,
}

/// A job-keyed table's values in key order: each names its job.
fn values<S: serde::Serializer, V: Serialize>(
    map: &&BTreeMap<String, V>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(map.values())
}

/// A job-keyed table as a map by `<Namespace>.<ID>`.
fn by_dotted_key<S: serde::Serializer, V: Serialize>(
    map: &&BTreeMap<String, V>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_map(map.iter().map(|(k, v)| {
        let (ns, id) = split_job_key(k);
        (format!("{ns}.{id}"), v)
    }))
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

fn share_key(job: &Job) -> JobKey<'_> {
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
                job_versions: &self.job_versions,
                namespaces: &self.namespaces,
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
            // Formats 3 and 4 are format 2 with more, which the same
            // reader takes.
            v @ 2..=4 => from_v2(read2::read(bytes, read2::PARALLEL_BYTES)?, v),
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
                    let same = by_key.entry(share_key(&a.job)).or_default();
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

fn from_v2(s: read2::In2, version: u32) -> State {
    let job_indexes = if version >= 4 {
        s.job_indexes
            .into_iter()
            .map(|(k, v)| match k.split_once('.') {
                Some((ns, id)) => (job_key(ns, id), v),
                None => (job_key(DEFAULT_NAMESPACE, &k), v),
            })
            .collect()
    } else {
        by_job_key(&s.jobs, s.job_indexes)
    };
    State {
        index: s.index,
        namespaces: namespaces_of(s.namespaces, &s.jobs, version),
        job_indexes,
        jobs: s.jobs,
        evals: s.evals,
        allocs: s.allocs,
        nodes: s.nodes,
        node_indexes: s.node_indexes,
        tables: s.tables,
        job_versions: s.job_versions,
        tracked_versions: TrackedVersions::default(),
        derived: Derived::default(),
    }
}

/// Before format 4 a job-keyed table was by ID alone: each entry goes to
/// its job's namespace, or `default` for a job no longer there.
fn by_job_key<V>(
    jobs: &BTreeMap<String, Arc<Job>>,
    by_id: BTreeMap<String, V>,
) -> BTreeMap<String, V> {
    let ns_of: HashMap<&str, &str> = jobs
        .values()
        .map(|j| (j.id.as_str(), j.namespace.as_str()))
        .collect();
    by_id
        .into_iter()
        .map(|(id, v)| {
            let ns = ns_of.get(id.as_str()).copied().unwrap_or(DEFAULT_NAMESPACE);
            (job_key(ns, &id), v)
        })
        .collect()
}

/// The namespace table: as written, or before format 4 (which had none)
/// one for each namespace a job names, so that its jobs stay reachable.
fn namespaces_of(
    written: Vec<Namespace>,
    jobs: &BTreeMap<String, Arc<Job>>,
    version: u32,
) -> BTreeMap<String, Arc<Namespace>> {
    if version >= 4 {
        return written
            .into_iter()
            .map(|ns| (ns.name.clone(), Arc::new(ns)))
            .collect();
    }
    let mut out = BTreeMap::new();
    for j in jobs.values() {
        if j.namespace != DEFAULT_NAMESPACE && !out.contains_key(&j.namespace) {
            let ns = Namespace {
                create_index: j.create_index,
                modify_index: j.create_index,
                ..Namespace::named(&j.namespace)
            };
            out.insert(j.namespace.clone(), Arc::new(ns));
        }
    }
    out
}

fn from_v1(mut s: In1) -> State {
    let jobs: BTreeMap<String, Arc<Job>> = std::mem::take(&mut s.jobs)
        .into_values()
        .map(|j| (j.key(), j))
        .collect();
    // Each allocation was read with its own copy of its job: equal copies
    // become one, the job table's when it is the same job.
    let mut seen: HashMap<String, Vec<Arc<Job>>> = HashMap::new();
    let mut resources = ResourceInterner::default();
    for a in s.allocs.values_mut() {
        let a = Arc::make_mut(a);
        let same = entry_mut(&mut seen, &a.job.id);
        let key = share_key(&a.job);
        a.job = match same.iter().find(|j| share_key(j) == key && ***j == *a.job) {
            Some(j) => j.clone(),
            None => {
                let j = share_job(&jobs, std::mem::replace(&mut a.job, lifted_job()));
                same.push(j.clone());
                j
            }
        };
        resources.share(a);
    }
    State {
        index: s.index,
        namespaces: namespaces_of(Vec::new(), &jobs, 1),
        job_indexes: by_job_key(&jobs, s.job_indexes),
        jobs,
        evals: s.evals,
        allocs: s.allocs,
        nodes: s.nodes,
        node_indexes: s.node_indexes,
        tables: s.tables,
        job_versions: BTreeMap::new(),
        tracked_versions: TrackedVersions::default(),
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
