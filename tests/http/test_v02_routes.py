"""The routes the v0.2 command-line tool calls besides the job API (issue 11):
its monitor's `GET /v1/evaluation/<id>/allocations`, `PUT
/v1/node/<id>/drain?enable=` with an empty body, and the agent and status
endpoints, answered for one embedded server that leads itself."""

import pytest

from conftest import in_background


def _placed(api, count=2):
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=count)
    reply = api.register(job)
    allocs = api.wait_allocs(job["ID"], lambda a: len(a) == count)
    return job, reply["EvalID"], allocs


def test_an_evaluation_lists_the_allocations_it_placed(api):
    job, eval_id, allocs = _placed(api)
    r = api.get(f"/v1/evaluation/{eval_id}/allocations")
    got = r.ok()
    r.read_headers()
    assert sorted(a["ID"] for a in got) == sorted(a["ID"] for a in allocs)
    for a in got:
        assert a["EvalID"] == eval_id
        assert a["JobID"] == job["ID"]
        # Stubs, as the job's allocation list: no embedded job.
        assert "Job" not in a


def test_an_unknown_evaluation_has_no_allocations(api):
    r = api.get("/v1/evaluation/00000000-0000-0000-0000-000000000000/allocations")
    assert r.ok() == []
    assert r.read_headers() >= 1


def test_evaluation_allocations_is_a_blocking_query(api):
    _, eval_id, allocs = _placed(api, count=1)
    path = f"/v1/evaluation/{eval_id}/allocations"
    index = api.get(path).read_headers()
    poll = in_background(api.poll, path, index, "20s")
    api.alloc_status(allocs[0]["ID"], "running")
    r = poll.result(timeout=25)
    assert r.elapsed < 15, "the read woke on its allocation's change"
    assert r.read_headers() > index
    assert [a["ClientStatus"] for a in r.ok()] == ["running"]


def test_evaluation_allocations_takes_only_get(api):
    api.request("PUT", "/v1/evaluation/x/allocations").error(405, "Invalid method")
    api.get("/v1/evaluation/x/y/allocations").error(404, "404 page not found")


def test_drain_with_enable_and_an_empty_body(api):
    node = api.add_node()
    path = api.node_path(node["ID"], "/drain")
    for enable, drained in (("true", True), ("false", False), ("1", True), ("F", False)):
        r = api.request("PUT", path, params={"enable": enable}, data=b"")
        body = r.ok()
        assert r.index == body["Index"]
        assert api.get_node(node["ID"])["Drain"] is drained, enable
    # The JSON body still works.
    api.node_drain(node["ID"], True)
    assert api.get_node(node["ID"])["Drain"] is True


@pytest.mark.parametrize("params, body, text", [
    ({}, b"", "missing enable value"),
    ({"enable": "yes"}, b"", "invalid enable value"),
    ({"enable": "true"}, b'{"Drain": false}', "does not match"),
])
def test_a_bad_drain_is_refused_and_changes_nothing(api, params, body, text):
    node = api.add_node()
    before = api.get(api.node_path(node["ID"])).read_headers()
    r = api.request("PUT", api.node_path(node["ID"], "/drain"), params=params, data=body)
    r.error(400, text)
    after = api.get(api.node_path(node["ID"]))
    assert after.read_headers() == before
    assert after.ok()["Drain"] is False


def test_agent_self_describes_a_server_that_leads_itself(api, server_region):
    r = api.get("/v1/agent/self")
    me = r.ok()
    assert "X-Nomad-Index" not in r.headers, "not a blocking query"
    config = me["config"]
    assert config["Region"] == server_region
    assert config["Server"]["Enabled"] is True
    assert isinstance(config["Datacenter"], str) and config["Datacenter"]
    member = me["member"]
    assert member["Status"] == "alive"
    assert member["Name"] == f"{config['NodeName']}.{server_region}"
    assert member["Tags"]["region"] == server_region
    assert member["Tags"]["role"] == "nomad"
    nomad = me["stats"]["nomad"]
    assert nomad["server"] == "true" and nomad["leader"] == "true"
    for section in me["stats"].values():
        assert all(isinstance(v, str) for v in section.values())


def test_agent_members_is_the_v02_list_of_this_server(api, server_region):
    members = api.get("/v1/agent/members").ok()
    assert isinstance(members, list) and len(members) == 1
    m = members[0]
    assert m["Status"] == "alive"
    assert m["Tags"]["region"] == server_region
    for key in ("Name", "Addr", "Port", "Tags", "ProtocolMin", "ProtocolMax", "ProtocolCur",
                "DelegateMin", "DelegateMax", "DelegateCur"):
        assert key in m, key
    assert m == api.get("/v1/agent/self").ok()["member"]


def test_status_leader_and_peers_name_this_server(api):
    leader = api.get("/v1/status/leader").ok()
    m = api.get("/v1/agent/members").ok()[0]
    host = f"[{m['Addr']}]" if ":" in m["Addr"] else m["Addr"]
    assert leader == f"{host}:{m['Port']}"
    assert api.get("/v1/status/peers").ok() == [leader]


def test_regions_is_the_one_region_held(api, server_region):
    assert api.get("/v1/regions").ok() == [server_region]


@pytest.mark.parametrize("path", ["/v1/agent/self", "/v1/agent/members", "/v1/status/leader",
                                  "/v1/status/peers", "/v1/regions"])
def test_agent_routes_take_only_get(api, path):
    api.request("PUT", path, data=b"").error(405, "Invalid method")
