//! The re-register workload, shared by the `reregister` bench (its speed)
//! and the `soak` example (what it keeps resident), so both measure the
//! same writes: one small service job (2 allocations, a dynamic port each)
//! registered again and again from its JSON body, on 3 roomy nodes, as
//! ordu-http's re-register load sends it.

use ordu::{Config, Store};

/// The job's ID, in the path and in the body.
pub const JOB_ID: &str = "web";

/// The job's body, as `PUT /v1/job/web` carries it.
pub const JOB: &[u8] = br#"{"Job": {"ID": "web", "Datacenters": ["dc1"],
 "TaskGroups": [{"Name": "web", "Count": 2,
   "Tasks": [{"Name": "nginx", "Driver": "docker", "Config": {"image": "nginx"},
              "Resources": {"CPU": 500, "MemoryMB": 256,
                            "Networks": [{"MBits": 10, "DynamicPorts": [{"Label": "http"}]}]}}]}]}}"#;

/// The body of node `n` (1 to 254): room for far more than the job.
fn node(n: usize) -> String {
    serde_json::json!({"Node": {
        "ID": format!("de000000-0000-4000-8000-{n:012x}"),
        "Name": format!("node-{n}"), "Datacenter": "dc1",
        "Attributes": {"kernel.name": "linux", "driver.docker": "1"},
        "Resources": {"CPU": 64000, "MemoryMB": 262144, "DiskMB": 2000000,
            "Networks": [{"Device": "eth0", "CIDR": format!("10.0.0.{n}/32"),
                          "IP": format!("10.0.0.{n}"), "MBits": 10000}]},
        "Status": "ready"}})
    .to_string()
}

/// A store with `config` and the workload's 3 nodes, no job yet.
pub fn store(config: Config) -> Store {
    let s = Store::new(config);
    for n in 1..=3 {
        ordu::host::register_node_at(&s, None, node(n).as_bytes(), None).unwrap();
    }
    s
}

/// One re-register of the job, through the host API as a front end calls it.
pub fn reregister(s: &Store) {
    ordu::host::register_job_at(s, Some(JOB_ID), JOB, &ordu::host::write_options(None, None))
        .unwrap();
}
