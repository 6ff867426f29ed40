//! The durable log on disk: restarts give back the same state and index,
//! compaction bounds the file, and faults refuse instead of losing writes.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ordu::log::Observed;
use ordu::{Command, Config, ErrorKind, MemoryLog, QueryOptions, Store, WriteOptions};
use ordu_durable::{Durable, Error, Fault, Faults, Options, DB_FILE};
use serde_json::{json, Value};

fn job(id: &str, count: i64) -> Value {
    json!({
        "ID": id,
        "TaskGroups": [{
            "Name": "g", "Count": count,
            "Tasks": [{"Name": "t", "Driver": "exec", "Config": {"command": "/bin/true"}}]
        }]
    })
}

fn register(store: &Store, job: &Value) -> ordu::Result<u64> {
    let body = serde_json::to_vec(&json!({ "Job": job })).unwrap();
    Ok(store
        .register_job_json(&body, &WriteOptions::default())?
        .index)
}

fn add_node(store: &Store, id: &str) {
    let node = json!({
        "ID": id, "Name": id, "Datacenter": "dc1", "Status": "ready",
        "Attributes": {"kernel.os": "linux", "driver.exec": "1"},
        "Resources": {"CPU": 4000, "MemoryMB": 8192, "DiskMB": 100000}
    });
    store
        .register_node_json(node.to_string().as_bytes())
        .unwrap();
}

fn now() -> QueryOptions {
    QueryOptions::default()
}

/// What a client would read: the job list and each job's allocations.
fn reads(store: &Store) -> (Vec<String>, Vec<Vec<String>>) {
    let jobs: Vec<String> = store
        .jobs("", &now())
        .unwrap()
        .value
        .iter()
        .map(|j| j.id.clone())
        .collect();
    let allocs = jobs
        .iter()
        .map(|id| {
            let mut ids: Vec<String> = store
                .job_allocations(id, false, &now())
                .unwrap()
                .value
                .iter()
                .map(|a| a.id.clone())
                .collect();
            ids.sort();
            ids
        })
        .collect();
    (jobs, allocs)
}

/// The bytes of the snapshot files in `dir`.
fn snapshot_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("snapshot-"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

fn open(dir: &Path, snapshot_every: u64) -> Durable {
    Durable::open(
        dir,
        Options {
            snapshot_every,
            ..Options::default()
        },
    )
    .unwrap()
}

#[test]
fn a_restart_gives_back_the_same_snapshot_index_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    let (snap, index, before) = {
        let d = open(dir.path(), 0);
        let r = d.store(Config::default()).unwrap();
        assert_eq!((r.snapshot_index, r.replayed, r.index), (0, 0, 0));
        let store = r.store;
        add_node(&store, "n1");
        add_node(&store, "n2");
        for (id, n) in [("web", 3), ("api", 2), ("db", 1)] {
            register(&store, &job(id, n)).unwrap();
        }
        let before = reads(&store);
        assert_eq!(before.1.iter().map(Vec::len).sum::<usize>(), 6);
        (store.snapshot(), store.index(), before)
    };
    let d = open(dir.path(), 0);
    let r = d.store(Config::default()).unwrap();
    assert_eq!(r.snapshot_index, 0);
    assert_eq!(r.replayed, index, "every write is one entry, all replayed");
    assert_eq!(r.index, index);
    assert!(
        r.store.snapshot() == snap,
        "the state after restart differs"
    );
    assert_eq!(reads(&r.store), before);

    // The next write goes on after the restored index.
    assert_eq!(register(&r.store, &job("cache", 1)).unwrap(), index + 1);
}

#[test]
fn entries_after_a_snapshot_are_replayed_on_top_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let (snap, index, at) = {
        let d = open(dir.path(), 0);
        let store = d.store(Config::default()).unwrap().store;
        add_node(&store, "n1");
        register(&store, &job("web", 2)).unwrap();
        let at = d.snapshot_now().unwrap();
        assert_eq!(at, store.index());
        assert_eq!(
            d.entry_count().unwrap(),
            0,
            "the snapshot drops what it covers"
        );
        register(&store, &job("api", 1)).unwrap();
        register(&store, &job("web", 3)).unwrap();
        assert!(d.entry_count().unwrap() >= 2);
        (store.snapshot(), store.index(), at)
    };
    let d = open(dir.path(), 0);
    let r = d.store(Config::default()).unwrap();
    assert_eq!(r.snapshot_index, at);
    assert_eq!(r.replayed, index - at);
    assert_eq!(r.index, index);
    assert!(r.store.snapshot() == snap);
}

