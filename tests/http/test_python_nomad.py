"""A whole lifecycle driven by the real python-nomad 2.1.0 client, unchanged.

python-nomad wraps nothing: register_job posts the dict it is given (so the caller
wraps the job in {"Job": ...}), evaluate_job posts no body, deregister_job and
get_allocations send booleans as `True`, and it maps 400/403/404 to exceptions of
their own and everything else that is not 2xx to BaseNomadException."""

import copy
import urllib.parse

import pytest

nomad = pytest.importorskip("nomad")
from nomad.api import exceptions as nomad_exc  # noqa: E402


@pytest.fixture
def make_client(server, monkeypatch):
    """Makes python-nomad clients of the suite's server (`namespace=` scopes one)."""
    # python-nomad reads these from the environment; the suite's server must win.
    for var in ("NOMAD_ADDR", "NOMAD_NAMESPACE", "NOMAD_REGION", "NOMAD_TOKEN",
                "NOMAD_CLIENT_CERT", "NOMAD_CLIENT_KEY"):
        monkeypatch.delenv(var, raising=False)
    parts = urllib.parse.urlsplit(server)
    port = parts.port or (443 if parts.scheme == "https" else 80)

    def make(**kw):
        return nomad.Nomad(host=parts.hostname, port=port, secure=parts.scheme == "https",
                           timeout=10, **kw)
    return make


@pytest.fixture
def client(make_client):
    return make_client()


def test_lifecycle(api, h, client):
    dc = api.dc()
    node = api.add_node(dc)
    job = api.fitting_job(dc, count=2)
    job_id = job["ID"]
    api.track_job(job_id)

    # Register through /v1/job/<id>.
    reply = client.job.register_job(job_id, {"Job": copy.deepcopy(job)})
    assert h.UUID_RE.match(reply["EvalID"])
    assert reply["EvalCreateIndex"] == reply["JobModifyIndex"] > 0

    # Read it back, in the ways python-nomad offers.
    got = client.job.get_job(job_id)
    assert got["ID"] == job_id
    assert got["Status"] == "running"
    assert got["Version"] == 0
    assert job_id in client.job
    assert client.job[job_id]["ID"] == job_id
    listed = client.jobs.get_jobs(prefix=job_id)
    assert [j["ID"] for j in listed] == [job_id]
    assert job_id in client.jobs

    # Allocations and evaluations.
    allocs = client.job.get_allocations(job_id)
    assert h.names(allocs) == [f"{job_id}.binsl[0]", f"{job_id}.binsl[1]"]
    assert all(a["NodeID"] == node["ID"] and a["DesiredStatus"] == "run" for a in allocs)
    assert sorted(a["ID"] for a in client.job.get_allocations(job_id, all_=True)) == \
        sorted(a["ID"] for a in allocs)
    evals = client.job.get_evaluations(job_id)
    assert [e["ID"] for e in evals] == [reply["EvalID"]]
    ev = client.evaluation.get_evaluation(reply["EvalID"])
    assert ev["Status"] == "complete" and ev["TriggeredBy"] == "job-register"
    assert reply["EvalID"] in client.evaluation

    # Evaluate (a POST without a body).
    again = client.job.evaluate_job(job_id)
    assert again["EvalID"] not in ("", reply["EvalID"])
    assert {e["ID"] for e in client.job.get_evaluations(job_id)} >= {reply["EvalID"],
                                                                      again["EvalID"]}

    # Node and allocation reads.
    assert client.node.get_node(node["ID"])["Datacenter"] == dc
    assert node["ID"] in client.node
    assert sorted(a["ID"] for a in client.node.get_allocations(node["ID"])) == \
        sorted(a["ID"] for a in allocs)
    assert node["ID"] in [n["ID"] for n in client.nodes.get_nodes(prefix=node["ID"][:13])]
    alloc = client.allocation.get_allocation(allocs[0]["ID"])
    assert alloc["Job"]["ID"] == job_id
    assert allocs[0]["ID"] in client.allocation

    # The client reports the allocation running (ordu's route), python-nomad sees it.
    api.alloc_status(alloc["ID"], "running")
    assert client.allocation.get_allocation(alloc["ID"])["ClientStatus"] == "running"

    # Update through /v1/jobs: a changed spec is a new version.
    changed = copy.deepcopy(job)
    changed["Meta"] = {"foo": "baz"}
    update = client.jobs.register_job({"Job": changed})
    assert update["JobModifyIndex"] > reply["JobModifyIndex"]
    assert client.job.get_job(job_id)["Version"] == 1
    assert client.job.get_job(job_id)["Meta"] == {"foo": "baz"}

    # Deregister with purge (sent as purge=True).
    gone = client.job.deregister_job(job_id, purge=True)
    assert h.UUID_RE.match(gone["EvalID"])
    assert job_id not in client.job
    with pytest.raises(nomad_exc.URLNotFoundNomadException):
        client.job.get_job(job_id)
    assert job_id not in [j["ID"] for j in client.jobs.get_jobs(prefix=job_id)]
    stopped = client.job.get_allocations(job_id)
    assert stopped, "the allocations of a deregistered job stay listable"
    assert all(a["DesiredStatus"] == "stop" for a in stopped)
    assert client.evaluation.get_evaluation(gone["EvalID"])["TriggeredBy"] == "job-deregister"

    # A job that is not there: deregister is a no-op.
    noop = client.job.deregister_job(job_id)
    assert noop["EvalID"] == "" and noop["Index"] == 0


