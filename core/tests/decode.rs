//! SPEC "Model and wire form", decoding in detail: unknown keys are kept at
//! every level, a key sent as null gets the default, a value of the wrong type
//! is an error at its path, known keys never land in the unknown ones, and a
//! key sent twice is what serde's derived decoders made of it.

use ordu::structs::EvalStatus;
use ordu::structs::{decode, Constraint, Job, JobRegisterRequest, Limits, Node, Resources};
use serde_json::{json, Value};

/// Decodes a register body as the store does.
fn job_of(body: &Value) -> Result<Job, ordu::Error> {
    let bytes = serde_json::to_vec(&json!({ "Job": body })).unwrap();
    Ok(decode::<JobRegisterRequest>(&bytes, &Limits::default())?
        .job
        .unwrap())
}

/// The path and message of a decode failure.
fn error_of(body: &str) -> (String, String) {
    let err = decode::<JobRegisterRequest>(body.as_bytes(), &Limits::default()).unwrap_err();
    let fe = &err.field_errors()[0];
    (fe.path.clone(), fe.message.clone())
}

/// Every level of a job, each with an unknown key of its own.
fn job_with_unknown_keys() -> Value {
    let blob = json!({"nested": [1, "two", {"three": null}], "n": 1.5, "big": u64::MAX, "neg": -7});
    json!({
        "ID": "future", "NodePool": "gpu", "Multiregion": blob,
        "Constraints": [{"LTarget": "a", "RTarget": "b", "Operand": "=", "C": blob}],
        "Update": {"Stagger": 1, "MaxParallel": 1, "Canary": 2},
        "TaskGroups": [{
            "Name": "g", "EphemeralDisk": {"SizeMB": 300},
            "RestartPolicy": {"Attempts": 1, "Mode": "fail", "RenderTemplates": true},
            "Tasks": [{
                "Name": "t", "Driver": "docker", "KillTimeout": 5,
                "Resources": {"CPU": 250, "Cores": 0,
                    "Networks": [{"MBits": 10, "Mode": "bridge",
                        "ReservedPorts": [{"Label": "db", "Value": 6379, "HostNetwork": "default"}],
                        "DynamicPorts": [{"Label": "http", "IgnoreCollision": false}]}]}
            }]
        }]
    })
}

#[test]
fn unknown_keys_are_kept_at_every_level() {
    let sent = job_with_unknown_keys();
    let from_bytes = job_of(&sent).unwrap();
    let from_value: Job = serde_json::from_value(sent.clone()).unwrap();
    let from_str: Job = serde_json::from_str(&sent.to_string()).unwrap();
    let from_reader: Job = serde_json::from_reader(sent.to_string().as_bytes()).unwrap();
    assert_eq!(from_bytes, from_value);
    assert_eq!(from_bytes, from_str);
    assert_eq!(from_bytes, from_reader);

    let j = &from_bytes;
    assert_eq!(j.extra.len(), 2);
    assert_eq!(j.extra["NodePool"].value(), "gpu");
    assert_eq!(j.extra["Multiregion"].value(), sent["Multiregion"]);
    let c = &j.constraints.as_ref().unwrap()[0];
    assert_eq!(
        serde_json::to_value(&c.extra).unwrap(),
        json!({"C": sent["Multiregion"]})
    );
    assert_eq!(
        serde_json::to_value(&j.update.extra).unwrap(),
        json!({"Canary": 2})
    );
    let g = &j.task_groups[0];
    assert_eq!(
        serde_json::to_value(&g.extra).unwrap(),
        json!({"EphemeralDisk": {"SizeMB": 300}})
    );
    let rp = g.restart_policy.as_ref().unwrap();
    assert_eq!(
        serde_json::to_value(&rp.extra).unwrap(),
        json!({"RenderTemplates": true})
    );
    let t = &g.tasks[0];
    assert_eq!(
        serde_json::to_value(&t.extra).unwrap(),
        json!({"KillTimeout": 5})
    );
    assert_eq!(
        serde_json::to_value(&t.resources.extra).unwrap(),
        json!({"Cores": 0})
    );
    let n = &t.resources.networks()[0];
    assert_eq!(
        serde_json::to_value(&n.extra).unwrap(),
        json!({"Mode": "bridge"})
    );
    assert_eq!(
        serde_json::to_value(&n.reserved()[0].extra).unwrap(),
        json!({"HostNetwork": "default"})
    );
    assert_eq!(
        serde_json::to_value(&n.dynamic()[0].extra).unwrap(),
        json!({"IgnoreCollision": false})
    );

    // Written back where they came from, and decoded again to the same job.
    let back = serde_json::to_value(j).unwrap();
    for (path, key) in [
        ("/NodePool", "gpu"),
        ("/Update/Canary", "2"),
        ("/TaskGroups/0/EphemeralDisk/SizeMB", "300"),
        ("/TaskGroups/0/RestartPolicy/RenderTemplates", "true"),
        ("/TaskGroups/0/Tasks/0/KillTimeout", "5"),
        ("/TaskGroups/0/Tasks/0/Resources/Cores", "0"),
        ("/TaskGroups/0/Tasks/0/Resources/Networks/0/Mode", "bridge"),
        (
            "/TaskGroups/0/Tasks/0/Resources/Networks/0/ReservedPorts/0/HostNetwork",
            "default",
        ),
        (
            "/TaskGroups/0/Tasks/0/Resources/Networks/0/DynamicPorts/0/IgnoreCollision",
            "false",
        ),
    ] {
        let got = back.pointer(path).unwrap_or_else(|| panic!("{path} lost"));
        let got = got.as_str().map_or_else(|| got.to_string(), str::to_string);
        assert_eq!(got, key, "{path}");
    }
    assert_eq!(back["Multiregion"], sent["Multiregion"]);
    assert_eq!(back["Constraints"][0]["C"], sent["Multiregion"]);
    let again: Job = serde_json::from_value(back).unwrap();
    assert_eq!(&again, j);
}