#[test]
fn compaction_keeps_the_file_bounded_over_many_reregisters() {
    let dir = tempfile::tempdir().unwrap();
    let d = open(dir.path(), 50);
    let store = d.store(Config::default()).unwrap().store;
    add_node(&store, "n1");
    let file = dir.path().join(DB_FILE);
    let size = || std::fs::metadata(&file).unwrap().len();
    let mut early = 0;
    for i in 0..600 {
        register(&store, &job("web", 2)).unwrap();
        // The state stays small: old evaluations are collected.
        if i % 20 == 0 {
            store.garbage_collect(i64::MAX).unwrap();
        }
        if i == 150 {
            early = size() + snapshot_bytes(dir.path());
        }
    }
    // Snapshots are taken in the background: wait for the log to catch up.
    let deadline = Instant::now() + Duration::from_secs(20);
    while d.entry_count().unwrap() >= 50 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(d.snapshot_index() > 0, "no snapshot was taken");
    assert!(d.stats().snapshots > 1, "{:?}", d.stats());
    assert!(
        d.entry_count().unwrap() < 50,
        "{} entries kept",
        d.entry_count().unwrap()
    );
    let late = size() + snapshot_bytes(dir.path());
    let state = store.snapshot().len() as u64;
    eprintln!("file {early} bytes at 150 writes, {late} at 600; state {state} bytes");
    assert!(
        late <= early * 2,
        "the file grew with the history: {early} bytes, then {late}"
    );
    // The state and index survive compaction: the snapshot the log took
    // itself plus the entries after it give the same bytes.
    let (index, snap) = (store.index(), store.snapshot());
    drop(store);
    drop(d);
    let r = open(dir.path(), 50).store(Config::default()).unwrap();
    assert!(r.snapshot_index > 0);
    assert_eq!(r.index, index);
    assert!(
        r.store.snapshot() == snap,
        "the state after restart differs"
    );
}

#[test]
fn a_second_open_of_the_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _d = open(dir.path(), 0);
    let err = Durable::open(dir.path(), Options::default())
        .err()
        .expect("a second open succeeded");
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    assert!(msg.contains("in use"), "{msg}");
}

/// A full disk, or a file system gone read-only: the write is refused with
/// a message that says why, nothing of it is visible, reads go on, and
/// writes resume in the same process once the disk does.
fn refused_then_resumed(fault: Fault, says: &str) {
    let dir = tempfile::tempdir().unwrap();
    let faults = Arc::new(Faults::default());
    let (snap, index) = {
        let d = Durable::open(
            dir.path(),
            Options {
                faults: Some(faults.clone()),
                ..Options::default()
            },
        )
        .unwrap();
        let store = d.store(Config::default()).unwrap().store;
        register(&store, &job("web", 1)).unwrap();
        let index = store.index();
        faults.set(fault);
        for _ in 0..3 {
            let err = register(&store, &job("api", 1)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unavailable);
            let msg = err.to_string();
            assert!(msg.contains(says), "{msg}");
            assert!(msg.contains(DB_FILE), "the message names the file: {msg}");
            assert_eq!(store.index(), index);
            assert!(store.job("api", &now()).is_err());
            // Reads go on.
            assert_eq!(reads(&store).0, vec!["web".to_string()]);
        }
        faults.set(Fault::None);
        let resumed = register(&store, &job("db", 1)).unwrap();
        assert_eq!(
            resumed,
            index + 1,
            "the refused writes left no index behind"
        );
        (store.snapshot(), store.index())
    };
    let r = open(dir.path(), 0).store(Config::default()).unwrap();
    assert_eq!(r.index, index);
    assert!(r.store.snapshot() == snap, "a refused write is on disk");
    assert!(r.store.job("api", &now()).is_err());
}

#[test]
fn a_full_disk_refuses_writes_until_space_returns() {
    refused_then_resumed(Fault::DiskFull, "no space left");
}

#[test]
fn a_read_only_file_system_refuses_writes_until_it_is_writable() {
    refused_then_resumed(Fault::ReadOnly, "read-only");
}

/// Commands built by a store that keeps none of them.
fn commands(n: usize) -> Vec<Command> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let store = Store::new(Config {
        mode: ordu::SchedulingMode::Manual,
        ..Config::default()
    })
    .with_log(Observed::new(MemoryLog, move |_, c: &Command| {
        sink.lock().unwrap().push(c.clone())
    }));
    for i in 0..n {
        register(&store, &job(&format!("j{i}"), 1)).unwrap();
    }
    let out = seen.lock().unwrap().clone();
    out
}

