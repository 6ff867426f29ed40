"""Store.plan_job: the scheduler's dry run (Nomad's job plan) from Python."""

from __future__ import annotations

import json

import pytest

import ordu
from conftest import fitting_job, node, seed_job


def test_plan_answers_what_a_register_then_does_and_writes_nothing(store):
    store.register_node({"Node": node("dc1")})
    job = fitting_job("dc1", count=2)
    group = job["TaskGroups"][0]["Name"]
    before = store.index

    plan = store.plan_job(job["ID"], {"Job": job, "Diff": True})
    assert store.index == before
    updates = plan["Annotations"]["DesiredTGUpdates"][group]
    assert updates["Place"] == 2
    assert plan["FailedTGAllocs"] is None
    assert plan["JobModifyIndex"] == plan["Index"] == 0
    assert plan["Diff"]["Type"] == "Added"
    with pytest.raises(ordu.NotFoundError):
        store.job(job["ID"])

    reply = store.register_job({"Job": job})
    allocs, _ = store.job_allocations(job["ID"])
    assert len(allocs) == updates["Place"]

    # The same job again, as JSON text: everything ignored; the index is
    # the stored job's, for a check-and-set register.
    plan = store.plan_job(job["ID"], json.dumps({"Job": job, "Diff": True}))
    assert plan["JobModifyIndex"] == reply["JobModifyIndex"]
    assert plan["Annotations"]["DesiredTGUpdates"][group]["Ignore"] == 2
    assert plan["Diff"]["Type"] == "None"
    job["TaskGroups"][0]["Count"] = 1
    store.register_job({"Job": job, "EnforceIndex": True,
                        "JobModifyIndex": plan["JobModifyIndex"]})


def test_plan_reports_failures_and_refuses_what_register_refuses(store):
    store.register_node({"Node": node("dc1")})
    job = seed_job()  # asks for windows: placed nowhere
    plan = store.plan_job(job["ID"], {"Job": job})
    assert set(plan["FailedTGAllocs"]) == {job["TaskGroups"][0]["Name"]}
    assert plan["Diff"] is None

    before = store.index
    with pytest.raises(ordu.InvalidError) as ei:
        store.plan_job("other", {"Job": job})
    assert "Job ID does not match" in str(ei.value)
    bad = dict(job, TaskGroups=[{"Name": "g", "Tasks": [{"Name": "t"}]}])
    with pytest.raises(ordu.InvalidError) as ei:
        store.plan_job(job["ID"], {"Job": bad})
    assert any(e["path"].endswith("Driver") for e in ei.value.errors)
    with pytest.raises(ordu.RegionError):
        store.plan_job(job["ID"], {"Job": job}, region="mars")
    assert store.index == before