#[test]
fn node_resources_keep_unknown_keys_too() {
    let r: Resources = serde_json::from_str(r#"{"CPU": 1, "Cores": 4}"#).unwrap();
    assert_eq!(
        (r.cpu, r.memory_mb),
        (1, 0),
        "no task defaults outside a task"
    );
    assert_eq!(r.extra["Cores"].value(), 4);
    let n: Node =
        serde_json::from_value(json!({"ID": "n", "Resources": {"CPU": 1, "Cores": 4}})).unwrap();
    assert_eq!(n.resources.extra["Cores"].value(), 4);
}

#[test]
fn the_unknown_keys_hold_no_known_key() {
    // A job with every field set, through its own wire form: nothing is left
    // over at any level, so each key the encoder writes is one the decoder reads.
    let full: Value = serde_json::from_str(
        r#"{
        "Region": "r", "Namespace": "n", "ID": "i", "Name": "n", "Type": "batch",
        "Priority": 7, "AllAtOnce": true, "Datacenters": ["a"],
        "Constraints": [{"LTarget": "a", "RTarget": "b", "Operand": "=", "Hard": false, "Weight": 3}],
        "Update": {"Stagger": 1, "MaxParallel": 2}, "Meta": {"k": "v"},
        "Status": "s", "StatusDescription": "d", "Stop": true, "Version": 3,
        "SubmitTime": 4, "CreateIndex": 5, "ModifyIndex": 6, "JobModifyIndex": 7,
        "TaskGroups": [{
            "Name": "g", "Count": 0, "Constraints": [], "Meta": {},
            "RestartPolicy": {"Attempts": 1, "Interval": 2, "Delay": 3, "Mode": "delay"},
            "Tasks": [{
                "Name": "t", "Driver": "d", "Config": {"x": 1}, "Env": {"A": "1"},
                "Constraints": [], "Meta": {"m": "1"},
                "Resources": {"CPU": 1, "MemoryMB": 2, "DiskMB": 3, "IOPS": 4, "Networks": [{
                    "Device": "eth0", "CIDR": "10.0.0.0/8", "IP": "10.0.0.1", "MBits": 5,
                    "ReservedPorts": [{"Label": "a", "Value": 1, "To": 2}],
                    "DynamicPorts": [{"Label": "b", "Value": 3, "To": 4}]
                }]}
            }]
        }]
    }"#,
    )
    .unwrap();
    for j in [
        job_of(&full).unwrap(),
        serde_json::from_value(full.clone()).unwrap(),
    ] {
        assert_no_extra(&j);
        let written = serde_json::to_value(&j).unwrap();
        assert_eq!(written, full, "every key was read into its field");
        let again: Job = serde_json::from_value(written).unwrap();
        assert_no_extra(&again);
        assert_eq!(again, j);
    }
    // The empty job's wire form, defaults and all.
    let empty = serde_json::to_value(Job::default()).unwrap();
    let j: Job = serde_json::from_value(empty).unwrap();
    assert_no_extra(&j);
    assert_eq!(j, Job::default());
}

