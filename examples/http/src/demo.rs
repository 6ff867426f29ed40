//! Demo nodes (`--demo-nodes N`): N ready nodes in `dc1` and one each in
//! `us2` and `eu1`, for jobs to place on.

use ordu::Store;

/// One demo node: ready, generous, with the common drivers.
fn demo_node(n: usize, dc: &str) -> serde_json::Value {
    let ip = format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
    serde_json::json!({"Node": {
        "ID": format!("de000000-0000-4000-8000-{n:012x}"),
        "Name": format!("demo-{dc}-{n}"),
        "Datacenter": dc,
        "Attributes": {
            "kernel.name": "linux", "kernel.os": "linux", "kernel.arch": "amd64",
            "arch": "amd64", "os.name": "debian",
            "driver.docker": "1", "driver.exec": "1", "driver.java": "1",
            "java.version": "17.0.2", "docker.version": "24.0.7",
        },
        "Resources": {
            "CPU": 64000, "MemoryMB": 262144, "DiskMB": 2000000, "IOPS": 100000,
            "Networks": [{"Device": "eth0", "CIDR": format!("{ip}/32"), "IP": ip, "MBits": 10000}],
        },
        "Reserved": {"CPU": 0, "MemoryMB": 0, "DiskMB": 0, "IOPS": 0},
        "Meta": {"demo": "true"},
        "Status": "ready",
    }})
}

pub fn register_demo_nodes(store: &Store, count: usize) -> Result<(), String> {
    if count == 0 {
        return Ok(());
    }
    let dcs = (0..count).map(|_| "dc1").chain(["us2", "eu1"]).enumerate();
    for (i, dc) in dcs {
        let body = demo_node(i + 1, dc).to_string();
        ordu::host::register_node_at(store, None, body.as_bytes(), None)
            .map_err(|e| format!("demo node {}: {e}", i + 1))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_nodes_register_and_place_the_seed_datacenters() {
        let store = Store::default();
        register_demo_nodes(&store, 3).unwrap();
        let nodes = store
            .nodes("", &ordu::QueryOptions::default())
            .unwrap()
            .value;
        assert_eq!(nodes.len(), 5);
        let dcs: Vec<_> = nodes.iter().map(|n| n.datacenter.as_str()).collect();
        assert_eq!(dcs.iter().filter(|d| **d == "dc1").count(), 3);
        assert!(dcs.contains(&"us2") && dcs.contains(&"eu1"));
        assert!(nodes.iter().all(|n| n.status == "ready"));
        // An ordinary job places on them.
        let job = br#"{"Job":{"ID":"web","Datacenters":["dc1"],"TaskGroups":[{"Name":"g","Count":3,
            "Tasks":[{"Name":"t","Driver":"docker","Resources":{"CPU":500,"MemoryMB":256}}]}]}}"#;
        ordu::host::register_job(&store, job, &ordu::host::write_options(None, None)).unwrap();
        let allocs = store
            .job_allocations("web", false, &ordu::QueryOptions::default())
            .unwrap()
            .value;
        assert_eq!(allocs.len(), 3);
        assert!(allocs.iter().all(|a| !a.node_id.is_empty()));
    }
}
