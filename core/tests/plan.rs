//! Job plan, the scheduler's dry run (issue 15, point 3): it writes nothing,
//! its annotations are what a register then does, and its diff says what
//! changed.

mod scheduling_support;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ordu::structs::{
    Allocation, DesiredUpdates, JobPlanRequest, JobPlanResponse, DIFF_ADDED, DIFF_DELETED,
    DIFF_EDITED, DIFF_NONE,
};
use ordu::{Store, WriteOptions};
use proptest::prelude::*;
use scheduling_support::*;
use serde_json::{json, Value};

fn plan(store: &Store, job: &Value, diff: bool) -> JobPlanResponse {
    let req = JobPlanRequest {
        job: Some(serde_json::from_value(job.clone()).expect("job JSON")),
        diff,
        policy_override: false,
    };
    store
        .plan_job(req, &WriteOptions::default())
        .expect("plan job")
}

/// Everything a plan could disturb: the state's bytes and index, the
/// broker, and the job's indexes.
fn fingerprint(store: &Store, job: &str) -> (Vec<u8>, u64, String, [u64; 3]) {
    let (bytes, index, idx) = store.with_state(|s| {
        (
            s.snapshot(),
            s.index(),
            [
                s.job_index("default", job),
                s.job_allocs_index("default", job),
                s.job_evals_index("default", job),
            ],
        )
    });
    (bytes, index, format!("{:?}", store.broker_stats()), idx)
}

#[test]
fn a_plan_writes_nothing() {
    let run = |with_plans: bool| {
        let s = store();
        add_nodes(&s, 3, 4000, 4000);
        register(&s, job_json("web", 2, 500, 256));
        if with_plans {
            let before = fingerprint(&s, "web");
            for j in [
                job_json("web", 5, 500, 256),
                job_json("web", 1, 9000, 256),
                job_json("new", 3, 100, 100),
            ] {
                plan(&s, &j, true);
                assert_eq!(fingerprint(&s, "web"), before, "a plan changed the state");
            }
            assert!(s.with_state(|st| st.job("default", "new").is_none()));
        }
        // The next real writes draw the same IDs and seeds as without plans.
        register(&s, job_json("web", 4, 500, 256));
        register(&s, job_json("other", 2, 100, 100));
        s.with_state(|st| st.snapshot())
    };
    assert_eq!(run(true), run(false), "a plan drew IDs or seeds");
}

/// What a register did, counted per group as the plan annotates it.
fn observed(
    before: &[Arc<Allocation>],
    after: &[Arc<Allocation>],
    queued: &BTreeMap<String, i64>,
) -> BTreeMap<String, DesiredUpdates> {
    let mut out: BTreeMap<String, DesiredUpdates> = BTreeMap::new();
    let old: HashMap<&str, &Arc<Allocation>> = before
        .iter()
        .filter(|a| !a.is_terminal())
        .map(|a| (a.id.as_str(), a))
        .collect();
    let now: HashMap<&str, &Arc<Allocation>> = after.iter().map(|a| (a.id.as_str(), a)).collect();
    let mut replaced = std::collections::HashSet::new();
    for a in after.iter().filter(|a| !a.is_terminal()) {
        let g = out.entry(a.task_group.clone()).or_default();
        match old.get(a.id.as_str()) {
            Some(o) if o.job.job_modify_index != a.job.job_modify_index => g.in_place_update += 1,
            Some(_) => g.ignore += 1,
            None => match old.get(a.previous_allocation.as_str()) {
                Some(prev)
                    if now[prev.id.as_str()]
                        .desired_description
                        .contains("updated") =>
                {
                    replaced.insert(prev.id.clone());
                    g.destructive_update += 1;
                }
                _ => g.place += 1,
            },
        }
    }
    for (id, a) in &old {
        if now[id].is_terminal() && !replaced.contains(*id) {
            out.entry(a.task_group.clone()).or_default().stop += 1;
        }
    }
    for (g, n) in queued {
        out.entry(g.clone()).or_default().place += *n as u64;
    }
    out
}

