"""Demo nodes: something for jobs to be placed on."""

from __future__ import annotations

import uuid
from typing import Any, Dict


def demo_node(i: int, datacenter: str = "dc1") -> Dict[str, Any]:
    """A ready linux/amd64 node with docker, exec and java drivers, 4 cores and
    8 GiB: something for jobs to be placed on."""
    node_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"ordu-demo-node-{datacenter}-{i}"))
    ip = f"10.0.{i // 250}.{i % 250 + 1}"
    return {
        "ID": node_id,
        "Name": f"demo-{i}",
        "Datacenter": datacenter,
        "NodeClass": "",
        "Attributes": {
            "kernel.os": "linux",
            "kernel.arch": "amd64",
            "driver.docker": "1",
            "driver.exec": "1",
            "driver.java": "1",
        },
        "Resources": {
            "CPU": 4000,
            "MemoryMB": 8192,
            "DiskMB": 100000,
            "IOPS": 1000,
            "Networks": [{"Device": "eth0", "CIDR": f"{ip}/32", "IP": ip, "MBits": 1000}],
        },
        "Reserved": {"CPU": 0, "MemoryMB": 0, "DiskMB": 0, "IOPS": 0},
        "Meta": {"demo": "1"},
        "Status": "ready",
    }