def test_errors_reach_python_nomad_as_its_exceptions(api, h, client):
    missing = api.job_id("missing")
    with pytest.raises(nomad_exc.URLNotFoundNomadException):
        client.job.get_job(missing)
    assert missing not in client.job

    # Evaluate of a missing job is a 500: a BaseNomadException, not "not found".
    with pytest.raises(nomad_exc.BaseNomadException) as err:
        client.job.evaluate_job(missing)
    assert not isinstance(err.value, (nomad_exc.URLNotFoundNomadException,
                                      nomad_exc.BadRequestNomadException))
    assert err.value.nomad_resp.status_code == 500
    assert "job not found" in err.value.nomad_resp.text

    # Validation: 500 with the multi-error text.
    job = api.seed_job()
    job["TaskGroups"][0]["Tasks"][0]["Driver"] = ""
    api.track_job(job["ID"])
    with pytest.raises(nomad_exc.BaseNomadException) as err:
        client.job.register_job(job["ID"], {"Job": job})
    assert err.value.nomad_resp.status_code == 500
    h.assert_problems(err.value.nomad_resp.text, "TaskGroups[0].Tasks[0].Driver")

    # Decode and envelope errors: 400, BadRequestNomadException.
    with pytest.raises(nomad_exc.BadRequestNomadException):
        client.job.register_job(job["ID"], job)  # not wrapped in {"Job": ...}
    with pytest.raises(nomad_exc.BadRequestNomadException):
        client.job.register_job(api.job_id("other"), {"Job": api.seed_job()})


def test_blocking_read_through_python_nomad_session(api, client):
    """python-nomad has no blocking helper, but its session passes index/wait."""
    job = api.seed_job()
    api.register(job)
    index = api.get(api.job_path(job["ID"])).index
    resp = client.job.request(job["ID"], method="get",
                              params={"index": str(index), "wait": "1s"})
    assert resp.status_code == 200
    assert int(resp.headers["X-Nomad-Index"]) == index
    assert resp.json()["ID"] == job["ID"]