/// The plan of each step, then the register: the plan's counts, failures and
/// index are what the register did.
fn check_steps(s: &Store, id: &str, steps: &[Value]) {
    for (i, job) in steps.iter().enumerate() {
        let stored_jmi = s.with_state(|st| st.job("default", id).map_or(0, |j| j.job_modify_index));
        let p = plan(s, job, true);
        assert_eq!(p.job_modify_index, stored_jmi, "step {i}");
        let before = allocs(s, id);
        let e = eval(s, &register(s, job.clone()));
        let after = allocs(s, id);
        let mut want = observed(&before, &after, &e.queued_allocations);
        for g in p.annotations.desired_tg_updates.keys() {
            want.entry(g.clone()).or_default();
        }
        assert_eq!(
            p.annotations.desired_tg_updates, want,
            "step {i}: the plan is not what the register did"
        );
        let failed = (!e.failed_tg_allocs.is_empty()).then(|| e.failed_tg_allocs.clone());
        assert_eq!(p.failed_tg_allocs, failed, "step {i}: failures differ");
    }
}

#[test]
fn the_plan_is_what_a_register_then_does() {
    let s = store();
    add_nodes(&s, 4, 4000, 4000);
    let mut image = job_json("web", 3, 600, 256);
    image["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("nginx:2");
    let mut rolling = job_json("web", 3, 600, 256);
    rolling["Update"] = json!({"MaxParallel": 1, "Stagger": 30_000_000_000i64});
    rolling["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("nginx:3");
    check_steps(
        &s,
        "web",
        &[
            job_json("web", 3, 500, 256),  // new job
            job_json("web", 3, 500, 256),  // unchanged
            job_json("web", 6, 500, 256),  // count up
            job_json("web", 3, 500, 256),  // count down
            job_json("web", 3, 600, 256),  // in place
            image,                         // destructive
            rolling,                       // destructive, one at a time
            job_json("web", 8, 3000, 256), // more than fits
        ],
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random nodes and a random series of specs of one job (counts,
    /// sizes that may not fit, images, update limits): every plan is what
    /// the register after it does.
    #[test]
    fn random_plans_match_their_registers(
        nodes in prop::collection::vec(1000i64..4000, 1..5),
        steps in prop::collection::vec((0i64..7, 0usize..4, 0u8..2, 0i64..3), 1..7),
    ) {
        let s = store();
        for (i, cpu) in nodes.iter().enumerate() {
            add_node(&s, node_json(&format!("node-{i}"), "dc1", *cpu, 4000));
        }
        let specs: Vec<Value> = steps
            .iter()
            .map(|(count, size, image, parallel)| {
                let mut j = job_json("p", *count, [100, 300, 900, 2500][*size], 128);
                j["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!(format!("img:{image}"));
                if *parallel > 0 {
                    j["Update"] = json!({"MaxParallel": parallel, "Stagger": 1_000_000_000i64});
                }
                j
            })
            .collect();
        check_steps(&s, "p", &specs);
    }
}

#[test]
fn system_and_multi_group_plans_match_their_registers() {
    let s = store();
    add_nodes(&s, 3, 4000, 4000);
    let mut sys = job_json("sys", 1, 100, 100);
    sys["Type"] = json!("system");
    check_steps(&s, "sys", &[sys.clone(), sys]);

    let mut two = job_json("two", 2, 100, 100);
    let mut g2 = two["TaskGroups"][0].clone();
    g2["Name"] = json!("api");
    g2["Count"] = json!(1);
    two["TaskGroups"].as_array_mut().unwrap().push(g2);
    let one = job_json("two", 2, 100, 100); // the api group goes
    check_steps(&s, "two", &[two, one]);
}

#[test]
fn a_plan_for_an_unchanged_job_ignores_everything_and_its_index_checks_and_sets() {
    let s = store();
    add_nodes(&s, 2, 4000, 4000);
    let j = job_json("web", 2, 100, 100);
    register(&s, j.clone());
    let p = plan(&s, &j, true);
    let u = p.annotations.desired_tg_updates["web"];
    assert_eq!(
        u,
        DesiredUpdates {
            ignore: 2,
            ..DesiredUpdates::default()
        }
    );
    let d = p.diff.unwrap();
    assert_eq!(d.diff_type, DIFF_NONE);
    assert_eq!(
        d.task_groups[0].updates,
        BTreeMap::from([("ignore".into(), 2)])
    );
    // The index answered lets a register check that nothing changed since.
    let req = ordu::structs::JobRegisterRequest {
        job: Some(serde_json::from_value(job_json("web", 3, 100, 100)).unwrap()),
        enforce_index: true,
        job_modify_index: p.job_modify_index,
    };
    s.register_job(req, &WriteOptions::default()).unwrap();
}

#[test]
fn a_plan_is_refused_as_a_register_is() {
    let s = store();
    let before = fingerprint(&s, "bad");
    let err = s
        .plan_job_json(
            br#"{"Job":{"ID":"bad","TaskGroups":[{"Name":"g","Tasks":[{"Name":"t"}]}]}}"#,
            &WriteOptions::default(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ordu::ErrorKind::Invalid);
    assert!(err.to_string().contains("missing task driver"), "{err}");
    let err = s
        .plan_job_json(br#"{"Diff": true}"#, &WriteOptions::default())
        .unwrap_err();
    assert_eq!(err.kind(), ordu::ErrorKind::Invalid);
    assert_eq!(fingerprint(&s, "bad"), before);
}

#[test]
fn diff_of_added_edited_and_deleted_groups_and_fields() {
    let s = store();
    add_nodes(&s, 2, 4000, 4000);
    // A new job: everything added.
    let mut j = job_json("web", 2, 100, 100);
    let p = plan(&s, &j, true);
    let d = p.diff.unwrap();
    assert_eq!(d.diff_type, DIFF_ADDED);
    assert_eq!(d.id, "web");
    assert_eq!(d.task_groups[0].diff_type, DIFF_ADDED);
    assert_eq!(d.task_groups[0].tasks[0].diff_type, DIFF_ADDED);
    assert_eq!(d.task_groups[0].updates["create"], 2);
    assert!(d
        .fields
        .iter()
        .any(|f| f.name == "Priority" && f.diff_type == DIFF_ADDED && f.new == "50"));
    assert!(plan(&s, &j, false).diff.is_none());
    register(&s, j.clone());

    // Edit a job field and a group's count; add a group.
    j["Priority"] = json!(70);
    j["TaskGroups"][0]["Count"] = json!(3);
    let mut api = j["TaskGroups"][0].clone();
    api["Name"] = json!("api");
    api["Count"] = json!(1);
    j["TaskGroups"].as_array_mut().unwrap().push(api);
    let d = plan(&s, &j, true).diff.unwrap();
    assert_eq!(d.diff_type, DIFF_EDITED);
    let prio = d.fields.iter().find(|f| f.name == "Priority").unwrap();
    assert_eq!(
        (
            prio.diff_type.as_str(),
            prio.old.as_str(),
            prio.new.as_str()
        ),
        (DIFF_EDITED, "50", "70")
    );
    let web = &d.task_groups[0];
    assert_eq!(
        (web.name.as_str(), web.diff_type.as_str()),
        ("web", DIFF_EDITED)
    );
    let count = web.fields.iter().find(|f| f.name == "Count").unwrap();
    assert_eq!((count.old.as_str(), count.new.as_str()), ("2", "3"));
    assert_eq!(count.annotations, Some(vec!["forces create".to_string()]));
    assert_eq!(web.tasks[0].diff_type, DIFF_NONE);
    assert_eq!(web.updates["create"], 1);
    // Any change to the job updates what runs; these in place.
    assert_eq!(web.updates["in-place update"], 2);
    let api = &d.task_groups[1];
    assert_eq!(
        (api.name.as_str(), api.diff_type.as_str()),
        ("api", DIFF_ADDED)
    );
    register(&s, j.clone());

    // Delete the group; change a task's image (destructive) in the other.
    j["TaskGroups"].as_array_mut().unwrap().pop();
    j["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("nginx:2");
    let d = plan(&s, &j, true).diff.unwrap();
    let api = d.task_groups.iter().find(|g| g.name == "api").unwrap();
    assert_eq!(api.diff_type, DIFF_DELETED);
    assert_eq!(api.updates["destroy"], 1);
    let task = &d.task_groups[0].tasks[0];
    assert_eq!(task.diff_type, DIFF_EDITED);
    assert_eq!(
        task.annotations,
        Some(vec!["forces create/destroy update".to_string()])
    );
    let config = task.objects.iter().find(|o| o.name == "Config").unwrap();
    assert_eq!(config.fields[0].name, "image");
    assert_eq!(
        (config.fields[0].old.as_str(), config.fields[0].new.as_str()),
        ("nginx:1", "nginx:2")
    );
    assert_eq!(d.task_groups[0].updates["create/destroy update"], 3);

    // Resources only: in place.
    let mut r = j.clone();
    r["TaskGroups"][0]["Tasks"][0]["Resources"]["CPU"] = json!(200);
    register(&s, j);
    let d = plan(&s, &r, true).diff.unwrap();
    let task = &d.task_groups[0].tasks[0];
    assert_eq!(
        task.annotations,
        Some(vec!["forces in-place update".to_string()])
    );
    assert_eq!(d.task_groups[0].updates["in-place update"], 3);
}