fn assert_no_extra(j: &Job) {
    assert!(j.extra.is_empty(), "{:?}", j.extra);
    assert!(j.update.extra.is_empty());
    for c in j.constraints.iter().flatten() {
        assert!(c.extra.is_empty(), "{:?}", c.extra);
    }
    for g in &j.task_groups {
        assert!(g.extra.is_empty(), "{:?}", g.extra);
        assert!(g.restart_policy.iter().all(|p| p.extra.is_empty()));
        for t in &g.tasks {
            assert!(t.extra.is_empty(), "{:?}", t.extra);
            assert!(t.resources.extra.is_empty(), "{:?}", t.resources.extra);
            for n in t.resources.networks() {
                assert!(n.extra.is_empty(), "{:?}", n.extra);
                for p in n.reserved().iter().chain(n.dynamic()) {
                    assert!(p.extra.is_empty(), "{:?}", p.extra);
                }
            }
        }
    }
}

#[test]
fn null_is_the_default() {
    let nulls = json!({
        "Region": null, "Namespace": null, "ID": null, "Name": null, "Type": null,
        "Priority": null, "AllAtOnce": null, "Datacenters": null, "Constraints": null,
        "Update": null, "Meta": null, "Status": null, "StatusDescription": null,
        "Stop": null, "Version": null, "SubmitTime": null, "CreateIndex": null,
        "ModifyIndex": null, "JobModifyIndex": null, "TaskGroups": null
    });
    let j = job_of(&nulls).unwrap();
    assert_eq!(j, Job::default());
    assert_eq!(j, job_of(&json!({})).unwrap());

    let group = |g: Value| job_of(&json!({"TaskGroups": [g]})).unwrap().task_groups[0].clone();
    let g = group(
        json!({"Name": null, "Count": null, "Constraints": null, "Tasks": null,
                         "RestartPolicy": null, "Meta": null}),
    );
    assert_eq!(g, group(json!({})));
    assert_eq!((g.name.as_str(), g.count, g.tasks.len()), ("", 1, 0));
    assert!(g.constraints.is_none() && g.restart_policy.is_none() && g.meta.is_none());
    assert!(g.extra.is_empty());

    let task = |t: Value| group(json!({"Tasks": [t]})).tasks[0].clone();
    let t = task(
        json!({"Name": null, "Driver": null, "Config": null, "Env": null,
                        "Constraints": null, "Resources": null, "Meta": null}),
    );
    assert_eq!(t, task(json!({})));
    assert_eq!(t.config, Value::Null);
    assert_eq!(t.resources, Resources::task_default());

    let res = |r: Value| task(json!({"Resources": r})).resources;
    let r = res(
        json!({"CPU": null, "MemoryMB": null, "DiskMB": null, "IOPS": null,
                       "Networks": null}),
    );
    assert_eq!(r, Resources::task_default());
    assert_eq!(res(json!({})), Resources::task_default());
    let r = res(json!({"CPU": 0, "MemoryMB": 0}));
    assert_eq!((r.cpu, r.memory_mb), (0, 0), "a 0 the client sent is kept");

    let net = |n: Value| res(json!({"Networks": [n]})).networks.unwrap()[0].clone();
    let n = net(
        json!({"Device": null, "CIDR": null, "IP": null, "MBits": null,
                       "ReservedPorts": null, "DynamicPorts": null}),
    );
    assert_eq!(n, net(json!({})));
    assert_eq!(n, Default::default());
    let p = net(json!({"ReservedPorts": [{"Label": null, "Value": null, "To": null}]}));
    assert_eq!(p.reserved()[0], Default::default());

    let c: Constraint = serde_json::from_value(
        json!({"LTarget": null, "RTarget": null, "Operand": null, "Hard": null, "Weight": null}),
    )
    .unwrap();
    assert_eq!(c, Constraint::default());

    let j = job_of(&json!({"Update": {"Stagger": null, "MaxParallel": null},
        "TaskGroups": [{"RestartPolicy": {"Attempts": null, "Interval": null, "Delay": null,
                                          "Mode": null}}]}))
    .unwrap();
    assert_eq!(j.update, Default::default());
    assert_eq!(j.task_groups[0].restart_policy, Some(Default::default()));
}

