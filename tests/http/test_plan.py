"""PUT/POST /v1/job/<id>/plan: Nomad's scheduler dry run (issue 15, point 3).

The answer is Nomad's JobPlanResponse: per group what the scheduler would do
(`Annotations.DesiredTGUpdates`), why it could not place (`FailedTGAllocs`),
the stored job's `JobModifyIndex` for a later check-and-set register, and the
`Diff` when asked. A plan writes nothing, and it is what a register then does.
"""

import pytest

UPDATE_FIELDS = {"Ignore", "Place", "Migrate", "Stop", "InPlaceUpdate",
                 "DestructiveUpdate", "Canary", "Preemptions"}


def plan(api, job, diff=False, method="PUT", path_id=None):
    r = api.request(method, api.job_path(path_id or job["ID"], "/plan"),
                    body={"Job": job, "Diff": diff})
    body = r.ok()
    assert r.index == body["Index"], f"X-Nomad-Index != body Index: {r!r}"
    return body


def indexes(api):
    """The indexes a write would move: jobs, evaluations, allocations."""
    return tuple(api.get(p).index for p in ("/v1/jobs", "/v1/evaluations", "/v1/allocations"))


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_a_new_job_plans_its_placements_and_writes_nothing(api, method):
    dc = api.dc()
    api.add_node(dc)
    api.add_node(dc)
    job = api.fitting_job(dc, count=2)
    before = indexes(api)
    body = plan(api, job, diff=True, method=method)
    assert indexes(api) == before
    api.get(api.job_path(job["ID"])).error(404, "job not found")

    assert set(body) >= {"Annotations", "FailedTGAllocs", "JobModifyIndex", "CreatedEvals",
                         "Diff", "NextPeriodicLaunch", "Warnings", "Index"}
    group = job["TaskGroups"][0]["Name"]
    updates = body["Annotations"]["DesiredTGUpdates"]
    assert set(updates) == {group}
    assert set(updates[group]) == UPDATE_FIELDS
    assert updates[group]["Place"] == 2
    assert sum(updates[group].values()) == 2
    assert body["Annotations"]["PreemptedAllocs"] is None
    assert body["FailedTGAllocs"] is None
    assert body["JobModifyIndex"] == 0 and body["Index"] == 0
    assert body["NextPeriodicLaunch"] == "0001-01-01T00:00:00Z"
    diff = body["Diff"]
    assert diff["Type"] == "Added" and diff["ID"] == job["ID"]
    assert diff["TaskGroups"][0]["Name"] == group
    assert diff["TaskGroups"][0]["Type"] == "Added"
    assert diff["TaskGroups"][0]["Updates"] == {"create": 2}


def test_the_plan_is_what_a_register_then_does(api, h):
    dc = api.dc()
    for _ in range(3):
        api.add_node(dc)
    job = api.fitting_job(dc, count=2)
    api.register(job)
    group = job["TaskGroups"][0]["Name"]
    stored = api.job(job["ID"])

    # Count 2 -> 4: two placed; the change updates the others in place.
    job["TaskGroups"][0]["Count"] = 4
    body = plan(api, job, diff=True)
    assert body["JobModifyIndex"] == stored["JobModifyIndex"] == body["Index"]
    u = body["Annotations"]["DesiredTGUpdates"][group]
    assert (u["Place"], u["InPlaceUpdate"], u["Stop"], u["DestructiveUpdate"]) == (2, 2, 0, 0)
    g = body["Diff"]["TaskGroups"][0]
    assert body["Diff"]["Type"] == "Edited" and g["Type"] == "Edited"
    count = [f for f in g["Fields"] if f["Name"] == "Count"]
    assert count == [{"Type": "Edited", "Name": "Count", "Old": "2", "New": "4",
                      "Annotations": ["forces create"]}]

    # A check-and-set register with the plan's index succeeds, and does that.
    api.register(job, EnforceIndex=True, JobModifyIndex=body["JobModifyIndex"])
    assert len(h.running(api.job_allocs(job["ID"]))) == 4

    # Count 4 -> 1: three stopped, the one left updated in place.
    job["TaskGroups"][0]["Count"] = 1
    u = plan(api, job)["Annotations"]["DesiredTGUpdates"][group]
    assert (u["Stop"], u["InPlaceUpdate"], u["Place"]) == (3, 1, 0)
    api.register(job)
    assert len(h.running(api.job_allocs(job["ID"]))) == 1

    # The same spec again: everything ignored, diff None.
    body = plan(api, job, diff=True)
    u = body["Annotations"]["DesiredTGUpdates"][group]
    assert u["Ignore"] == 1 and sum(u.values()) == 1
    assert body["Diff"]["Type"] == "None"
    assert body["Diff"]["TaskGroups"][0]["Updates"] == {"ignore": 1}

    # A task's config changed: replaced (destructive), the task says so.
    job["TaskGroups"][0]["Tasks"][0]["Config"] = {"image": "other:2"}
    body = plan(api, job, diff=True)
    u = body["Annotations"]["DesiredTGUpdates"][group]
    assert u["DestructiveUpdate"] == 1
    task = body["Diff"]["TaskGroups"][0]["Tasks"][0]
    assert task["Type"] == "Edited"
    assert task["Annotations"] == ["forces create/destroy update"]


def test_a_job_that_cannot_be_placed_reports_its_failures(api):
    dc = api.dc()
    api.add_node(dc)
    job = api.seed_job()  # asks for windows: no node qualifies
    job["Datacenters"] = [dc]
    body = plan(api, job)
    failed = body["FailedTGAllocs"]
    group = job["TaskGroups"][0]["Name"]
    assert set(failed) == {group}
    assert failed[group]["NodesEvaluated"] >= 1
    assert failed[group]["ConstraintFiltered"]
    assert body["Annotations"]["DesiredTGUpdates"][group]["Place"] == \
        job["TaskGroups"][0]["Count"]
    # What the register then reports is the same failure.
    reg = api.register(job)
    assert api.eval(reg["EvalID"])["FailedTGAllocs"] == failed


def test_plan_without_diff_answers_null_diff(api):
    job = api.sparse_job()
    body = plan(api, job)
    assert body["Diff"] is None
    assert body["CreatedEvals"] is None


def test_plan_errors_are_nomads(api, h):
    job = api.sparse_job()
    before = indexes(api)
    # The path's ID must be the job's.
    r = api.request("PUT", api.job_path(job["ID"] + "-other", "/plan"), body={"Job": job})
    r.error(400, "Job ID does not match")
    # No job.
    api.request("PUT", api.job_path(job["ID"], "/plan"), body={"Diff": True}).error(
        400, "Job must be specified")
    # A job a register refuses.
    bad = dict(job, TaskGroups=[{"Name": "g", "Tasks": [{"Name": "t"}]}])
    r = api.request("PUT", api.job_path(job["ID"], "/plan"), body={"Job": bad})
    h.assert_problems(r.error(500), "TaskGroups[0].Tasks[0].Driver")
    # Only PUT and POST.
    api.get(api.job_path(job["ID"], "/plan")).error(405)
    assert indexes(api) == before
