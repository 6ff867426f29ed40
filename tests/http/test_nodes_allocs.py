"""Nodes (ordu's write routes beside Nomad's read routes), evaluations and
allocations by ID, and the client's allocation status route."""

import copy

import pytest

Z = "00000000-0000-0000-0000-000000000000"


# ---- nodes


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_register_node(api, h, method):
    node = api.node()
    r = api.request(method, api.node_path(node["ID"]), body={"Node": node})
    api.track_node(node["ID"])
    body = r.ok()
    for key in ("NodeModifyIndex", "EvalIDs", "EvalCreateIndex", "Index"):
        assert key in body, f"node register reply lacks {key}: {body}"
    assert isinstance(body["EvalIDs"], list)
    assert r.index == body["Index"] >= body["NodeModifyIndex"] > 0
    got = api.get_node(node["ID"])
    assert got["CreateIndex"] == got["ModifyIndex"] == body["NodeModifyIndex"]


def test_get_node_returns_what_was_registered(api, h):
    node = api.node(node_class="ordu-class")
    api.register_node(node)
    r = api.get(api.node_path(node["ID"]))
    got = r.ok()
    assert r.read_headers() >= got["ModifyIndex"]
    h.assert_contains(node, got, where="Node")
    assert got["Drain"] is False
    assert got["Status"] == "ready"


def test_get_missing_node_is_404(api):
    r = api.get(api.node_path(Z))
    r.error(404)
    assert r.text.strip() == "node not found"
    r.read_headers()


def test_node_without_status_is_initializing(api):
    node = api.node()
    del node["Status"]
    api.register_node(node)
    assert api.get_node(node["ID"])["Status"] == "initializing"


def test_invalid_node_is_500_with_paths(api, h):
    node = api.node()
    node["Name"] = ""
    node["Datacenter"] = ""
    node["Status"] = "bogus"
    api.track_node(node["ID"])
    r = api.request("PUT", api.node_path(node["ID"]), body={"Node": node})
    h.assert_problems(r.error(500), "Name", "Datacenter", "Status")
    api.get(api.node_path(node["ID"])).expect(404)


def test_node_id_comes_from_the_path_when_absent(api):
    node = api.node()
    node_id = node.pop("ID")
    api.track_node(node_id)
    api.request("PUT", api.node_path(node_id), body={"Node": node}).ok()
    assert api.get_node(node_id)["ID"] == node_id


def test_node_id_must_match_the_path(api):
    node = api.node()
    api.track_node(node["ID"])
    r = api.request("PUT", api.node_path(Z), body={"Node": node})
    r.error(400, "Node ID does not match")
    api.get(api.node_path(node["ID"])).expect(404)
    api.get(api.node_path(Z)).expect(404)


def test_node_list_stubs_sorted_with_prefix(api, h):
    tag = h.uid()[:6]
    made = []
    for i in range(3):
        node = api.node()
        node["ID"] = f"{tag}{i}" + node["ID"][len(tag) + 1:]
        api.register_node(node)
        made.append(node)
    r = api.get("/v1/nodes", params={"prefix": tag})
    stubs = r.ok()
    r.read_headers()
    assert [s["ID"] for s in stubs] == sorted(n["ID"] for n in made)
    for stub, node in zip(stubs, sorted(made, key=lambda n: n["ID"])):
        for key in h.NODE_STUB_FIELDS:
            assert key in stub, f"node stub lacks {key}: {stub}"
        assert stub["Name"] == node["Name"]
        assert stub["Datacenter"] == node["Datacenter"]
        assert stub["Status"] == "ready"
        assert stub["Drain"] is False
        assert "Resources" not in stub, "the list holds stubs, not full nodes"
    everything = [s["ID"] for s in api.get("/v1/nodes").ok()]
    assert everything == sorted(everything)
    assert api.get("/v1/nodes", params={"prefix": "zz-no-such-" + tag}).ok() == []