#[test]
fn a_wrong_type_is_an_error_at_its_path() {
    let cases = [
        (
            r#"{"Job":{"Priority":"x"}}"#,
            "Job.Priority",
            "invalid type: string \"x\", expected i64",
        ),
        (
            r#"{"Job":{"Update":{"Stagger":"x"}}}"#,
            "Job.Update.Stagger",
            "expected i64",
        ),
        (
            r#"{"Job":{"Constraints":[{"Hard":1}]}}"#,
            "Job.Constraints[0].Hard",
            "expected a boolean",
        ),
        (
            r#"{"Job":{"TaskGroups":[{"Count":"many"}]}}"#,
            "Job.TaskGroups[0].Count",
            "expected i64",
        ),
        (
            r#"{"Job":{"TaskGroups":[{"RestartPolicy":{"Mode":1}}]}}"#,
            "Job.TaskGroups[0].RestartPolicy.Mode",
            "expected a string",
        ),
        (
            r#"{"Job":{"TaskGroups":[{"Tasks":[{"Driver":7}]}]}}"#,
            "Job.TaskGroups[0].Tasks[0].Driver",
            "invalid type: integer `7`, expected a string",
        ),
        (
            r#"{"Job":{"TaskGroups":[{"Tasks":[{"Resources":{"CPU":"x"}}]}]}}"#,
            "Job.TaskGroups[0].Tasks[0].Resources.CPU",
            "expected i64",
        ),
        (
            r#"{"Job":{"TaskGroups":[{"Tasks":[{"Resources":{"Networks":[{"MBits":true}]}}]}]}}"#,
            "Job.TaskGroups[0].Tasks[0].Resources.Networks[0].MBits",
            "expected i64",
        ),
        (
            r#"{"Job":{"TaskGroups":[{"Tasks":[{"Resources":{"Networks":[{"DynamicPorts":[{"To":"x"}]}]}}]}]}}"#,
            "Job.TaskGroups[0].Tasks[0].Resources.Networks[0].DynamicPorts[0].To",
            "expected i64",
        ),
        (
            r#"{"Job":{"NodePool":1e400}}"#,
            "Job.NodePool",
            "number out of range",
        ),
        (
            r#"{"Job":[]}"#,
            "Job",
            "invalid type: sequence, expected struct Job at line 1 column 7",
        ),
        (
            r#"{"Job":"x"}"#,
            "Job",
            "invalid type: string \"x\", expected struct Job",
        ),
        (
            r#"{"Job":{"TaskGroups":[{"Tasks":[{"Resources":[]}]}]}}"#,
            "Job.TaskGroups[0].Tasks[0].Resources",
            "invalid type: sequence, expected struct TaskResourcesWire",
        ),
        (
            r#"{"Job":{"TaskGroups":[1]}}"#,
            "Job.TaskGroups[0]",
            "expected struct TaskGroup",
        ),
        (
            r#"{"Job":{"Update":[]}}"#,
            "Job.Update",
            "expected struct UpdateStrategy",
        ),
    ];
    for (body, path, message) in cases {
        let (p, m) = error_of(body);
        assert_eq!(p, path, "{body}: {m}");
        assert!(m.contains(message), "{body}: {m}");
    }
    // Through a Value: the same error, without the position.
    let err = serde_json::from_value::<Job>(json!({"TaskGroups": [{"Tasks": [{"Driver": 7}]}]}))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid type: integer `7`, expected a string"
    );
    let err = serde_json::from_value::<Job>(json!([])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid type: sequence, expected struct Job"
    );
}

