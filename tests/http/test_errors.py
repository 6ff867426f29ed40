"""Errors: methods, routes, decoding, validation texts, limits and regions."""

import copy
import json

import pytest

Z = "00000000-0000-0000-0000-000000000000"


# ---- methods and routes


@pytest.mark.parametrize("method,path", [
    ("PATCH", "/v1/job/x"),
    ("DELETE", "/v1/jobs"),
    ("PATCH", "/v1/jobs"),
    ("GET", "/v1/job/x/evaluate"),
    ("DELETE", "/v1/job/x/evaluate"),
    ("POST", "/v1/job/x/allocations"),
    ("DELETE", "/v1/job/x/allocations"),
    ("PUT", "/v1/job/x/evaluations"),
    ("PUT", "/v1/nodes"),
    ("PATCH", f"/v1/node/{Z}"),
    ("GET", f"/v1/node/{Z}/status"),
    ("GET", f"/v1/node/{Z}/drain"),
    ("POST", f"/v1/node/{Z}/allocations"),
    ("POST", f"/v1/evaluation/{Z}"),
    ("DELETE", f"/v1/allocation/{Z}"),
    ("GET", f"/v1/allocation/{Z}/status"),
])
def test_unsupported_method_is_405(api, method, path):
    r = api.request(method, path)
    r.error(405)
    assert r.text.strip() == "Invalid method"


@pytest.mark.parametrize("path", ["/v1/nope", "/v2/jobs", "/v1/jobsx", "/v1/evaluationz/x"])
def test_unknown_route_is_404(api, path):
    assert api.get(path).status == 404


# ---- body decoding (400)

