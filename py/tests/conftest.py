"""Shared helpers of the ordu Python tests: a fresh store per test, and jobs
and nodes that fit each other (or never fit anything)."""

from __future__ import annotations

import copy
import json
import pathlib
import uuid

import pytest

import ordu

SEED = json.loads(
    (pathlib.Path(__file__).resolve().parents[2] / "testdata" / "seed-job.json").read_text()
)
LINUX = {"LTarget": "${attr.kernel.os}", "RTarget": "linux", "Operand": "="}


def uid() -> str:
    return uuid.uuid4().hex[:8]


def seed_job(job_id: str | None = None) -> dict:
    """The seed job under a fresh ID; its job constraint (kernel.os = windows)
    matches no node, so it is never placed."""
    job = copy.deepcopy(SEED)
    job["ID"] = job_id or f"seed-{uid()}"
    return job


def fitting_job(dc: str, count: int = 2, job_id: str | None = None) -> dict:
    """A job whose `count` allocations (CPU 1000 each) fit on `node(dc)`."""
    job = seed_job(job_id or f"fit-{uid()}")
    job["Datacenters"] = [dc]
    job["Constraints"] = [dict(LINUX)]
    job["TaskGroups"][0]["Count"] = count
    job["TaskGroups"][0]["Constraints"] = [dict(LINUX)]
    job["TaskGroups"][0]["Tasks"][1]["Constraints"] = None
    return job


def node(dc: str = "dc1", node_id: str | None = None, cpu: int = 4000,
         mbits: int = 1000) -> dict:
    node_id = node_id or str(uuid.uuid4())
    return {
        "ID": node_id,
        "Name": f"node-{node_id[:8]}",
        "Datacenter": dc,
        "Attributes": {"kernel.os": "linux", "kernel.arch": "amd64",
                       "driver.docker": "1", "driver.java": "1"},
        "Resources": {"CPU": cpu, "MemoryMB": 8192, "DiskMB": 100000, "IOPS": 1000,
                      "Networks": [{"Device": "eth0", "CIDR": "10.0.0.1/32",
                                    "IP": "10.0.0.1", "MBits": mbits}]},
        "Status": "ready",
    }


@pytest.fixture
def store() -> ordu.Store:
    return ordu.Store()