def test_evaluations_and_allocations_lists(api, h, client):
    """python-nomad's `evaluations` and `allocations` groups: the lists of
    every evaluation and allocation, by prefix, and the allocations' paging."""
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=2)
    job_id = job["ID"]
    api.track_job(job_id)
    reply = client.job.register_job(job_id, {"Job": copy.deepcopy(job)})
    eval_id = reply["EvalID"]

    evals = client.evaluations.get_evaluations()
    ours = [e for e in evals if e["JobID"] == job_id]
    assert [e["ID"] for e in ours] == [eval_id]
    assert ours[0]["Status"] == "complete" and ours[0]["TriggeredBy"] == "job-register"
    by_prefix = client.evaluations.get_evaluations(prefix=eval_id[:8])
    assert eval_id in [e["ID"] for e in by_prefix]
    assert all(e["ID"].startswith(eval_id[:8]) for e in by_prefix)
    assert eval_id in client.evaluations
    assert client.evaluations[eval_id]["JobID"] == job_id
    assert len(client.evaluations) == len(evals)

    allocs = client.allocations.get_allocations()
    ours = sorted(a["ID"] for a in allocs if a["JobID"] == job_id)
    assert ours == sorted(a["ID"] for a in client.job.get_allocations(job_id))
    assert len(ours) == 2
    by_prefix = client.allocations.get_allocations(prefix=ours[0][:8])
    assert ours[0] in [a["ID"] for a in by_prefix]
    assert all(a["ID"].startswith(ours[0][:8]) for a in by_prefix)
    # Paging and order as python-nomad sends them (reverse=True).
    first = client.allocations.get_allocations(per_page=1)
    assert [a["ID"] for a in first] == [allocs[0]["ID"]]
    assert client.allocations.get_allocations(reverse=True) == allocs[::-1]
    # The next page starts where the header said (python-nomad returns only
    # the body, so the token is read here as a client reads it).
    r = api.get("/v1/allocations", params={"per_page": 1})
    token = r.headers.get("X-Nomad-NextToken")
    if len(allocs) > 1:
        second = client.allocations.get_allocations(per_page=1, next_token=token)
        assert [a["ID"] for a in second] == [allocs[1]["ID"]]


def test_node_and_allocation_writes_through_python_nomad(api, h, client):
    """allocation.stop_allocation, node.eligible_node (eligible / ineligible),
    node.drain_node_with_spec, node.drain_node (the ?enable= form) and
    node.evaluate_node, as python-nomad 2.1.0 sends them."""
    dc = api.dc()
    node = api.add_node(dc)
    node_id = node["ID"]
    job = api.fitting_job(dc, count=1)
    api.register(job)

    def live():
        return [a for a in client.job.get_allocations(job["ID"])
                if a["DesiredStatus"] == "run"]

    h.wait_until(lambda: len(live()) == 1, what="the allocation placed")
    alloc = live()[0]

    got = client.allocation.stop_allocation(alloc["ID"])
    assert got["EvalID"] and got["Index"] > 0
    assert client.evaluation.get_evaluation(got["EvalID"])["TriggeredBy"] == "alloc-stop"
    h.wait_until(lambda: len(live()) == 1 and live()[0]["ID"] != alloc["ID"],
                 what="the replacement placed")
    assert client.allocation.get_allocation(alloc["ID"])["DesiredStatus"] == "stop"

    got = client.node.eligible_node(node_id, ineligible=True)
    assert set(got) >= {"EvalIDs", "EvalCreateIndex", "NodeModifyIndex", "Index"}
    assert client.node.get_node(node_id)["SchedulingEligibility"] == "ineligible"
    got = client.node.eligible_node(node_id, eligible=True)
    assert got["NodeModifyIndex"] == got["Index"]
    assert client.node.get_node(node_id)["SchedulingEligibility"] == "eligible"

    got = client.node.evaluate_node(node_id)
    assert got["EvalCreateIndex"] == got["Index"] > 0
    assert job["ID"] in [client.evaluation.get_evaluation(e)["JobID"] for e in got["EvalIDs"]]

    got = client.node.drain_node_with_spec(
        node_id, {"Deadline": 60_000_000_000, "IgnoreSystemJobs": True})
    assert got["NodeModifyIndex"] == got["Index"]
    n = client.node.get_node(node_id)
    assert n["Drain"] is True and n["SchedulingEligibility"] == "ineligible"
    assert n["DrainStrategy"]["IgnoreSystemJobs"] is True
    # No other node to move to: ordu keeps it running until a replacement
    # is placed (a blocked evaluation waits for one).
    assert len(live()) == 1
    client.node.drain_node_with_spec(node_id, None, mark_eligible=True)
    n = client.node.get_node(node_id)
    assert n["Drain"] is False and n["SchedulingEligibility"] == "eligible"

    # The v0.2 form python-nomad still has: a forced drain, then its end.
    client.node.drain_node(node_id, enable=True)
    assert client.node.get_node(node_id)["DrainStrategy"]["Deadline"] == -1_000_000_000
    client.node.drain_node(node_id, enable=False)
    assert client.node.get_node(node_id)["Drain"] is False

    with pytest.raises(nomad_exc.BaseNomadException) as err:
        client.allocation.stop_allocation("00000000-0000-0000-0000-000000000000")
    assert "Unknown allocation" in err.value.nomad_resp.text


