"""Allocations and nodes as Nomad 1.x clients drive them (issue 15, point 7):
``/v1/allocation/<id>/stop``, ``/v1/node/<id>/eligibility``,
``/v1/node/<id>/drain`` with a ``DrainSpec``, ``/v1/node/<id>/evaluate``."""

import pytest

Z = "00000000-0000-0000-0000-000000000000"
NODE_REPLY = ("EvalIDs", "EvalCreateIndex", "NodeModifyIndex", "Index")


def live(api, job_id):
    return [a for a in api.job_allocs(job_id)
            if a["DesiredStatus"] == "run" and a["ClientStatus"] in ("pending", "running")]


def placed(api, h, job_id, count):
    h.wait_until(lambda: len(live(api, job_id)) == count, what=f"{count} live allocations")
    return live(api, job_id)


def node_write(api, method, node_id, suffix, body=None):
    kw = {} if body is None else {"body": body}
    r = api.request(method, api.node_path(node_id, suffix), **kw)
    got = r.ok()
    for key in NODE_REPLY:
        assert key in got, f"{suffix} reply lacks {key}: {got}"
    assert r.index == got["Index"]
    return got


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_stopping_an_allocation_replaces_it(api, h, method):
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=2)
    api.register(job)
    victim = placed(api, h, job["ID"], 2)[0]
    r = api.request(method, "/v1/allocation/" + victim["ID"] + "/stop")
    got = r.ok()
    assert set(got) >= {"EvalID", "Index"}
    assert r.index == got["Index"] > 0
    assert api.eval(got["EvalID"])["TriggeredBy"] == "alloc-stop"
    h.wait_until(lambda: api.alloc(victim["ID"])["DesiredStatus"] == "stop",
                 what="the allocation stopped")
    assert api.alloc(victim["ID"])["DesiredTransition"]["Migrate"] is True
    now = placed(api, h, job["ID"], 2)
    assert victim["ID"] not in [a["ID"] for a in now]
    assert victim["Name"] in [a["Name"] for a in now]


def test_stopping_an_unknown_allocation_is_nomads_error(api):
    r = api.request("POST", "/v1/allocation/" + Z + "/stop")
    r.error(500, f'Unknown allocation "{Z}"')


def test_an_ineligible_node_keeps_its_work_and_takes_no_more(api, h):
    dc = api.dc()
    node = api.add_node(dc)
    job = api.fitting_job(dc, count=1)
    api.register(job)
    placed(api, h, job["ID"], 1)
    got = node_write(api, "POST", node["ID"], "/eligibility",
                     {"NodeID": node["ID"], "Eligibility": "ineligible"})
    assert got["NodeModifyIndex"] == got["Index"]
    n = api.get_node(node["ID"])
    assert n["SchedulingEligibility"] == "ineligible"
    assert [s for s in api.get("/v1/nodes").ok()
            if s["ID"] == node["ID"]][0]["SchedulingEligibility"] == "ineligible"
    assert len(live(api, job["ID"])) == 1, "existing allocations stay"

    more = api.fitting_job(dc, count=1)
    reply = api.register(more)
    h.wait_until(lambda: api.eval(reply["EvalID"])["Status"] == "complete",
                 what="the evaluation done")
    assert live(api, more["ID"]) == []
    blocked = api.eval(reply["EvalID"])["BlockedEval"]
    assert blocked

    # Eligible again: the blocked evaluation places.
    node_write(api, "PUT", node["ID"], "/eligibility", {"Eligibility": "eligible"})
    assert api.get_node(node["ID"])["SchedulingEligibility"] == "eligible"
    placed(api, h, more["ID"], 1)


def test_eligibility_errors(api, h):
    node = api.add_node()
    r = api.request("POST", api.node_path(node["ID"], "/eligibility"),
                    body={"Eligibility": "maybe"})
    h.assert_problems(r.error(500), "Eligibility")
    api.request("POST", api.node_path(node["ID"], "/eligibility"),
                body={"Eligibility": 3}).error(400)
    api.request("POST", api.node_path(Z, "/eligibility"),
                body={"Eligibility": "eligible"}).error(500, "node not found")
    api.request("GET", api.node_path(node["ID"], "/eligibility")).error(405)