#[test]
fn a_key_sent_twice() {
    // A known key twice is an error, as serde's derived decoders have it...
    assert_eq!(
        error_of(r#"{"Job":{"ID":"a","ID":"b"}}"#),
        (
            "Job".into(),
            "duplicate field `ID` at line 1 column 21".into()
        )
    );
    assert_eq!(
        error_of(r#"{"Job":{"TaskGroups":[{"Name":"g","Name":"h"}]}}"#),
        (
            "Job.TaskGroups[0]".into(),
            "duplicate field `Name` at line 1 column 40".into()
        )
    );
    assert_eq!(
        error_of(r#"{"Job":{"TaskGroups":[{"Tasks":[{"Resources":{"CPU":1,"CPU":2}}]}]}}"#).0,
        "Job.TaskGroups[0].Tasks[0].Resources"
    );
    // ...an unknown one keeps the last value.
    let j: Job = serde_json::from_str(r#"{"ID":"a","X":1,"X":2}"#).unwrap();
    assert_eq!(serde_json::to_value(&j.extra).unwrap(), json!({"X": 2}));
}

#[test]
fn a_body_that_is_not_utf8_is_an_error_at_its_path() {
    let mut body = br#"{"Job":{"ID":"a","Name":"x"#.to_vec();
    body.extend_from_slice(b"\xff\"}}");
    let err = decode::<JobRegisterRequest>(&body, &Limits::default()).unwrap_err();
    let fe = &err.field_errors()[0];
    assert_eq!(fe.path, "Job.Name");
    assert_eq!(fe.message, "invalid unicode code point at line 1 column 27");
    assert_eq!(err.http_status(false), 400);
    // Non-ASCII that is UTF-8 is fine, in known and unknown keys alike.
    let j = job_of(&json!({"ID": "å", "Ünknown": "ß"})).unwrap();
    assert_eq!(
        (j.id.as_str(), &j.extra["Ünknown"].value()),
        ("å", &json!("ß"))
    );
}

#[test]
fn nodes_decode_as_before() {
    use ordu::structs::decode_node;
    let body = json!({"Node": {
        "ID": "n1", "Datacenter": "dc1", "Name": "a", "NodeClass": "c",
        "Attributes": {"kernel.name": "linux"}, "Links": {"l": "1"}, "Meta": {"m": "1"},
        "Resources": {"CPU": 1, "MemoryMB": 2, "Cores": 8},
        "Reserved": {"CPU": 1, "Networks": [{"Device": "eth0", "MBits": 1, "Mode": "host"}]},
        "Drain": true, "Status": "ready", "StatusDescription": "d",
        "CreateIndex": 1, "ModifyIndex": 2, "HTTPAddr": "10.0.0.1:4646", "NodePool": "p"
    }});
    let bytes = serde_json::to_vec(&body).unwrap();
    let n = decode_node(&bytes, &Limits::default()).unwrap();
    assert_eq!(
        serde_json::to_value(&n.extra).unwrap(),
        json!({"HTTPAddr": "10.0.0.1:4646", "NodePool": "p"})
    );
    assert_eq!(n.resources.extra["Cores"].value(), 8);
    assert_eq!(
        n.reserved.as_ref().unwrap().networks()[0].extra["Mode"].value(),
        "host"
    );
    let bare = decode_node(
        &serde_json::to_vec(&body["Node"]).unwrap(),
        &Limits::default(),
    );
    assert_eq!(bare.unwrap(), n);
    // Every key read into its field, and written back the same.
    let written = serde_json::to_value(&n).unwrap();
    assert_eq!(written["HTTPAddr"], body["Node"]["HTTPAddr"]);
    assert_eq!(written["Resources"]["Cores"], 8);
    let again: Node = serde_json::from_value(written).unwrap();
    assert_eq!(again, n);
    let empty: Node =
        serde_json::from_value(serde_json::to_value(Node::default()).unwrap()).unwrap();
    assert_eq!(empty, Node::default());

    // Null: the default where the field says so, an error elsewhere.
    let n: Node = serde_json::from_value(json!({"Attributes": null, "Resources": null,
        "Reserved": null, "Links": null, "Meta": null}))
    .unwrap();
    assert_eq!(n, Node::default());
    let err = serde_json::from_value::<Node>(json!({"Datacenter": null})).unwrap_err();
    assert_eq!(err.to_string(), "invalid type: null, expected a string");
    let err = decode_node(br#"{"ID":"n","Drain":null}"#, &Limits::default()).unwrap_err();
    assert!(
        err.field_errors()[0].message.contains("untagged"),
        "{err:?}"
    );
    // Twice the same key, and not an object.
    let err = serde_json::from_str::<Node>(r#"{"ID":"a","ID":"b"}"#).unwrap_err();
    assert_eq!(err.to_string(), "duplicate field `ID` at line 1 column 14");
    let n = serde_json::from_str::<Node>(r#"{"X":1,"X":[2]}"#).unwrap();
    assert_eq!(n.extra["X"].value(), json!([2]));
    let err = serde_json::from_str::<Node>("[]").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid type: sequence, expected struct Node at line 1 column 0"
    );
    let err = serde_json::from_str::<Node>(r#"{"Resources": {"CPU": "x"}}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid type: string \"x\", expected i64 at line 1 column 25"
    );
}

#[test]
fn evaluations_decode_as_before() {
    use ordu::structs::{AllocMetric, Evaluation};
    let mut e = Evaluation {
        id: "e".into(),
        namespace: "default".into(),
        priority: 50,
        eval_type: "service".into(),
        triggered_by: "job-register".into(),
        job_id: "j".into(),
        job_modify_index: 3,
        node_id: "n".into(),
        node_modify_index: 4,
        status: EvalStatus::Complete,
        status_description: "s".into(),
        wait: 5,
        next_eval: "a".into(),
        previous_eval: "b".into(),
        blocked_eval: "c".into(),
        snapshot_index: 6,
        create_index: 7,
        modify_index: 8,
        create_time: 9,
        modify_time: 10,
        ..Evaluation::default()
    };
    e.failed_tg_allocs
        .insert("g".into(), AllocMetric::default());
    e.queued_allocations.insert("g".into(), 2);
    let written = serde_json::to_value(&e).unwrap();
    let back: Evaluation = serde_json::from_value(written.clone()).unwrap();
    assert_eq!(back, e, "no known key lands in extra");
    let back: Evaluation = serde_json::from_str(&written.to_string()).unwrap();
    assert_eq!(back, e);

    let mut sent = written.clone();
    sent["Annotations"] = json!({"x": [1]});
    sent["RelatedEvals"] = json!(null);
    let back: Evaluation = serde_json::from_str(&sent.to_string()).unwrap();
    assert_eq!(
        serde_json::to_value(&back.extra).unwrap(),
        json!({"Annotations": {"x": [1]}, "RelatedEvals": null})
    );
    assert_eq!(serde_json::to_value(&back).unwrap(), sent);

    let err = serde_json::from_value::<Evaluation>(json!({"Namespace": "x"})).unwrap_err();
    assert_eq!(err.to_string(), "missing field `ID`");
    let err = serde_json::from_str::<Evaluation>(r#"{"ID":"e","Wait":null}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid type: null, expected i64 at line 1 column 21"
    );
    let err = serde_json::from_str::<Evaluation>(r#"{"ID":"e","ID":"f"}"#).unwrap_err();
    assert_eq!(err.to_string(), "duplicate field `ID` at line 1 column 14");
    let err = serde_json::from_str::<Evaluation>(r#""e""#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid type: string \"e\", expected struct Evaluation at line 1 column 3"
    );
}

#[test]
fn unknown_fields_compare_by_value_not_by_spacing() {
    // Unknown fields are stored as text; a client re-sending the same job with
    // other spacing or key order must still be the same spec.
    let a: Job = serde_json::from_str(r#"{"ID":"j","X":{"b":[1, 2],"a":"s"}}"#).unwrap();
    let b: Job =
        serde_json::from_str("{\"ID\":\"j\",\n \"X\" : { \"a\" : \"s\", \"b\" : [ 1 ,2 ] } }")
            .unwrap();
    assert!(a.same_spec(&b));
    assert_eq!(a.extra["X"].get(), r#"{"a":"s","b":[1,2]}"#);
    let c: Job = serde_json::from_str(r#"{"ID":"j","X":{"a":"s","b":[1,3]}}"#).unwrap();
    assert!(!a.same_spec(&c));
    // And they are written back as JSON, not as a string.
    let back = serde_json::to_value(&a).unwrap();
    assert_eq!(back["X"], json!({"a": "s", "b": [1, 2]}));
}