def test_plan_job_through_python_nomad(api, h, client):
    """job.plan_job(id, {"Job": job}, diff=True) as python-nomad 2.1.0 sends
    it: the dry run's annotations, failures, index and diff; nothing written."""
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=2)
    job_id = job["ID"]
    group = job["TaskGroups"][0]["Name"]

    got = client.job.plan_job(job_id, {"Job": copy.deepcopy(job)}, diff=True)
    assert got["Annotations"]["DesiredTGUpdates"][group]["Place"] == 2
    assert got["FailedTGAllocs"] is None
    assert got["JobModifyIndex"] == 0
    assert got["Diff"]["Type"] == "Added" and got["Diff"]["ID"] == job_id
    assert job_id not in client.job

    reply = client.job.register_job(job_id, {"Job": copy.deepcopy(job)})
    api.track_job(job_id)
    assert len(h.running(client.job.get_allocations(job_id))) == 2

    job["TaskGroups"][0]["Count"] = 3
    got = client.job.plan_job(job_id, {"Job": copy.deepcopy(job)}, diff=True)
    assert got["JobModifyIndex"] == reply["JobModifyIndex"]
    u = got["Annotations"]["DesiredTGUpdates"][group]
    assert (u["Place"], u["InPlaceUpdate"], u["Stop"]) == (1, 2, 0)
    tg = got["Diff"]["TaskGroups"][0]
    assert tg["Type"] == "Edited" and tg["Updates"] == {"create": 1, "in-place update": 2}
    assert client.job.get_job(job_id)["TaskGroups"][0]["Count"] == 2
    assert len(client.job.get_evaluations(job_id)) == 1

    with pytest.raises(nomad_exc.BadRequestNomadException) as err:
        client.job.plan_job(job_id + "-other", {"Job": copy.deepcopy(job)})
    assert "Job ID does not match" in err.value.nomad_resp.text


def test_versions_revert_and_stable_through_python_nomad(api, client):
    job = api.sparse_job()
    api.track_job(job["ID"])
    for n in (1, 2):
        job["TaskGroups"][0]["Count"] = n
        client.job.register_job(job["ID"], {"Job": copy.deepcopy(job)})

    versions = client.job.get_versions(job["ID"])
    assert versions["Diffs"] is None
    assert [v["Version"] for v in versions["Versions"]] == [1, 0]

    reply = client.job.revert_job(job["ID"], 0)
    assert reply["EvalID"] and reply["JobModifyIndex"] == reply["Index"]
    assert client.job.get_job(job["ID"])["TaskGroups"][0]["Count"] == 1
    with pytest.raises(nomad_exc.BaseNomadException):
        client.job.revert_job(job["ID"], 0, enforce_prior_version=1)
    reply = client.job.revert_job(job["ID"], 1, enforce_prior_version=2)
    assert client.job.get_job(job["ID"])["Version"] == 3

    reply = client.job.stable_job(job["ID"], 3, True)
    assert reply["Index"] > 0
    assert client.job.get_job(job["ID"])["Stable"] is True
    stable = [(v["Version"], v["Stable"]) for v in client.job.get_versions(job["ID"])["Versions"]]
    assert stable == [(3, True), (2, False), (1, False), (0, False)]


