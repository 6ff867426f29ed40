"""Lists with paging (issue 15, point 6): ``GET /v1/evaluations`` and
``GET /v1/allocations`` (``prefix``, ``job``, ``status``), and ``per_page``,
``next_token`` and ``reverse`` on the job, node, evaluation and allocation
lists, with ``X-Nomad-NextToken`` when there is a next page.

Orders and tokens are Nomad 1.x's: jobs by ID (token ``<Namespace>.<ID>``),
nodes by ID (token the ID), evaluations and allocations by CreateIndex then
ID (token ``<CreateIndex>.<ID>``), or by ID with a ``prefix``."""

import random

import pytest

NEXT = "X-Nomad-NextToken"


def walk(api, path, per_page, params=None):
    """Every item of a list, a page of `per_page` at a time; checks that every
    page but the last is full and names the next, and the last names none."""
    params = dict(params or {}, per_page=per_page)
    out = []
    for _ in range(1000):
        r = api.get(path, params=params)
        page = r.ok()
        r.read_headers()
        assert len(page) <= per_page
        out.extend(page)
        token = r.headers.get(NEXT)
        if token is None:
            return out
        assert len(page) == per_page, f"a short page names a next one: {r!r}"
        params["next_token"] = token
    raise AssertionError("the walk does not end")


@pytest.fixture
def placed(api):
    """Three jobs of two allocations each in a datacenter of their own (two
    nodes, room for all), each evaluated once more: six evaluations and six
    allocations."""
    dc = api.dc()
    node = api.add_node(dc)
    api.add_node(dc)
    prefix = api.job_id("lists")
    jobs = []
    for i in range(3):
        job = api.fitting_job(dc, count=2, job_id=f"{prefix}-{i}")
        api.register(job)
        api.evaluate(job["ID"])
        jobs.append(job["ID"])
    return {"node": node, "prefix": prefix, "jobs": jobs}


def keys(items):
    return [(x["CreateIndex"], x["ID"]) for x in items]


def test_evaluations_list_every_evaluation_in_create_order(api, placed):
    r = api.get("/v1/evaluations")
    evals = r.ok()
    assert r.read_headers() >= max(e["ModifyIndex"] for e in evals)
    assert NEXT not in r.headers
    assert keys(evals) == sorted(keys(evals))
    ours = [e for e in evals if e["JobID"] in placed["jobs"]]
    assert len(ours) == 6
    assert {e["TriggeredBy"] for e in ours} == {"job-register"}
    # Full evaluations, as /v1/evaluation/<id> answers them.
    assert ours[0] == api.eval(ours[0]["ID"])


def test_evaluations_filter_by_job_status_and_prefix(api, placed):
    job_id = placed["jobs"][1]
    evals = api.get("/v1/evaluations", params={"job": job_id}).ok()
    assert len(evals) == 2 and {e["JobID"] for e in evals} == {job_id}
    assert keys(evals) == sorted(keys(evals))
    done = api.get("/v1/evaluations", params={"job": job_id, "status": "complete"}).ok()
    assert {e["ID"] for e in done} == {e["ID"] for e in evals if e["Status"] == "complete"}
    assert api.get("/v1/evaluations", params={"job": job_id, "status": "bogus"}).ok() == []
    one = evals[0]["ID"]
    got = api.get("/v1/evaluations", params={"prefix": one[:8]}).ok()
    assert one in [e["ID"] for e in got]
    assert all(e["ID"].startswith(one[:8]) for e in got)
    # With a prefix the order is by ID, as Nomad's.
    assert [e["ID"] for e in got] == sorted(e["ID"] for e in got)


