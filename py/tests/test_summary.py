"""Job summary, scale and the job sub-resources ordu does not model, through
the binding."""

from __future__ import annotations

import pytest

import ordu
from conftest import fitting_job, node, seed_job, uid


def test_summary_and_scale(store):
    dc = f"dc-{uid()}"
    store.register_node(node(dc))
    job = fitting_job(dc, count=2)
    store.register_job({"Job": job})
    group = job["TaskGroups"][0]["Name"]
    summary, index = store.job_summary(job["ID"])
    assert summary["Summary"][group]["Starting"] == 2
    assert summary["Children"] == {"Pending": 0, "Running": 0, "Dead": 0}
    assert index == summary["ModifyIndex"]

    reply = store.scale_job(job["ID"], {"Count": 3, "Target": {"Group": group}})
    assert reply["EvalID"]
    status, _ = store.job_scale_status(job["ID"])
    assert status["TaskGroups"][group]["Desired"] == 3
    assert status["TaskGroups"][group]["Placed"] == 3
    assert status["TaskGroups"][group]["Events"] is None
    summary, _ = store.job_summary(job["ID"], index=index)
    assert summary["Summary"][group]["Starting"] == 3

    with pytest.raises(ordu.InvalidError, match="does not exist in job"):
        store.scale_job(job["ID"], {"Count": 1, "Target": {"Group": "zz"}})
    with pytest.raises(ordu.NotFoundError):
        store.job_summary("missing")


def test_sub_resources_ordu_lacks(store):
    job = seed_job()
    store.register_job({"Job": job})
    assert store.job_deployments(job["ID"])[0] == []
    assert store.job_deployment(job["ID"])[0] is None
    with pytest.raises(ordu.ConflictError, match="non-periodic"):
        store.force_periodic_job(job["ID"])
    with pytest.raises(ordu.ConflictError, match="not a parameterized job"):
        store.dispatch_job(job["ID"])
    with pytest.raises(ordu.NotFoundError):
        store.dispatch_job("missing")
