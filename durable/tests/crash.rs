//! A process killed with SIGKILL at a chosen step (in the middle of a
//! snapshot, of a compaction, or of a commit torn in half) loses no write
//! it answered, and the next open cleans up what it left.
//!
//! The process killed is this test binary again, running `crash_child`
//! with the step in its environment; it prints each write it had answered,
//! and a line when it reached the step, at which the test kills it.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ordu::{Config, QueryOptions, Store, WriteOptions};
use ordu_durable::{Durable, Fault, Faults, Options, Stage, StageHook};
use serde_json::json;

const DIR: &str = "ORDU_CRASH_DIR";
const AT: &str = "ORDU_CRASH_AT";

fn register(store: &Store, id: &str) -> u64 {
    let job = json!({"Job": {
        "ID": id,
        "TaskGroups": [{"Name": "g", "Count": 1,
            "Tasks": [{"Name": "t", "Driver": "exec", "Config": {"command": "/bin/true"}}]}]
    }});
    store
        .register_job_json(job.to_string().as_bytes(), &WriteOptions::default())
        .unwrap()
        .index
}

fn stage_named(at: &str) -> Option<Stage> {
    match at {
        "snapshot-written" => Some(Stage::SnapshotWritten),
        "snapshot-in-place" => Some(Stage::SnapshotInPlace),
        "compacted" => Some(Stage::Compacted),
        _ => None,
    }
}

/// Stops the calling thread for good, after saying where.
fn halt(at: &str) -> ! {
    println!("AT {at}");
    std::io::stdout().flush().unwrap();
    loop {
        std::thread::park();
    }
}

/// The process the tests below kill; it does nothing when run on its own.
#[test]
fn crash_child() {
    let (Ok(dir), Ok(at)) = (std::env::var(DIR), std::env::var(AT)) else {
        return;
    };
    let stage = stage_named(&at);
    let seen = Arc::new(AtomicU32::new(0));
    let hook: StageHook = {
        let at = at.clone();
        Arc::new(move |s| {
            // The second time, so that an older snapshot is there too.
            if Some(s) == stage && seen.fetch_add(1, Ordering::SeqCst) == 1 {
                halt(&at);
            }
        })
    };
    let faults = Arc::new(Faults::default());
    let d = Durable::open(
        &dir,
        Options {
            snapshot_every: 20,
            at_stage: Some(hook),
            faults: Some(faults.clone()),
            ..Options::default()
        },
    )
    .unwrap();
    let store = d.store(Config::default()).unwrap().store;
    let node = json!({
        "ID": "n1", "Name": "n1", "Datacenter": "dc1", "Status": "ready",
        "Attributes": {"kernel.os": "linux", "driver.exec": "1"},
        "Resources": {"CPU": 400000, "MemoryMB": 819200, "DiskMB": 10000000}
    });
    store
        .register_node_json(node.to_string().as_bytes())
        .unwrap();
    for i in 0..5000 {
        if at == "torn" && i == 40 {
            // The next commit writes half a page and hangs: kill it there.
            faults.set(Fault::TearAndHang);
            let s = store.clone();
            std::thread::spawn(move || register(&s, "torn"));
            std::thread::sleep(Duration::from_millis(300));
            halt(&at);
        }
        let id = format!("job-{i}");
        let index = register(&store, &id);
        println!("ack {id} {index}");
    }
    panic!("{at} was never reached");
}

/// Runs `crash_child` on `dir` until it reaches `at`, kills it, and answers
/// the writes it had answered.
fn kill_at(dir: &Path, at: &str) -> Vec<(String, u64)> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(DIR, dir)
        .env(AT, at)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut acks = Vec::new();
    let mut reached = false;
    for line in out.lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("ack ") {
            let (id, index) = rest.split_once(' ').unwrap();
            acks.push((id.to_string(), index.parse().unwrap()));
        } else if line.starts_with("AT ") && !reached {
            reached = true;
            child.kill().unwrap(); // SIGKILL
        }
        assert!(Instant::now() < deadline, "the child ran too long");
    }
    child.wait().unwrap();
    assert!(reached, "the child never reached {at}");
    assert!(acks.len() > 5, "too few writes before {at}: {}", acks.len());
    acks
}

/// Kills at `at`, opens the directory again, and checks that every
/// answered write is there, the index did not go back, and what the kill
/// left is gone; answers the notes the open gave.
fn survives(at: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let acks = kill_at(dir.path(), at);
    let d = Durable::open(dir.path(), Options::default()).unwrap();
    let r = d.store(Config::default()).unwrap();
    let last = acks.iter().map(|a| a.1).max().unwrap();
    assert!(r.index >= last, "index {} went back below {last}", r.index);
    for (id, index) in &acks {
        assert!(
            r.store.job(id, &QueryOptions::default()).is_ok(),
            "{id}, answered at index {index}, is gone after a kill at {at}"
        );
    }
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("snapshot-"))
        .collect();
    let want = usize::from(r.snapshot_index > 0);
    assert_eq!(
        names.len(),
        want,
        "snapshot files after the open: {names:?}"
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("not closed cleanly") || n.contains("torn")),
        "no note of the crash: {:?}",
        r.notes
    );
    // The recovered store writes on after the last index.
    assert!(register(&r.store, "after") > last);
    r.notes
}

fn removed(notes: &[String]) -> bool {
    notes.iter().any(|n| n.contains("removed"))
}

#[test]
fn a_kill_while_a_snapshot_is_written_loses_nothing() {
    let notes = survives("snapshot-written");
    assert!(removed(&notes), "the unfinished snapshot stayed: {notes:?}");
}

#[test]
fn a_kill_before_a_snapshot_is_recorded_loses_nothing() {
    let notes = survives("snapshot-in-place");
    assert!(removed(&notes), "the unrecorded snapshot stayed: {notes:?}");
}

#[test]
fn a_kill_during_compaction_loses_nothing() {
    let notes = survives("compacted");
    assert!(removed(&notes), "the older snapshot stayed: {notes:?}");
}

#[test]
fn a_torn_commit_is_cut_and_was_never_answered() {
    let dir = tempfile::tempdir().unwrap();
    let acks = kill_at(dir.path(), "torn");
    let d = Durable::open(dir.path(), Options::default()).unwrap();
    let r = d.store(Config::default()).unwrap();
    eprintln!("{:?}", r.notes);
    assert!(!r.notes.is_empty(), "the open said nothing of the crash");
    for (id, _) in &acks {
        assert!(
            r.store.job(id, &QueryOptions::default()).is_ok(),
            "{id} is gone"
        );
    }
    assert!(
        r.store.job("torn", &QueryOptions::default()).is_err(),
        "the torn write, never answered, is there"
    );
    assert!(r.index >= acks.last().unwrap().1);
}