def test_a_drain_with_a_spec_migrates_ends_by_itself_and_mark_eligible(api, h):
    dc = api.dc()
    first = api.add_node(dc)
    job = api.fitting_job(dc, count=2)
    api.register(job)
    placed(api, h, job["ID"], 2)
    # No room elsewhere yet: the allocations stay, marked to migrate, and
    # the drain waits for its deadline.
    spec = {"Deadline": 3_600_000_000_000, "IgnoreSystemJobs": False}
    node_write(api, "POST", first["ID"], "/drain",
               {"NodeID": first["ID"], "DrainSpec": spec})
    n = api.get_node(first["ID"])
    assert n["Drain"] is True
    assert n["SchedulingEligibility"] == "ineligible"
    d = n["DrainStrategy"]
    assert d["Deadline"] == spec["Deadline"]
    assert d["IgnoreSystemJobs"] is False
    assert d["ForceDeadline"] > d["StartedAt"]
    assert len(live(api, job["ID"])) == 2
    # Room appears: they move, and the server ends the drain by itself
    # (its duty runs each second); the node stays ineligible.
    second = api.add_node(dc)
    h.wait_until(lambda: all(a["NodeID"] == second["ID"] for a in live(api, job["ID"]))
                 and len(live(api, job["ID"])) == 2, what="the allocations moved")
    h.wait_until(lambda: api.get_node(first["ID"])["Drain"] is False,
                 what="the drain ended", timeout=10)
    n = api.get_node(first["ID"])
    assert n.get("DrainStrategy") is None
    assert n["SchedulingEligibility"] == "ineligible"

    node_write(api, "POST", first["ID"], "/drain",
               {"NodeID": first["ID"], "DrainSpec": None, "MarkEligible": True})
    n = api.get_node(first["ID"])
    assert n["Drain"] is False
    assert n["SchedulingEligibility"] == "eligible"


def test_a_forced_drain_stops_what_cannot_move(api, h):
    dc = api.dc()
    node = api.add_node(dc)
    job = api.fitting_job(dc, count=2)
    api.register(job)
    placed(api, h, job["ID"], 2)
    node_write(api, "POST", node["ID"], "/drain", {"DrainSpec": {"Deadline": -1}})
    # Past its deadline at once: the server stops what runs there (its
    # replacements block: no room), then ends the drain.
    h.wait_until(lambda: live(api, job["ID"]) == [], what="the allocations stopped",
                 timeout=10)
    stopped = [a for a in api.job_allocs(job["ID"]) if a["NodeID"] == node["ID"]]
    assert stopped and all(a["DesiredStatus"] == "stop" for a in stopped)
    h.wait_until(lambda: api.get_node(node["ID"])["Drain"] is False,
                 what="the drain ended", timeout=10)
    assert any(e["Status"] == "blocked" for e in api.job_evals(job["ID"]))


def test_a_drain_ignoring_system_jobs_leaves_theirs(api, h):
    dc = api.dc()
    node = api.add_node(dc)
    system = api.fitting_job(dc, count=1)
    system["Type"] = "system"
    api.register(system)
    placed(api, h, system["ID"], 1)
    node_write(api, "PUT", node["ID"], "/drain",
               {"DrainSpec": {"Deadline": 0, "IgnoreSystemJobs": True}})
    assert api.get_node(node["ID"])["DrainStrategy"]["ForceDeadline"] == "0001-01-01T00:00:00Z"
    assert len(live(api, system["ID"])) == 1


def test_drain_errors(api):
    node = api.add_node()
    r = api.request("POST", api.node_path(node["ID"], "/drain"),
                    body={"DrainSpec": {"Deadline": "soon"}})
    assert "DrainSpec.Deadline" in r.error(400)
    api.request("POST", api.node_path(Z, "/drain"),
                body={"DrainSpec": None}).error(500, "node not found")


def test_node_evaluate_creates_an_evaluation_per_job(api, h):
    dc = api.dc()
    node = api.add_node(dc)
    job = api.fitting_job(dc, count=1)
    api.register(job)
    placed(api, h, job["ID"], 1)
    got = node_write(api, "POST", node["ID"], "/evaluate")
    assert got["EvalCreateIndex"] == got["Index"] > 0
    mine = [e for e in (api.eval(i) for i in got["EvalIDs"]) if e["JobID"] == job["ID"]]
    assert len(mine) == 1 and mine[0]["TriggeredBy"] == "node-update"
    api.request("PUT", api.node_path(Z, "/evaluate")).error(500, "node not found")
