"""DELETE /v1/job/<id>[?purge=true]: the job goes, a job-deregister evaluation
stops its allocations, and both stay listable."""

import pytest


@pytest.mark.parametrize("params", [None, {"purge": "true"}], ids=["plain", "purge"])
def test_deregister_removes_the_job_and_stops_its_allocations(api, h, params):
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=2)
    reg = api.register(job)
    placed = api.job_allocs(job["ID"])
    assert len(h.running(placed)) == 2
    last = api.job(job["ID"])
    list_index = api.jobs_index()

    r = api.request("DELETE", api.job_path(job["ID"]), params=params)
    body = r.ok()
    for key in ("EvalID", "EvalCreateIndex", "JobModifyIndex", "Index"):
        assert key in body, f"deregister reply lacks {key}: {body}"
    assert r.index == body["Index"] == body["EvalCreateIndex"] == body["JobModifyIndex"]
    assert body["Index"] > last["ModifyIndex"]
    assert h.UUID_RE.match(body["EvalID"])

    # The job is gone, from GET and from the list.
    gone = api.get(api.job_path(job["ID"]))
    gone.error(404, "job not found")
    assert gone.read_headers() >= last["ModifyIndex"], "an index went backwards"
    assert job["ID"] not in [s["ID"] for s in api.jobs(prefix=job["ID"])]
    assert api.jobs_index() > list_index

    # The deregister evaluation ran and stopped every allocation.
    ev = api.eval(body["EvalID"])
    assert ev["TriggeredBy"] == "job-deregister"
    assert ev["JobID"] == job["ID"]
    assert ev["Status"] == "complete"
    evals = {e["ID"]: e for e in api.job_evals(job["ID"])}
    assert {reg["EvalID"], body["EvalID"]} <= set(evals)
    allocs = api.job_allocs(job["ID"])
    assert {a["ID"] for a in allocs} == {a["ID"] for a in placed}
    assert all(a["DesiredStatus"] == "stop" for a in allocs), allocs
    for a in allocs:
        assert api.alloc(a["ID"])["DesiredStatus"] == "stop"


def test_deregister_missing_job_writes_nothing(api):
    job_id = api.job_id("ghost")
    before = api.jobs_index()
    r = api.request("DELETE", api.job_path(job_id))
    body = r.ok()
    assert body["EvalID"] == ""
    assert body["EvalCreateIndex"] == 0
    assert body["Index"] == 0
    assert r.headers.get("X-Nomad-Index") == "0"
    assert api.jobs_index() == before
    assert api.job_evals(job_id) == []


def test_deregister_twice(api):
    job = api.seed_job()
    api.register(job)
    first = api.deregister(job["ID"])
    assert first["EvalID"] != ""
    before = api.jobs_index()
    second = api.deregister(job["ID"])
    assert second["EvalID"] == "" and second["Index"] == 0
    assert api.jobs_index() == before
    evals = api.job_evals(job["ID"])
    assert [e["TriggeredBy"] for e in evals].count("job-deregister") == 1


def test_deregister_unplaced_job_keeps_its_evaluations(api):
    job = api.seed_job()
    reg = api.register(job)
    body = api.deregister(job["ID"])
    evals = {e["ID"]: e for e in api.job_evals(job["ID"])}
    assert reg["EvalID"] in evals and body["EvalID"] in evals
    assert evals[body["EvalID"]]["TriggeredBy"] == "job-deregister"


def test_reregister_after_deregister_is_a_new_incarnation(api, h):
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=1)
    api.register(dict(job))
    old = api.job(job["ID"])
    old_allocs = api.job_allocs(job["ID"])
    api.deregister(job["ID"])
    # With no job, the stopped allocations are still listed.
    stopped = api.job_allocs(job["ID"])
    assert [a["ID"] for a in stopped] == [a["ID"] for a in old_allocs]
    assert stopped[0]["DesiredStatus"] == "stop"

    reply = api.register(dict(job))
    new = api.job(job["ID"])
    assert new["CreateIndex"] == reply["Index"] > old["CreateIndex"]
    assert new["Version"] == 0
    current = api.job_allocs(job["ID"])
    assert len(current) == 1
    assert current[0]["ID"] != old_allocs[0]["ID"]
    assert current[0]["DesiredStatus"] == "run"
    assert current[0]["Name"] == old_allocs[0]["Name"] == f"{job['ID']}.binsl[0]"
    every = api.job_allocs(job["ID"], all_=True)
    assert {a["ID"] for a in every} == {current[0]["ID"], old_allocs[0]["ID"]}
    by_id = {a["ID"]: a for a in every}
    assert by_id[old_allocs[0]["ID"]]["DesiredStatus"] == "stop"