#[test]
fn a_batch_append_commits_all_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let cmds = commands(5);
    let refs: Vec<&Command> = cmds.iter().collect();
    let faults = Arc::new(Faults::default());
    {
        let d = Durable::open(
            dir.path(),
            Options {
                faults: Some(faults.clone()),
                ..Options::default()
            },
        )
        .unwrap();
        let log = d.log();
        assert_eq!(log.append_batch(0, &refs[..3]).unwrap(), 1);
        assert_eq!(d.last_index(), 3);
        faults.set(Fault::DiskFull);
        let err = log.append_batch(3, &refs[3..]).unwrap_err();
        assert!(err.0.contains("no space left"), "{err}");
        assert_eq!(d.last_index(), 3);
    }
    faults.set(Fault::None);
    let d = open(dir.path(), 0);
    assert_eq!(d.entry_count().unwrap(), 3, "a refused batch left entries");
    let r = d
        .store(Config {
            mode: ordu::SchedulingMode::Manual,
            ..Config::default()
        })
        .unwrap();
    assert_eq!((r.replayed, r.index), (3, 3));
    assert_eq!(reads(&r.store).0.len(), 3);
    // A batch after a restart continues the indexes.
    assert_eq!(d.log().append_batch(0, &refs[3..]).unwrap(), 4);
}

/// A data directory holding `n` registers, closed again.
fn dir_with_entries(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = open(dir.path(), 0);
    let cmds = commands(n);
    let refs: Vec<&Command> = cmds.iter().collect();
    d.log().append_batch(0, &refs).unwrap();
    dir
}

#[test]
fn a_flipped_byte_in_free_space_changes_nothing() {
    let dir = dir_with_entries(50);
    let file = dir.path().join(DB_FILE);
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    // What happens depends on what the byte held: here the file's middle is
    // space redb allocated ahead, so the check passes and nothing is lost.
    let d = open(dir.path(), 0);
    assert_eq!(d.entry_count().unwrap(), 50);
}

#[test]
fn a_flipped_byte_in_an_entry_refuses_the_open() {
    let dir = dir_with_entries(200);
    // A byte inside a stored entry (the file's middle may be free space,
    // which no checksum covers and no read sees).
    let file = dir.path().join(DB_FILE);
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes
        .windows(6)
        .position(|w| w == b"\"j100\"")
        .expect("the entry is in the file");
    bytes[at + 2] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    let err = Durable::open(dir.path(), Options::default())
        .err()
        .expect("a corrupt file opened");
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(matches!(err, Error::Corrupt { .. }), "{msg}");
    assert!(msg.contains(&file.display().to_string()), "{msg}");
}

/// With group commit an entry can be in the log and refused by apply: the
/// second of two check-and-sets in one batch. A restart refuses it again
/// and recovers, instead of taking it for a damaged file.
#[test]
fn an_entry_refused_when_applied_is_refused_again_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cmds = commands(1);
    let Command::JobRegister { job, eval, .. } = &cmds[0] else {
        panic!("a register: {:?}", cmds[0]);
    };
    // Two check-and-sets that both want the job as first registered (at
    // index 1): the first moves it on, so the second loses.
    let cas = |count: i64, eval_id: &str| {
        let mut job = job.clone();
        job.task_groups[0].count = count;
        let mut eval = eval.clone();
        eval.id = eval_id.to_string();
        Command::JobRegister {
            job,
            eval,
            enforce_index: Some(1),
        }
    };
    let (a, b) = (cas(2, "e-a"), cas(3, "e-b"));
    let expected = {
        let d = open(dir.path(), 0);
        let r = d
            .store(Config {
                mode: ordu::SchedulingMode::Manual,
                ..Config::default()
            })
            .unwrap();
        assert_eq!(d.log().append_batch(0, &[&cmds[0]]).unwrap(), 1);
        r.store.apply_committed(1, cmds[0].clone()).unwrap();
        assert_eq!(d.log().append_batch(1, &[&a, &b]).unwrap(), 2);
        r.store.apply_committed(2, a.clone()).unwrap();
        let err = r.store.apply_committed(3, b.clone()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
        r.store.snapshot()
    };
    let d = open(dir.path(), 0);
    let r = d
        .store(Config {
            mode: ordu::SchedulingMode::Manual,
            ..Config::default()
        })
        .expect("a refused entry does not stop recovery");
    assert_eq!(r.replayed, 3);
    assert!(r.store.snapshot() == expected);
    let web = r.store.job("j0", &now()).unwrap().value;
    assert_eq!(web.task_groups[0].count, 2);
}

fn node_json(id: &str, cpu: i64) -> Value {
    json!({
        "ID": id, "Name": id, "Datacenter": "dc1", "Status": "ready",
        "Attributes": {"kernel.os": "linux", "driver.exec": "1"},
        "Resources": {"CPU": cpu, "MemoryMB": 8192, "DiskMB": 100000}
    })
}

