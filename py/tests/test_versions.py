"""Job versions through the binding: versions kept per spec change, revert
(with EnforcePriorVersion) and stability."""

from __future__ import annotations

import pytest

import ordu
from conftest import seed_job


def _register(store, job, count):
    job["TaskGroups"][0]["Count"] = count
    return store.register_job({"Job": job})


def test_versions_revert_and_stable(store):
    job = seed_job()
    for n in (1, 2, 3):
        _register(store, job, n)
    value, index = store.job_versions(job["ID"])
    assert value["Diffs"] is None
    assert [(v["Version"], v["TaskGroups"][0]["Count"]) for v in value["Versions"]] == [
        (2, 3), (1, 2), (0, 1)]
    assert all(v["Stable"] is False for v in value["Versions"])
    assert index > 0

    reply = store.revert_job(job["ID"], {"JobID": job["ID"], "JobVersion": 0,
                                          "EnforcePriorVersion": 2})
    assert reply["EvalID"]
    current, _ = store.job(job["ID"])
    assert (current["Version"], current["TaskGroups"][0]["Count"]) == (3, 1)

    reply = store.set_job_stability(job["ID"], {"JobID": job["ID"], "JobVersion": 1,
                                                 "Stable": True})
    assert reply["Index"] > 0
    value, _ = store.job_versions(job["ID"], index=index)
    assert [v["Stable"] for v in value["Versions"]] == [False, False, True, False]


def test_version_errors(store):
    job = seed_job()
    _register(store, job, 1)
    _register(store, job, 2)
    with pytest.raises(ordu.ConflictError, match="can't revert to current version"):
        store.revert_job(job["ID"], {"JobID": job["ID"], "JobVersion": 1})
    with pytest.raises(ordu.ConflictError, match="Current job has version 1"):
        store.revert_job(job["ID"], {"JobID": job["ID"], "JobVersion": 0,
                                     "EnforcePriorVersion": 0})
    with pytest.raises(ordu.NotFoundError, match="at version 9 not found"):
        store.revert_job(job["ID"], {"JobID": job["ID"], "JobVersion": 9})
    with pytest.raises(ordu.NotFoundError):
        store.set_job_stability(job["ID"], {"JobID": job["ID"], "JobVersion": 9,
                                            "Stable": True})
    with pytest.raises(ordu.InvalidError, match="Job ID does not match"):
        store.revert_job(job["ID"], {"JobID": "other", "JobVersion": 0})
    with pytest.raises(ordu.NotFoundError):
        store.job_versions("missing")


def test_tracked_versions_setting():
    store = ordu.Store({"job_tracked_versions": 2})
    job = seed_job()
    for n in (1, 2, 3):
        _register(store, job, n)
    value, _ = store.job_versions(job["ID"])
    assert [v["Version"] for v in value["Versions"]] == [2, 1]