def test_allocations_list_stubs_filtered(api, placed):
    r = api.get("/v1/allocations")
    allocs = r.ok()
    r.read_headers()
    assert keys(allocs) == sorted(keys(allocs))
    ours = [a for a in allocs if a["JobID"] in placed["jobs"]]
    assert len(ours) == 6
    assert "Job" not in ours[0], "list stubs, not full allocations"
    assert ours[0]["ID"] in [a["ID"] for a in api.job_allocs(ours[0]["JobID"])]
    job_id = placed["jobs"][0]
    of_job = api.get("/v1/allocations", params={"job": job_id}).ok()
    assert sorted(a["ID"] for a in of_job) == sorted(a["ID"] for a in api.job_allocs(job_id))
    one = of_job[0]["ID"]
    got = api.get("/v1/allocations", params={"prefix": one[:6]}).ok()
    assert one in [a["ID"] for a in got]
    api.alloc_status(one, "running")
    running = api.get("/v1/allocations", params={"job": job_id, "status": "running"}).ok()
    assert [a["ID"] for a in running] == [one]


@pytest.mark.parametrize("path", ["/v1/evaluations", "/v1/allocations", "/v1/jobs",
                                  "/v1/nodes"])
def test_paging_walks_every_item_once_in_order(api, placed, path):
    whole = api.get(path).ok()
    for per_page in sorted({1, 2, random.randint(3, 7), len(whole) or 1}):
        assert walk(api, path, per_page) == whole, per_page
    backwards = api.get(path, params={"reverse": "true"}).ok()
    assert backwards == whole[::-1]
    assert walk(api, path, 2, {"reverse": "true"}) == backwards


def test_tokens_have_nomads_forms(api, placed):
    prefix = placed["prefix"]
    r = api.get("/v1/jobs", params={"prefix": prefix, "per_page": 1})
    assert [j["ID"] for j in r.ok()] == [f"{prefix}-0"]
    assert r.headers[NEXT] == f"default.{prefix}-1"
    r = api.get("/v1/jobs", params={"prefix": prefix, "per_page": 1, "reverse": "true"})
    assert r.headers[NEXT] == f"default.{prefix}-1"
    job_id = placed["jobs"][2]
    r = api.get("/v1/evaluations", params={"job": job_id, "per_page": 1})
    rest = api.get("/v1/evaluations", params={"job": job_id}).ok()[1]
    assert r.headers[NEXT] == f"{rest['CreateIndex']}.{rest['ID']}"
    r = api.get("/v1/allocations", params={"job": job_id, "per_page": 1})
    rest = api.get("/v1/allocations", params={"job": job_id}).ok()[1]
    assert r.headers[NEXT] == f"{rest['CreateIndex']}.{rest['ID']}"
    # The last page names no next one; per_page 0 is everything.
    r = api.get("/v1/evaluations", params={"job": job_id, "per_page": 2})
    assert len(r.ok()) == 2 and NEXT not in r.headers
    assert len(api.get("/v1/allocations", params={"job": job_id, "per_page": 0}).ok()) == 2


@pytest.mark.parametrize("params", [{"per_page": "-1"}, {"per_page": "x"},
                                    {"per_page": "99999999999"}, {"reverse": "maybe"},
                                    {"next_token": "nodot"}])
def test_bad_list_parameters_are_400(api, params):
    for path in ("/v1/evaluations", "/v1/allocations", "/v1/jobs"):
        r = api.get(path, params=params)
        r.error(400)


def test_bad_per_page_says_what_is_wanted(api):
    text = api.get("/v1/nodes", params={"per_page": "-5"}).error(400)
    assert "per_page" in text


def test_lists_are_reads_only(api):
    for path in ("/v1/evaluations", "/v1/allocations"):
        assert api.request("PUT", path, body={}).status == 405


def test_evaluation_list_blocks_until_an_evaluation_changes(api, h, placed):
    at = api.get("/v1/evaluations").index
    poll = h.in_background(api.poll, "/v1/evaluations", at, "10s")
    api.evaluate(placed["jobs"][0])
    r = poll.result(timeout=15)
    assert r.ok() and r.index > at


def test_allocation_list_blocks_until_an_allocation_changes(api, h, placed):
    r = api.get("/v1/allocations", params={"job": placed["jobs"][1]})
    alloc = r.ok()[0]
    poll = h.in_background(api.poll, "/v1/allocations", r.index, "10s")
    api.alloc_status(alloc["ID"], "running")
    got = poll.result(timeout=15)
    assert got.index > r.index
    assert alloc["ID"] in [a["ID"] for a in got.ok() if a["ClientStatus"] == "running"]
