"""Job summary and scale as Nomad 1.x serves them (issue 15, point 4), and the
job sub-resources ordu does not model (point 9): deployments, periodic force and
dispatch answer what Nomad answers for a job that has none.

Summary: per task group, allocations by client status (every incarnation of the
job ID) and ``Queued`` from the latest evaluation naming the group; ``Children``
always zero. Scale: GET answers Nomad's JobScaleStatus (``Events`` null: ordu
keeps no scaling events); POST changes a group's count as a new version with a
``job-scaling`` evaluation.
"""

import threading
import time

import pytest

GROUP_KEYS = {"Queued", "Complete", "Failed", "Running", "Starting", "Lost", "Unknown"}


def _summary(api, job_id):
    r = api.get(api.job_path(job_id, "/summary"))
    body = r.ok()
    r.read_headers()
    return r, body


def test_summary_counts_allocations_by_client_status(api):
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=2)
    api.register(job)
    r, s = _summary(api, job["ID"])
    assert set(s) >= {"JobID", "Namespace", "Summary", "Children", "CreateIndex", "ModifyIndex"}
    assert s["JobID"] == job["ID"] and s["Namespace"] == "default"
    assert s["Children"] == {"Pending": 0, "Running": 0, "Dead": 0}
    group = job["TaskGroups"][0]["Name"]
    assert set(s["Summary"]) == {group}
    assert set(s["Summary"][group]) == GROUP_KEYS
    assert s["Summary"][group]["Starting"] == 2
    assert s["Summary"][group]["Queued"] == 0
    assert s["CreateIndex"] == api.job(job["ID"])["CreateIndex"]
    assert r.index == s["ModifyIndex"]

    allocs = api.job_allocs(job["ID"])
    api.alloc_status(allocs[0]["ID"], "running")
    api.alloc_status(allocs[1]["ID"], "failed")  # replaced: a new one starts
    _, s = _summary(api, job["ID"])
    counts = s["Summary"][group]
    assert (counts["Running"], counts["Failed"]) == (1, 1)
    by_status = {}
    for a in api.job_allocs(job["ID"], all_=True):
        by_status[a["ClientStatus"]] = by_status.get(a["ClientStatus"], 0) + 1
    assert counts["Starting"] == by_status.get("pending", 0)
    assert counts["Running"] == by_status.get("running", 0)
    assert counts["Failed"] == by_status.get("failed", 0)


def test_summary_queued_comes_from_the_evaluation(api):
    dc = api.dc()  # no node in it: nothing can be placed
    job = api.fitting_job(dc, count=3)
    api.register(job)
    _, s = _summary(api, job["ID"])
    group = job["TaskGroups"][0]["Name"]
    assert s["Summary"][group]["Queued"] == 3
    assert s["Summary"][group]["Starting"] == 0


def test_summary_blocks_until_an_allocation_changes(api):
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=1)
    api.register(job)
    r, _ = _summary(api, job["ID"])
    alloc = api.job_allocs(job["ID"])[0]

    def later():
        time.sleep(0.3)
        api.alloc_status(alloc["ID"], "running")

    t = threading.Thread(target=later)
    t.start()
    polled = api.poll(api.job_path(job["ID"], "/summary"), r.index, "5s")
    t.join()
    assert polled.index > r.index
    group = job["TaskGroups"][0]["Name"]
    assert polled.ok()["Summary"][group]["Running"] == 1


def test_summary_of_a_missing_job_is_404(api):
    api.get(api.job_path(api.job_id("missing"), "/summary")).error(404, "job not found")
    job = api.sparse_job()
    api.register(job)
    api.request("POST", api.job_path(job["ID"], "/summary")).expect(405)