def test_summary_scale_and_missing_sub_resources_through_python_nomad(api, client):
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=1)
    job_id = job["ID"]
    api.track_job(job_id)
    client.job.register_job(job_id, {"Job": copy.deepcopy(job)})
    group = job["TaskGroups"][0]["Name"]

    summary = client.job.get_summary(job_id)
    assert summary["JobID"] == job_id
    assert summary["Summary"][group]["Starting"] == 1
    assert summary["Children"] == {"Pending": 0, "Running": 0, "Dead": 0}

    # python-nomad 2.1.0 has no scale helper: its own request plumbing reaches
    # the endpoint as any client would.
    status = client.job.request(job_id, "scale", method="get").json()
    assert status["TaskGroups"][group]["Desired"] == 1
    reply = client.job.request(job_id, "scale", method="post",
                               json={"Count": 2, "Target": {"Group": group},
                                     "Message": "python-nomad"}).json()
    assert reply["EvalID"] and reply["Index"] > 0
    assert client.job.get_job(job_id)["TaskGroups"][0]["Count"] == 2
    assert client.job.get_summary(job_id)["Summary"][group]["Starting"] == 2

    assert client.job.get_deployments(job_id) == []
    assert client.job.get_deployment(job_id) is None
    with pytest.raises(nomad_exc.BaseNomadException) as err:
        client.job.periodic_job(job_id)
    assert "non-periodic" in str(err.value.nomad_resp.text)
    with pytest.raises(nomad_exc.BaseNomadException) as err:
        client.job.dispatch_job(job_id)
    assert "not a parameterized job" in str(err.value.nomad_resp.text)


def test_event_stream_through_python_nomad(api, client):
    """`event.stream.get_stream`: a thread that puts each frame on a queue and
    checks its exit event after each one; the test reads the queue with a
    timeout, then sets the event and makes one more matching write so the
    thread sees it and ends."""
    import queue

    dc = api.dc()
    node = api.add_node(dc)["ID"]
    path = api.node_path(node, "/eligibility")
    thread, exit_event, frames = client.event.stream.get_stream(
        topic=f"Node:{node}", timeout=(3, 45))
    thread.daemon = True
    thread.start()
    try:
        # The stream starts at the next write (index 0); make writes until
        # one arrives, the subscription being made by the thread meanwhile.
        got = None
        for eligibility in ["ineligible", "eligible"] * 10:
            api.request("POST", path, body={"NodeID": node, "Eligibility": eligibility}).ok()
            try:
                got = frames.get(timeout=0.5)
                break
            except queue.Empty:
                continue
        assert got is not None, "no frame through python-nomad"
        assert got["Index"] > 0
        events = got["Events"]
        assert [(e["Topic"], e["Key"], e["Type"]) for e in events] == [("Node", node, "NodeDrain")]
        assert events[0]["Payload"]["Node"]["ID"] == node
    finally:
        exit_event.set()
        api.request("POST", path, body={"NodeID": node, "Eligibility": "eligible"})
        api.request("POST", path, body={"NodeID": node, "Eligibility": "ineligible"})
        thread.join(10)
    assert not thread.is_alive()


