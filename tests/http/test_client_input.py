"""What real and hostile clients send (issue 11): the v0.2 command-line tool's
restart policy (no `Mode`) registers and is completed from the defaults; a
body with bytes after its JSON is a 400 that changes nothing; IDs that a path
could never reach are refused."""

import json

import pytest

S = 1_000_000_000


def test_v02_restart_policy_without_mode_registers(api):
    job = api.sparse_job()
    job["TaskGroups"][0]["RestartPolicy"] = {"Attempts": 2, "Interval": 60 * S, "Delay": 15 * S}
    api.register(job)
    got = api.job(job["ID"])["TaskGroups"][0]["RestartPolicy"]
    assert got == {"Attempts": 2, "Interval": 60 * S, "Delay": 15 * S, "Mode": "fail"}


def test_partial_restart_policy_takes_the_batch_defaults(api):
    job = api.sparse_job(Type="batch")
    job["TaskGroups"][0]["RestartPolicy"] = {"Attempts": 7}
    api.register(job)
    got = api.job(job["ID"])["TaskGroups"][0]["RestartPolicy"]
    assert got == {"Attempts": 7, "Interval": 86_400 * S, "Delay": 15 * S, "Mode": "fail"}


def test_trailing_garbage_is_refused(api):
    job = api.sparse_job()
    api.track_job(job["ID"])
    before = api.jobs_index()
    data = json.dumps({"Job": job}).encode() + b" garbage {]]"
    r = api.request("PUT", "/v1/jobs", data=data)
    r.error(400, "trailing")
    api.get(api.job_path(job["ID"])).expect(404)
    assert api.jobs_index() == before


def test_job_id_ending_in_a_routed_suffix_is_refused(api):
    job = api.sparse_job(job_id=api.job_id("suffix") + "/evaluate")
    before = api.jobs_index()
    r = api.register_raw(job, path="/v1/jobs")
    r.error(500, "a path the job API routes")
    assert api.jobs_index() == before


def test_a_node_sub_path_never_becomes_a_node_id(api):
    node = api.node()
    before = api.get("/v1/nodes").ok()
    for method in ("POST", "PUT", "GET"):
        kw = {"body": {"Node": node}} if method != "GET" else {}
        r = api.request(method, api.node_path(node["ID"]) + "/purge", **kw)
        r.error(404, "404 page not found")
    ids = [n["ID"] for n in api.get("/v1/nodes").ok()]
    assert len(ids) == len(before)
    assert not any("purge" in i for i in ids)


@pytest.mark.parametrize("suffix", ["/submission"])
def test_unserved_job_sub_paths_are_page_not_found(api, suffix):
    job = api.sparse_job()
    api.register(job)
    r = api.get(api.job_path(job["ID"], suffix))
    r.error(404, "404 page not found")


def test_unserved_eval_and_alloc_sub_paths_are_page_not_found(api):
    api.get("/v1/evaluation/e1/nope").error(404, "404 page not found")
    api.get("/v1/allocation/a1/nope").error(404, "404 page not found")