def test_scale_status(api):
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=2)
    api.register(job)
    r = api.get(api.job_path(job["ID"], "/scale"))
    st = r.ok()
    r.read_headers()
    current = api.job(job["ID"])
    group = job["TaskGroups"][0]["Name"]
    assert st["JobID"] == job["ID"]
    assert st["JobCreateIndex"] == current["CreateIndex"]
    assert st["JobModifyIndex"] == current["ModifyIndex"]
    assert st["JobStopped"] is False
    g = st["TaskGroups"][group]
    assert (g["Desired"], g["Placed"], g["Running"], g["Healthy"], g["Unhealthy"]) == (2, 2, 0, 0, 0)
    assert g["Events"] is None
    api.alloc_status(api.job_allocs(job["ID"])[0]["ID"], "running")
    g = api.get(api.job_path(job["ID"], "/scale")).ok()["TaskGroups"][group]
    assert g["Running"] == 1
    api.get(api.job_path(api.job_id("missing"), "/scale")).error(404, "job not found")


def test_scale_changes_the_count_as_a_new_version(api):
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=1)
    api.register(job)
    before = api.job(job["ID"])
    group = job["TaskGroups"][0]["Name"]
    r = api.request("POST", api.job_path(job["ID"], "/scale"),
                    body={"Count": 3, "Target": {"Group": group}, "Message": "more",
                          "PolicyOverride": False})
    body = r.ok()
    assert r.index == body["Index"]
    assert body["EvalID"] and body["EvalCreateIndex"] == body["Index"]
    after = api.job(job["ID"])
    assert after["Version"] == before["Version"] + 1
    assert after["TaskGroups"][0]["Count"] == 3
    assert body["JobModifyIndex"] == after["JobModifyIndex"]
    assert api.eval(body["EvalID"])["TriggeredBy"] == "job-scaling"
    assert len(api.job_allocs(job["ID"])) == 3
    # Without a count nothing is written.
    body = api.request("PUT", api.job_path(job["ID"], "/scale"),
                       body={"Target": {"Group": group}, "Message": "note"}).ok()
    assert body["EvalID"] == "" and body["Index"] == 0
    assert api.job(job["ID"])["Version"] == after["Version"]


def test_scale_errors(api):
    job = api.sparse_job()
    api.register(job)
    path = api.job_path(job["ID"], "/scale")
    api.request("POST", path, body={"Count": 2, "Target": {"Group": "zz"}}).error(
        400, 'task group "zz" specified for scaling does not exist in job')
    api.request("POST", path, body={"Count": 2, "Target": {}}).error(
        400, "missing task group name for scaling action")
    api.request("POST", path, body={"Count": -1, "Target": {"Group": "g"}}).error(
        400, "scaling action count can't be negative")
    from conftest import MAX_COUNT
    api.request("POST", path, body={"Count": MAX_COUNT + 1, "Target": {"Group": "g"}}).expect(400)
    api.request("POST", path, body={"Count": 2, "Target": {"Group": "g"},
                                    "JobModifyIndex": 1}).error(
        500, "conflicting job modify index")
    missing = api.job_id("missing")
    api.request("POST", api.job_path(missing, "/scale"),
                body={"Count": 1, "Target": {"Group": "g"}}).error(500, "job not found")
    assert api.job(job["ID"])["Version"] == 0
    api.request("DELETE", path).expect(405)


def test_deployments_of_a_job_are_none(api):
    job = api.sparse_job()
    api.register(job)
    r = api.get(api.job_path(job["ID"], "/deployments"))
    assert r.ok() == []
    r.read_headers()
    r = api.get(api.job_path(job["ID"], "/deployment"))
    assert r.ok() is None
    r.read_headers()


@pytest.mark.parametrize("suffix,message", [
    ("/periodic/force", "can't force launch non-periodic job"),
    ("/dispatch", "is not a parameterized job"),
])
def test_periodic_force_and_dispatch_answer_nomads_error(api, suffix, message):
    job = api.sparse_job()
    api.register(job)
    before = api.job(job["ID"])
    api.request("POST", api.job_path(job["ID"], suffix), body={}).error(500, message)
    assert api.job(job["ID"])["ModifyIndex"] == before["ModifyIndex"]
    api.request("POST", api.job_path(api.job_id("missing"), suffix), body={}).error(
        500, "not found")