def test_namespaces_through_python_nomad(api, h, client, make_client):
    """The `namespace` and `namespaces` groups, and a client made with
    `namespace=`, which sends `?namespace=` on the job and allocation routes."""
    name = api.namespace_name()
    api.track_namespace(name)
    created = client.namespace.create_namespace(
        {"Name": name, "Description": "made by python-nomad", "Meta": {"team": "a"}})
    assert created.status_code == 200
    assert int(created.headers["X-Nomad-Index"]) > 0
    got = client.namespace.get_namespace(name)
    assert (got["Name"], got["Description"], got["Meta"]) == \
        (name, "made by python-nomad", {"team": "a"})
    assert got["CreateIndex"] == int(created.headers["X-Nomad-Index"])
    assert name in client.namespace
    # (Not `client.namespace[name]`: python-nomad 2.1.0 reads a namespace's
    # "ID", which Nomad's namespaces have not, and raises KeyError.)
    assert [n["Name"] for n in client.namespaces.get_namespaces(prefix=name)] == [name]
    assert name in client.namespaces and "default" in client.namespaces
    assert client.namespaces[name]["Description"] == "made by python-nomad"
    assert len(client.namespaces) >= 2
    assert "default" in [n["Name"] for n in client.namespaces]
    updated = client.namespace.update_namespace(name, {"Name": name, "Description": "changed"})
    assert updated.status_code == 200
    now = client.namespace.get_namespace(name)
    assert now["Description"] == "changed"
    assert now["CreateIndex"] == got["CreateIndex"] < now["ModifyIndex"]

    # A client scoped to the namespace.
    scoped = make_client(namespace=name)
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=1)
    job_id = job["ID"]
    api.track_job(job_id, name)
    reply = scoped.job.register_job(job_id, {"Job": copy.deepcopy(job)})
    assert scoped.job.get_job(job_id)["Namespace"] == name
    assert client.job.get_job(job_id, namespace=name)["ID"] == job_id
    with pytest.raises(nomad_exc.URLNotFoundNomadException):
        client.job.get_job(job_id)
    assert job_id in scoped.job and job_id not in client.job
    assert [j["ID"] for j in scoped.jobs.get_jobs(prefix=job_id)] == [job_id]
    assert client.jobs.get_jobs(prefix=job_id) == []
    everywhere = client.jobs.get_jobs(prefix=job_id, namespace="*")
    assert [(j["Namespace"], j["ID"]) for j in everywhere] == [(name, job_id)]

    allocs = scoped.job.get_allocations(job_id)
    assert len(allocs) == 1 and allocs[0]["Namespace"] == name
    assert client.job.get_allocations(job_id) == []
    assert [a["ID"] for a in client.job.get_allocations(job_id, namespace=name)] == \
        [allocs[0]["ID"]]
    assert [a["ID"] for a in client.allocations.get_allocations(namespace=name)] == \
        [allocs[0]["ID"]]
    assert [a["ID"] for a in scoped.allocations.get_allocations()] == [allocs[0]["ID"]]
    assert scoped.allocation.get_allocation(allocs[0]["ID"])["Namespace"] == name
    assert [e["ID"] for e in scoped.job.get_evaluations(job_id)] == [reply["EvalID"]]
    assert client.job.get_evaluations(job_id) == []
    assert [e["ID"] for e in client.job.get_evaluations(job_id, namespace=name)] == \
        [reply["EvalID"]]
    assert scoped.job.get_summary(job_id)["Namespace"] == name
    again = scoped.job.evaluate_job(job_id)
    assert again["EvalID"] in [e["ID"] for e in scoped.job.get_evaluations(job_id)]

    # A namespace holding a job cannot be deleted: 500.
    with pytest.raises(nomad_exc.BaseNomadException) as err:
        client.namespace.delete_namespace(name)
    assert err.value.nomad_resp.status_code == 500
    gone = scoped.job.deregister_job(job_id, purge=True)
    assert h.UUID_RE.match(gone["EvalID"])
    assert job_id not in scoped.job
    deleted = client.namespace.delete_namespace(name)
    assert deleted.status_code == 200
    assert name not in client.namespace and name not in client.namespaces
    with pytest.raises(nomad_exc.URLNotFoundNomadException):
        client.namespace.get_namespace(name)
    # Registering into it now: refused, naming the field.
    with pytest.raises(nomad_exc.BaseNomadException) as err:
        scoped.job.register_job(job_id, {"Job": copy.deepcopy(job)})
    assert err.value.nomad_resp.status_code == 500
    h.assert_problems(err.value.nomad_resp.text, "Namespace")