BAD_BODIES = {
    "not-json": "this is not json",
    "truncated": '{"Job": {"ID": "x"',
    "array": "[1, 2]",
    "job-is-string": '{"Job": "x"}',
    "id-is-number": '{"Job": {"ID": 5}}',
    "priority-is-string": '{"Job": {"ID": "x", "Priority": "high"}}',
    "groups-is-object": '{"Job": {"ID": "x", "TaskGroups": {"Name": "g"}}}',
    "count-is-fraction": '{"Job": {"ID": "x", "TaskGroups": [{"Name": "g", "Count": 1.5}]}}',
    "meta-is-list": '{"Job": {"ID": "x", "Meta": ["a"]}}',
    "enforce-index-is-string": '{"Job": {"ID": "x"}, "EnforceIndex": "yes"}',
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_undecodable_register_body_is_400(api, name):
    before = api.jobs_index()
    r = api.request("POST", "/v1/jobs", data=BAD_BODIES[name],
                    headers={"Content-Type": "application/json"})
    r.error(400)
    assert api.jobs_index() == before


def test_decode_error_names_the_bad_field(api):
    body = {"Job": {"ID": api.job_id("dec"), "Priority": "high"}}
    text = api.request("POST", "/v1/jobs", body=body).error(400)
    assert "Priority" in text, f"the decode error should name the field: {text!r}"


@pytest.mark.parametrize("data", ["", "{}", '{"Job": null}', '{"EnforceIndex": true}'],
                         ids=["empty", "no-job", "null-job", "only-envelope"])
@pytest.mark.parametrize("collection", [True, False], ids=["/v1/jobs", "/v1/job/<id>"])
def test_register_without_job_is_400(api, data, collection):
    path = "/v1/jobs" if collection else api.job_path(api.job_id("nojob"))
    r = api.request("PUT", path, data=data, headers={"Content-Type": "application/json"})
    r.error(400)
    if data:
        assert "Job must be specified" in r.text, r


def test_path_and_body_id_must_match(api):
    job = api.seed_job()
    other = api.job_id("other")
    r = api.register_raw(job, path=api.job_path(other))
    r.error(400, "Job ID does not match name")
    api.get(api.job_path(job["ID"])).expect(404)
    api.get(api.job_path(other)).expect(404)


def test_body_without_id_on_job_path_does_not_match(api):
    job = api.seed_job()
    path = api.job_path(job.pop("ID"))
    api.register_raw(job, path=path).error(400, "Job ID does not match name")


def test_ids_differing_in_case_do_not_match(api):
    job = api.seed_job()
    path = api.job_path(job["ID"].upper())
    api.register_raw(job, path=path).error(400, "Job ID does not match name")


# ---- validation (500, multi-error text)


def test_one_validation_error_format(api, h):
    job = api.seed_job()
    job["TaskGroups"][0]["Tasks"][1]["Driver"] = ""
    text = api.register_raw(job).error(500)
    assert text.startswith("1 error occurred:\n\t* TaskGroups[0].Tasks[1].Driver: "), repr(text)
    assert text.endswith("\n\n"), repr(text)
    assert h.parse_multierror(text)[0].startswith("TaskGroups[0].Tasks[1].Driver: ")


def test_every_problem_is_listed_with_its_path(api, h):
    job = api.seed_job()
    job["Priority"] = 0
    job["Type"] = "bogus"
    job["Datacenters"] = ["us2", ""]
    group = job["TaskGroups"][0]
    group["Tasks"][0]["Constraints"] = [
        {"LTarget": "${attr.x}", "RTarget": "(", "Operand": "regexp"}]
    group["Tasks"][1]["Driver"] = ""
    group2 = copy.deepcopy(group)
    group2["Name"] = ""
    group2["Tasks"][0]["Constraints"] = None
    group2["Tasks"][1]["Driver"] = "java"
    group2["Tasks"][1]["Name"] = ""
    job["TaskGroups"].append(group2)
    text = api.register_raw(job).error(500)
    items = h.assert_problems(
        text,
        "Priority",
        "Type",
        "Datacenters[1]",
        "TaskGroups[0].Tasks[0].Constraints[0]",
        "TaskGroups[0].Tasks[1].Driver",
        "TaskGroups[1].Name",
        "TaskGroups[1].Tasks[1].Name",
    )
    assert text.startswith(f"{len(items)} errors occurred:\n")
    assert h.item_for(items, "TaskGroups[1].Tasks[0]") is None, "a valid task was blamed"


INVALID = {
    "id-with-space": (lambda j: j.update(ID=j["ID"] + " x"), "ID"),
    "priority-101": (lambda j: j.update(Priority=101), "Priority"),
    "no-datacenters": (lambda j: j.update(Datacenters=[]), "Datacenters"),
    "no-groups": (lambda j: j.update(TaskGroups=[]), "TaskGroups"),
    "unknown-type": (lambda j: j.update(Type="_core"), "Type"),
    "negative-count": (lambda j: j["TaskGroups"][0].update(Count=-1), "TaskGroups[0].Count"),
    "group-without-tasks": (lambda j: j["TaskGroups"][0].update(Tasks=[]),
                            "TaskGroups[0].Tasks"),
    "duplicate-group": (lambda j: j["TaskGroups"].append(copy.deepcopy(j["TaskGroups"][0])),
                        "TaskGroups[1].Name"),
    "duplicate-task": (lambda j: j["TaskGroups"][0]["Tasks"][1].update(Name="binstore"),
                       "TaskGroups[0].Tasks[1].Name"),
    "task-name-slash": (lambda j: j["TaskGroups"][0]["Tasks"][0].update(Name="a/b"),
                        "TaskGroups[0].Tasks[0].Name"),
    "system-count-2": (lambda j: (j.update(Type="system"),
                                  j["TaskGroups"][0].update(Count=2)),
                       "TaskGroups[0].Count"),
    "unknown-operand": (lambda j: j.update(Constraints=[
        {"LTarget": "${attr.kernel.os}", "RTarget": "linux", "Operand": "~="}]),
        "Constraints[0]"),
    "missing-operand": (lambda j: j["TaskGroups"][0].update(Constraints=[
        {"LTarget": "${attr.kernel.os}", "RTarget": "linux", "Operand": ""}]),
        "TaskGroups[0].Constraints[0]"),
    "bad-version": (lambda j: j["TaskGroups"][0]["Tasks"][1].update(Constraints=[
        {"LTarget": "${attr.java.version}", "RTarget": ">= not-a-version", "Operand": "version"}]),
        "TaskGroups[0].Tasks[1].Constraints[0]"),
    "bad-regexp": (lambda j: j.update(Constraints=[
        {"LTarget": "${attr.kernel.os}", "RTarget": "[", "Operand": "regexp"}]),
        "Constraints[0]"),
}


@pytest.mark.parametrize("name", list(INVALID))
def test_validation_rule(api, h, name):
    mutate, path = INVALID[name]
    job = api.seed_job()
    mutate(job)
    before = api.jobs_index()
    text = api.register_raw(job, path="/v1/jobs").error(500)
    h.assert_problems(text, path)
    assert api.jobs_index() == before, "a rejected register changed the job list"
    if isinstance(job.get("ID"), str):
        api.get(api.job_path(job["ID"])).expect(404)


def test_missing_id_on_collection_is_a_validation_error(api, h):
    job = api.sparse_job()
    del job["ID"]
    text = api.register_raw(job, path="/v1/jobs").error(500)
    h.assert_problems(text, "ID")


def test_rejected_update_changes_nothing(api, h):
    job = api.seed_job()
    api.register(copy.deepcopy(job))
    before = api.job(job["ID"])
    evals = api.job_evals(job["ID"])
    index = api.jobs_index()
    job["Priority"] = 0
    job["Meta"] = {"changed": "yes"}
    api.register_raw(job).error(500)
    assert api.job(job["ID"]) == before
    assert api.job_evals(job["ID"]) == evals
    assert api.jobs_index() == index


# ---- limits (400)


def test_count_over_the_limit_is_400(api, h):
    job = api.seed_job()
    job["TaskGroups"][0]["Count"] = h.MAX_COUNT + 1
    before = api.jobs_index()
    text = api.register_raw(job).error(400)
    assert "limit" in text.lower() or str(h.MAX_COUNT) in text, repr(text)
    assert api.jobs_index() == before
    api.get(api.job_path(job["ID"])).expect(404)


def test_count_at_the_limit_is_accepted(api, h):
    job = api.seed_job()  # never placed, so the count costs little
    job["TaskGroups"][0]["Count"] = h.MAX_COUNT
    api.register(job)
    assert api.job(job["ID"])["TaskGroups"][0]["Count"] == h.MAX_COUNT
    api.deregister(job["ID"])


def test_body_over_the_limit_is_400(api, h):
    job = api.seed_job()
    job["Meta"] = {"pad": "x" * (h.MAX_BODY + 1024)}
    data = json.dumps({"Job": job})
    before = api.jobs_index()
    r = api.request("POST", "/v1/jobs", data=data, headers={"Content-Type": "application/json"},
                    timeout=30)
    text = r.error(400)
    assert "limit" in text.lower() or str(h.MAX_BODY) in text, repr(text[:300])
    assert api.jobs_index() == before
    api.get(api.job_path(job["ID"])).expect(404)


def test_body_under_the_limit_is_accepted(api, h):
    job = api.seed_job()
    job["Meta"] = {"pad": "x" * (256 * 1024)}
    api.register(job)
    assert len(api.job(job["ID"])["Meta"]["pad"]) == 256 * 1024


# ---- region


def _region_requests(api):
    job_id = api.job_id("region")
    node = api.node()
    return {
        "get-jobs": ("GET", "/v1/jobs", None),
        "get-job": ("GET", api.job_path(job_id), None),
        "job-allocs": ("GET", api.job_path(job_id, "/allocations"), None),
        "job-evals": ("GET", api.job_path(job_id, "/evaluations"), None),
        "register": ("PUT", api.job_path(job_id), {"Job": api.seed_job(job_id)}),
        "register-collection": ("POST", "/v1/jobs", {"Job": api.seed_job(job_id)}),
        "evaluate": ("POST", api.job_path(job_id, "/evaluate"), None),
        "deregister": ("DELETE", api.job_path(job_id), None),
        "get-nodes": ("GET", "/v1/nodes", None),
        "register-node": ("PUT", api.node_path(node["ID"]), {"Node": node}),
        "get-eval": ("GET", f"/v1/evaluation/{Z}", None),
        "get-alloc": ("GET", f"/v1/allocation/{Z}", None),
    }, job_id, node["ID"]


REGION_CASES = ["get-jobs", "get-job", "job-allocs", "job-evals", "register",
                "register-collection", "evaluate", "deregister", "get-nodes", "register-node",
                "get-eval", "get-alloc"]


@pytest.mark.parametrize("case", REGION_CASES)
def test_other_region_is_500_no_path_to_region(api, h, case):
    cases, job_id, node_id = _region_requests(api)
    method, path, body = cases[case]
    api.track_job(job_id)
    api.track_node(node_id)
    before = api.jobs_index()
    kw = {} if body is None else {"body": body}
    r = api.request(method, path, params={"region": "ordu-test-nowhere-" + h.uid()}, **kw)
    r.error(500, "No path to region")
    assert api.jobs_index() == before
    api.get(api.job_path(job_id)).expect(404)
    api.get(api.node_path(node_id)).expect(404)


def test_own_region_is_accepted(api, server_region):
    job = api.seed_job()
    api.register(job, params={"region": server_region})
    assert api.get(api.job_path(job["ID"]), params={"region": server_region}).ok()["ID"] == \
        job["ID"]
    assert isinstance(api.get("/v1/jobs", params={"region": server_region}).ok(), list)