def test_reregister_node_keeps_create_index_and_drain(api):
    node = api.node()
    first = api.register_node(node)
    api.node_drain(node["ID"], True)
    node = copy.deepcopy(node)
    node["Attributes"]["extra"] = "1"
    second = api.register_node(node)
    assert second["NodeModifyIndex"] > first["NodeModifyIndex"]
    got = api.get_node(node["ID"])
    assert got["CreateIndex"] == first["NodeModifyIndex"]
    assert got["ModifyIndex"] == second["NodeModifyIndex"]
    assert got["Drain"] is True, "re-registration must not clear a drain"
    assert got["Attributes"]["extra"] == "1"


def test_deregister_node(api):
    node = api.add_node()
    r = api.request("DELETE", api.node_path(node["ID"]))
    body = r.ok()
    assert r.index == body["Index"] > 0
    api.get(api.node_path(node["ID"])).error(404, "node not found")
    assert node["ID"] not in [n["ID"] for n in api.get("/v1/nodes").ok()]


@pytest.mark.parametrize("method,suffix,body", [
    ("DELETE", "", None),
    ("PUT", "/status", {"Status": "down"}),
    ("PUT", "/drain", {"Drain": True}),
])
def test_write_to_missing_node_is_500(api, method, suffix, body):
    kw = {} if body is None else {"body": body}
    api.request(method, api.node_path(Z, suffix), **kw).error(500, "node not found")


@pytest.mark.parametrize("status", ["down", "initializing"])
def test_node_status_route(api, status):
    node = api.add_node()
    before = api.get_node(node["ID"])
    reply = api.node_status(node["ID"], status)
    got = api.get_node(node["ID"])
    assert got["Status"] == status
    assert got["ModifyIndex"] == reply["NodeModifyIndex"] > before["ModifyIndex"]
    assert got["CreateIndex"] == before["CreateIndex"]
    stub = api.get("/v1/nodes", params={"prefix": node["ID"]}).ok()
    assert stub[0]["Status"] == status
    api.node_status(node["ID"], "ready")
    assert api.get_node(node["ID"])["Status"] == "ready"


def test_node_status_must_be_known(api, h):
    node = api.add_node()
    r = api.request("PUT", api.node_path(node["ID"], "/status"), body={"Status": "bogus"})
    h.assert_problems(r.error(500), "Status")
    assert api.get_node(node["ID"])["Status"] == "ready"


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_node_drain_route(api, method):
    node = api.add_node()
    r = api.request(method, api.node_path(node["ID"], "/drain"), body={"Drain": True})
    body = r.ok()
    assert r.index == body["Index"]
    assert api.get_node(node["ID"])["Drain"] is True
    stub = api.get("/v1/nodes", params={"prefix": node["ID"]}).ok()[0]
    assert stub["Drain"] is True
    api.node_drain(node["ID"], False)
    assert api.get_node(node["ID"])["Drain"] is False


def test_node_allocations_are_full_allocations(api):
    dc = api.dc()
    node = api.add_node(dc)
    job = api.fitting_job(dc, count=2)
    api.register(job)
    r = api.get(api.node_path(node["ID"], "/allocations"))
    allocs = r.ok()
    r.read_headers()
    assert len(allocs) == 2
    for a in allocs:
        assert a["NodeID"] == node["ID"]
        assert a["JobID"] == job["ID"]
        assert a["Job"]["ID"] == job["ID"], "node allocations are full, with their Job"
        assert "TaskResources" in a


def test_allocations_of_unknown_node_are_empty(api):
    r = api.get(api.node_path(Z, "/allocations"))
    assert r.ok() == []
    r.read_headers()


# ---- evaluations and allocations by ID


def test_get_evaluation(api, h):
    job = api.seed_job()
    reply = api.register(job)
    r = api.get("/v1/evaluation/" + reply["EvalID"])
    ev = r.ok()
    assert r.read_headers() >= ev["ModifyIndex"]
    for key in h.EVAL_FIELDS:
        assert key in ev, f"evaluation lacks {key}"
    assert ev["ID"] == reply["EvalID"]
    assert ev["JobID"] == job["ID"]
    assert ev == [e for e in api.job_evals(job["ID"]) if e["ID"] == ev["ID"]][0]


def test_get_missing_evaluation_is_404(api):
    r = api.get("/v1/evaluation/" + Z)
    r.error(404)
    assert r.text.strip() == "eval not found"
    r.read_headers()