fn statuses(store: &Store, job: &str) -> Vec<String> {
    let mut s: Vec<String> = store
        .job_evaluations(job, &now())
        .unwrap()
        .value
        .iter()
        .map(|e| e.status.to_string())
        .collect();
    s.sort();
    s
}

/// Leader duties resume after a restart: an evaluation still pending when
/// the process stopped runs, and one blocked for want of room runs once a
/// node with room joins.
#[test]
fn pending_and_blocked_evaluations_run_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let queued = || Config {
        mode: ordu::SchedulingMode::Queued,
        ..Config::default()
    };
    {
        let store = open(dir.path(), 0).store(queued()).unwrap().store;
        store
            .register_node_json(node_json("small", 50).to_string().as_bytes())
            .unwrap();
        // Fits nowhere: its evaluation blocks.
        let mut big = job("big", 1);
        big["TaskGroups"][0]["Tasks"][0]["Resources"] = json!({"CPU": 1000, "MemoryMB": 64});
        register(&store, &big).unwrap();
        store.process_queued();
        assert_eq!(statuses(&store, "big"), ["blocked", "complete"]);
        // Registered, never processed: pending when the store goes.
        let mut small = job("small-job", 1);
        small["TaskGroups"][0]["Tasks"][0]["Resources"] = json!({"CPU": 10, "MemoryMB": 64});
        register(&store, &small).unwrap();
        // (A read would process it first: Queued mode's read barrier.)
        assert!(store.processing_behind());
    }
    let store = open(dir.path(), 0).store(queued()).unwrap().store;
    assert!(
        store.processing_behind(),
        "the pending evaluation was not queued"
    );
    store.process_queued();
    assert_eq!(statuses(&store, "small-job"), ["complete"]);
    assert_eq!(
        store
            .job_allocations("small-job", false, &now())
            .unwrap()
            .value
            .len(),
        1
    );

    assert!(store
        .job_allocations("big", false, &now())
        .unwrap()
        .value
        .is_empty());
    store
        .register_node_json(node_json("large", 4000).to_string().as_bytes())
        .unwrap();
    store.process_queued();
    assert_eq!(
        store
            .job_allocations("big", false, &now())
            .unwrap()
            .value
            .len(),
        1
    );
    assert!(
        !statuses(&store, "big").contains(&"blocked".to_string()),
        "{:?}",
        statuses(&store, "big")
    );
}

/// Snapshots by size: with no count set, the entries' bytes alone trigger
/// them.
#[test]
fn a_snapshot_is_taken_once_the_entries_hold_enough_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let d = Durable::open(
        dir.path(),
        Options {
            snapshot_every: 0,
            snapshot_bytes: 16 << 10,
            ..Options::default()
        },
    )
    .unwrap();
    let store = d.store(Config::default()).unwrap().store;
    add_node(&store, "n1");
    register(&store, &job("web", 1)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        d.stats().snapshots,
        0,
        "a snapshot before 16 KiB of entries"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut n = 0;
    while d.stats().snapshots == 0 && Instant::now() < deadline {
        register(&store, &job(&format!("j{n}"), 1)).unwrap();
        n += 1;
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(d.stats().snapshots > 0, "no snapshot after {n} registers");
    assert!(d.snapshot_index() > 0);
}

/// A file refused once stays refused: redb's check may already have
/// rewritten it (rolling back what it could not read), so a second start
/// must not take the rewritten file for a whole one.
#[test]
fn a_corrupt_file_stays_refused_on_the_next_open() {
    let dir = dir_with_entries(200);
    let file = dir.path().join(DB_FILE);
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.windows(6).position(|w| w == b"\"j100\"").unwrap();
    bytes[at + 2] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    for attempt in 0..2 {
        let err = Durable::open(dir.path(), Options::default())
            .err()
            .unwrap_or_else(|| panic!("open {attempt} of a corrupt directory succeeded"));
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    }
    // The marker a repaired file leaves is honoured.
    let dir = dir_with_entries(5);
    std::fs::write(dir.path().join(ordu_durable::CORRUPT_FILE), "found damage").unwrap();
    let err = Durable::open(dir.path(), Options::default())
        .err()
        .expect("a directory marked corrupt opened");
    let msg = err.to_string();
    assert!(
        msg.contains("found damage") && msg.contains("remove"),
        "{msg}"
    );
}

#[test]
fn a_database_file_of_junk_is_refused_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(DB_FILE), vec![0x5a; 64 << 10]).unwrap();
    let err = Durable::open(dir.path(), Options::default())
        .err()
        .expect("a junk file opened");
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains(DB_FILE), "{err}");
}