def test_get_allocation(api, h):
    dc = api.dc()
    node = api.add_node(dc)
    job = api.fitting_job(dc, count=1)
    reply = api.register(job)
    stub = api.job_allocs(job["ID"])[0]
    r = api.get("/v1/allocation/" + stub["ID"])
    alloc = r.ok()
    assert r.read_headers() >= alloc["ModifyIndex"]
    for key in ("Job", "Resources", "TaskResources", "Metrics"):
        assert key in alloc, f"allocation lacks {key}"
    for key in h.ALLOC_STUB_FIELDS:
        if key not in ("JobType", "JobVersion"):
            assert alloc.get(key) == stub[key], f"allocation {key} differs from its stub"
    assert alloc["EvalID"] == reply["EvalID"]
    assert alloc["NodeID"] == node["ID"]
    assert alloc["Job"]["ID"] == job["ID"]
    assert alloc["Job"]["Version"] == 0
    assert alloc["Resources"]["CPU"] == 1000, "group resources are the sum of its tasks"
    assert set(alloc["TaskResources"]) == {"binstore", "storagelocker"}
    net = alloc["TaskResources"]["binstore"]["Networks"][0]
    assert net["IP"] == node["Resources"]["Networks"][0]["IP"]
    assert net["MBits"] == 100
    assert alloc["Metrics"]["NodesEvaluated"] >= 1


def test_get_missing_allocation_is_404(api):
    r = api.get("/v1/allocation/" + Z)
    r.error(404)
    assert r.text.strip() == "alloc not found"
    r.read_headers()


# ---- client status


@pytest.fixture
def placed(api):
    """A node and a job with one allocation on it; returns (node, job, alloc)."""
    dc = api.dc()
    node = api.add_node(dc)
    job = api.fitting_job(dc, count=1)
    api.register(job)
    alloc = api.alloc(api.job_allocs(job["ID"])[0]["ID"])
    return node, job, alloc


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_client_reports_running(api, h, placed, method):
    _, job, alloc = placed
    states = {"binstore": {"State": "running", "Failed": False, "Events": []},
              "storagelocker": {"State": "pending", "Failed": False, "Events": []}}
    r = api.alloc_status_raw(alloc["ID"], {"ClientStatus": "running",
                                           "ClientDescription": "tasks are running",
                                           "TaskStates": states}, method=method)
    body = r.ok()
    assert set(body) >= {"Index"}
    assert r.index == body["Index"] > alloc["ModifyIndex"]
    got = api.alloc(alloc["ID"])
    assert got["ClientStatus"] == "running"
    assert got["ClientDescription"] == "tasks are running"
    h.assert_contains(states, got["TaskStates"], where="TaskStates")
    assert got["ModifyIndex"] == body["Index"]
    for key in ("ID", "Name", "NodeID", "JobID", "EvalID", "DesiredStatus", "CreateIndex",
                "TaskGroup"):
        assert got[key] == alloc[key], f"a client update changed {key}"
    stub = api.job_allocs(job["ID"])[0]
    assert stub["ClientStatus"] == "running"
    h.assert_contains(states, stub["TaskStates"], where="TaskStates")


def test_client_status_cannot_change_server_fields(api, placed):
    _, _, alloc = placed
    api.alloc_status(alloc["ID"], "running", DesiredStatus="stop", NodeID=Z, Name="evil",
                     JobID="other")
    got = api.alloc(alloc["ID"])
    assert got["ClientStatus"] == "running"
    for key in ("DesiredStatus", "NodeID", "Name", "JobID"):
        assert got[key] == alloc[key], f"the client status route changed {key}"


@pytest.mark.parametrize("status", ["bogus", "", "dead"])
def test_client_status_must_be_known(api, h, placed, status):
    _, _, alloc = placed
    r = api.alloc_status_raw(alloc["ID"], {"ClientStatus": status})
    h.assert_problems(r.error(500), "ClientStatus")
    got = api.alloc(alloc["ID"])
    assert got["ClientStatus"] == alloc["ClientStatus"]
    assert got["ModifyIndex"] == alloc["ModifyIndex"]


def test_client_status_of_missing_allocation(api):
    api.alloc_status_raw(Z, {"ClientStatus": "running"}).error(500, "alloc not found")
