"""Every Store method, through dicts and JSON text, and every error kind."""

from __future__ import annotations

import json
import time

import pytest

import ordu
from conftest import fitting_job, node, seed_job, uid

# ---- construction


@pytest.mark.parametrize("config", [None, {}, "", "{}", b"{}", '{"region": "global"}'])
def test_default_configs(config):
    store = ordu.Store(config)
    assert store.region == "global"
    assert store.index == 0
    assert store.max_request_bytes == 8 << 20


def test_config_as_dict_and_json():
    store = ordu.Store({"region": "eu", "limits": {"max_request_bytes": 1000}})
    assert store.region == "eu"
    assert store.max_request_bytes == 1000
    assert ordu.Store('{"region": "asia"}').region == "asia"
    assert "region" in repr(ordu.Store())


@pytest.mark.parametrize("config,path", [
    ({"mode": "fast"}, "mode"),
    ({"region": ""}, "region"),
])
def test_bad_config_is_invalid(config, path):
    with pytest.raises(ordu.InvalidError) as ei:
        ordu.Store(config)
    assert ei.value.errors[0]["path"] == path


def test_unknown_config_key_names_it():
    with pytest.raises(ordu.InvalidError, match="regoin"):
        ordu.Store({"regoin": "x"})


def test_bodies_must_be_json_or_dicts(store):
    with pytest.raises(TypeError):
        store.register_job(None)
    with pytest.raises(TypeError):
        store.register_job({"Job": object()})  # json.dumps refuses it


# ---- jobs


def test_register_and_read_a_job(store):
    job = seed_job()
    reply = store.register_job({"Job": job})
    assert set(reply) >= {"EvalID", "EvalCreateIndex", "JobModifyIndex", "Index"}
    assert reply["Index"] == reply["EvalCreateIndex"] == reply["JobModifyIndex"] == 1
    got, index = store.job(job["ID"])
    assert got["ID"] == job["ID"]
    assert got["TaskGroups"][0]["Count"] == 5
    assert got["Version"] == 0
    assert index == got["ModifyIndex"] >= 1
    assert store.index >= 1


@pytest.mark.parametrize("form", ["str", "bytes"])
def test_register_accepts_json_text(store, form):
    job = seed_job()
    text = json.dumps({"Job": job})
    store.register_job(text if form == "str" else text.encode())
    assert store.job(job["ID"])[0]["Name"] == job["Name"]


def test_register_with_path_id(store):
    job = seed_job()
    store.register_job({"Job": job}, job_id=job["ID"])
    with pytest.raises(ordu.InvalidError, match="Job ID does not match name") as ei:
        store.register_job({"Job": job}, job_id="other")
    assert ei.value.stage == "decode"
    assert ei.value.http_status == 400


def test_jobs_lists_stubs_by_prefix(store):
    tag = uid()
    ids = [f"{tag}-{i}" for i in (2, 0, 1)]
    for job_id in ids:
        store.register_job({"Job": seed_job(job_id)})
    store.register_job({"Job": seed_job("other")})
    stubs, index = store.jobs(prefix=tag)
    assert [s["ID"] for s in stubs] == sorted(ids)
    assert "TaskGroups" not in stubs[0]
    assert index >= 4
    assert len(store.jobs()[0]) == 4
    assert store.jobs(prefix="nothing")[0] == []


def test_evaluate_and_evaluations(store):
    job = seed_job()
    first = store.register_job({"Job": job})
    reply = store.evaluate_job(job["ID"])
    assert reply["Index"] > first["Index"]
    evals, index = store.job_evaluations(job["ID"])
    assert {first["EvalID"], reply["EvalID"]} <= {e["ID"] for e in evals}
    ev, ev_index = store.evaluation(reply["EvalID"])
    assert ev["TriggeredBy"] == "job-register"
    assert ev_index == ev["ModifyIndex"]
    assert index >= ev["CreateIndex"]


def test_deregister(store):
    job = seed_job()
    store.register_job({"Job": job})
    reply = store.deregister_job(job["ID"])
    assert reply["EvalID"] and reply["Index"] > 1
    with pytest.raises(ordu.NotFoundError):
        store.job(job["ID"])
    missing = store.deregister_job("never-there")
    assert missing["EvalID"] == "" and missing["Index"] == 0


def test_placement_nodes_and_allocations(store):
    dc = f"dc-{uid()}"
    n = node(dc)
    reply = store.register_node({"Node": n})
    assert set(reply) >= {"NodeModifyIndex", "EvalIDs", "EvalCreateIndex", "Index"}
    job = fitting_job(dc, count=2)
    store.register_job({"Job": job})

    allocs, index = store.job_allocations(job["ID"])
    assert sorted(a["Name"] for a in allocs) == [f"{job['ID']}.binsl[0]",
                                                  f"{job['ID']}.binsl[1]"]
    assert index >= 1
    assert [a["ID"] for a in store.job_allocations(job["ID"], all=True)[0]] == \
        [a["ID"] for a in allocs]
    alloc, alloc_index = store.allocation(allocs[0]["ID"])
    assert alloc["NodeID"] == n["ID"] and alloc["Job"]["ID"] == job["ID"]
    assert alloc_index == alloc["ModifyIndex"]
    on_node, _ = store.node_allocations(n["ID"])
    assert sorted(a["ID"] for a in on_node) == sorted(a["ID"] for a in allocs)
    assert store.job(job["ID"])[0]["Status"] == "running"

    # The client reports; only client fields change.
    upd = store.update_alloc_client(alloc["ID"], {"ClientStatus": "running",
                                                  "ClientDescription": "up"})
    got, got_index = store.allocation(alloc["ID"])
    assert got["ClientStatus"] == "running" and got_index == upd["Index"]
    # The allocation named in the body instead.
    store.update_alloc_client(None, {"ID": alloc["ID"], "ClientStatus": "complete"})
    assert store.allocation(alloc["ID"])[0]["ClientStatus"] == "complete"


def test_node_reads_and_writes(store):
    n = node(f"dc-{uid()}")
    node_id = n.pop("ID")
    store.register_node(n, node_id=node_id)  # bare node, ID from the argument
    got, index = store.node(node_id)
    assert got["ID"] == node_id and got["Status"] == "ready"
    assert index == got["ModifyIndex"]
    stubs, _ = store.nodes(prefix=node_id[:8])
    assert [s["ID"] for s in stubs] == [node_id]
    assert "Resources" not in stubs[0]

    r = store.update_node_status(node_id, {"Status": "down"})
    assert store.node(node_id)[0]["Status"] == "down"
    assert store.node(node_id)[0]["ModifyIndex"] == r["NodeModifyIndex"]
    store.update_node_drain(node_id, '{"Drain": true}')
    assert store.node(node_id)[0]["Drain"] is True
    with pytest.raises(ordu.InvalidError, match="Node ID does not match"):
        store.register_node({"Node": dict(n, ID="x")}, node_id=node_id)

    store.deregister_node(node_id)
    with pytest.raises(ordu.NotFoundError) as ei:
        store.node(node_id)
    assert ei.value.what == "node"
    assert store.node_allocations(node_id)[0] == []


def test_garbage_collect(store):
    nothing = store.garbage_collect(0)
    assert nothing == {"Index": 0}
    job = seed_job()
    store.register_job({"Job": job})
    store.deregister_job(job["ID"])
    evals = store.job_evaluations(job["ID"])[0]
    assert evals and all(e["Status"] in ("complete", "canceled", "blocked") for e in evals)
    reply = store.garbage_collect(time.time_ns() + 10**9)
    assert reply["Index"] > 0
    remaining = store.job_evaluations(job["ID"])[0]
    assert len(remaining) < len(evals)


def test_reads_are_thread_safe_under_stress(store):
    import threading

    dc = f"dc-{uid()}"
    store.register_node({"Node": node(dc, cpu=100000, mbits=100000)})
    errors = []

    def writer(k):
        try:
            for i in range(20):
                store.register_job({"Job": fitting_job(dc, count=1, job_id=f"w{k}-{i}")})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader():
        try:
            for _ in range(200):
                stubs, _ = store.jobs()
                for s in stubs[:3]:
                    store.job_allocations(s["ID"])
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    stubs, _ = store.jobs()
    assert len(stubs) == 80
    for s in stubs:
        assert len(store.job_allocations(s["ID"])[0]) == 1


# ---- errors


def test_not_found_error(store):
    with pytest.raises(ordu.NotFoundError) as ei:
        store.job("nope")
    e = ei.value
    assert isinstance(e, ordu.OrduError)
    assert str(e) == "job not found" == e.message
    assert (e.kind, e.code, e.what, e.id, e.index) == ("not_found", 1, "job", "nope", 0)
    assert (e.http_status_lookup, e.http_status) == (404, 500)
    assert e.data["kind"] == "not_found"
    for read in (lambda: store.evaluation("x"), lambda: store.allocation("x"),
                 lambda: store.node("x"), lambda: store.evaluate_job("x"),
                 lambda: store.deregister_node("x"),
                 lambda: store.update_node_status("x", {"Status": "down"}),
                 lambda: store.update_alloc_client("x", {"ClientStatus": "running"})):
        with pytest.raises(ordu.NotFoundError):
            read()


def test_not_found_carries_the_read_index(store):
    store.register_job({"Job": seed_job()})
    with pytest.raises(ordu.NotFoundError) as ei:
        store.job("nope")
    assert ei.value.index >= 0
    with pytest.raises(ordu.NotFoundError) as ei:
        store.evaluation("nope")
    assert ei.value.index >= 1


def test_invalid_error_lists_every_problem(store):
    job = seed_job()
    job["Priority"] = 0
    job["TaskGroups"][0]["Tasks"][1]["Driver"] = ""
    with pytest.raises(ordu.InvalidError) as ei:
        store.register_job({"Job": job})
    e = ei.value
    assert e.stage == "validate" and e.http_status == 500
    paths = [p["path"] for p in e.errors]
    assert "Priority" in paths and "TaskGroups[0].Tasks[1].Driver" in paths
    assert all(set(p) == {"path", "message"} for p in e.errors)
    assert str(e).startswith("2 errors occurred:\n\t* ")
    assert store.index == 0, "a rejected register writes nothing"


@pytest.mark.parametrize("body", ["not json", "", '{"Job": {"ID": 5}}', "{}"])
def test_undecodable_body_is_a_decode_error(store, body):
    with pytest.raises(ordu.InvalidError) as ei:
        store.register_job(body)
    assert ei.value.stage == "decode"
    assert ei.value.http_status == 400


def test_conflict_error(store):
    job = seed_job()
    store.register_job({"Job": job})
    current = store.job(job["ID"])[0]["JobModifyIndex"]
    with pytest.raises(ordu.ConflictError) as ei:
        store.register_job({"Job": job, "EnforceIndex": True, "JobModifyIndex": current + 7})
    e = ei.value
    assert e.current_index == current
    assert "conflicting job modify index" in str(e)
    assert e.http_status == 500 and e.kind == "conflict"
    store.register_job({"Job": job, "EnforceIndex": True, "JobModifyIndex": current})


def test_region_error(store):
    with pytest.raises(ordu.RegionError) as ei:
        store.jobs(region="mars")
    e = ei.value
    assert str(e) == "No path to region"
    assert (e.requested, e.region, e.http_status) == ("mars", "global", 500)
    store.jobs(region="global")
    store.check_region(None)
    for call in (lambda: store.register_job({"Job": seed_job()}, region="mars"),
                 lambda: store.register_node({"Node": node()}, region="mars"),
                 lambda: store.update_node_drain("x", {"Drain": True}, region="mars"),
                 lambda: store.check_region("mars")):
        with pytest.raises(ordu.RegionError):
            call()
    assert store.index == 0


def test_limit_error():
    store = ordu.Store({"limits": {"max_group_count": 3, "max_request_bytes": 4096}})
    job = seed_job()
    job["TaskGroups"][0]["Count"] = 4
    with pytest.raises(ordu.LimitError) as ei:
        store.register_job({"Job": job})
    e = ei.value
    assert e.limit == 3 and "Count" in e.path and e.http_status == 400
    with pytest.raises(ordu.LimitError) as ei:
        store.register_job({"Job": dict(seed_job(), Meta={"pad": "x" * 5000})})
    assert ei.value.path == "body" and ei.value.limit == 4096
    with pytest.raises(ordu.LimitError):
        store.check_body_size(4097)
    store.check_body_size(4096)


@pytest.mark.parametrize("wait", [-1, float("nan"), float("inf")])
def test_bad_wait_is_a_value_error(store, wait):
    with pytest.raises(ValueError):
        store.jobs(index=1, wait=wait)


def test_exception_classes_form_one_hierarchy():
    for cls in (ordu.NotFoundError, ordu.InvalidError, ordu.ConflictError,
                ordu.RegionError, ordu.LimitError):
        assert issubclass(cls, ordu.OrduError)
        assert cls.__doc__
    assert issubclass(ordu.OrduError, Exception)


def test_every_public_method_has_a_docstring():
    public = [n for n in dir(ordu.Store) if not n.startswith("_")]
    expected = {"register_job", "job", "jobs", "evaluate_job", "deregister_job",
                "job_allocations", "job_evaluations", "evaluation", "allocation",
                "register_node", "deregister_node", "update_node_status",
                "update_node_drain", "node", "nodes", "node_allocations",
                "update_alloc_client", "garbage_collect"}
    assert expected <= set(public)
    for name in public:
        assert getattr(ordu.Store, name).__doc__, f"Store.{name} has no docstring"


# ---- grouped and queued scheduling modes


def queued_store(dc: str) -> ordu.Store:
    store = ordu.Store({"mode": "queued"})
    store.register_node({"Node": node(dc)})
    store.process_queued()
    return store


def test_grouped_mode_answers_writes_processed():
    store = ordu.Store({"mode": "grouped"})
    dc = f"dc-{uid()}"
    store.register_node({"Node": node(dc)})
    reply = store.register_job({"Job": fitting_job(dc, count=1)})
    assert not store.processing_behind()
    assert store.evaluation(reply["EvalID"])[0]["Status"] == "complete"


def test_queued_mode_processes_when_told():
    dc = f"dc-{uid()}"
    store = queued_store(dc)
    assert not store.processing_behind()
    job = fitting_job(dc, count=1)
    replies = [store.register_job({"Job": job}) for _ in range(4)]
    assert store.processing_behind(), "the writes answered with their evaluations queued"
    assert store.process_queued() >= replies[-1]["Index"]
    assert not store.processing_behind()
    # One group: the first ran, of those queued behind it the newest ran and
    # the others were canceled unrun.
    statuses = [store.evaluation(r["EvalID"])[0]["Status"] for r in replies]
    assert statuses == ["complete", "canceled", "canceled", "complete"]
    assert len(store.job_allocations(job["ID"])[0]) == 1


def test_queued_mode_read_processes_first():
    dc = f"dc-{uid()}"
    store = queued_store(dc)
    reply = store.register_job({"Job": fitting_job(dc, count=1)})
    assert store.processing_behind()
    assert store.evaluation(reply["EvalID"])[0]["Status"] == "complete"
    assert not store.processing_behind()


def test_queued_mode_with_a_processing_thread():
    import threading

    dc = f"dc-{uid()}"
    store = queued_store(dc)
    stop = threading.Event()
    groups = []

    def process():
        while not stop.is_set():
            if store.processing_behind():
                groups.append(store.process_queued())
            else:
                time.sleep(0.001)

    t = threading.Thread(target=process)
    t.start()
    try:
        job = fitting_job(dc, count=1)
        for _ in range(30):
            reply = store.register_job({"Job": job})
            status = store.evaluation(reply["EvalID"])[0]["Status"]
            assert status in ("complete", "canceled"), status
    finally:
        stop.set()
        t.join()
    assert groups == sorted(groups), "processed-up-to indexes only grow"


def test_a_queued_follower_processes_nothing():
    dc = f"dc-{uid()}"
    store = queued_store(dc)
    reply = store.register_job({"Job": fitting_job(dc, count=1)})
    store.leader = False
    assert not store.processing_behind()
    store.process_queued()
    assert store.evaluation(reply["EvalID"])[0]["Status"] == "pending"
    store.leader = True
    assert store.processing_behind()
    assert store.evaluation(reply["EvalID"])[0]["Status"] == "complete"


# ---- manual scheduling mode


def test_manual_mode_dequeue_and_process():
    store = ordu.Store({"mode": "manual"})
    dc = f"dc-{uid()}"
    store.register_node({"Node": node(dc)})
    assert store.dequeue_evaluation() is None
    job = fitting_job(dc, count=1)
    reply = store.register_job({"Job": job})
    assert store.job_allocations(job["ID"])[0] == [], "manual mode schedules nothing alone"
    assert store.dequeue_evaluation(["batch"]) is None
    d = store.dequeue_evaluation(["service"], wait=1)
    assert isinstance(d, ordu.Delivery)
    assert d.eval["ID"] == reply["EvalID"] and d.attempt == 1 and d.token
    assert d.to_dict()["Token"] == d.token
    done = store.process_evaluation(d)
    assert done["Index"] > reply["Index"]
    assert len(store.job_allocations(job["ID"])[0]) == 1
    assert store.evaluation(reply["EvalID"])[0]["Status"] == "complete"
    with pytest.raises(ordu.ConflictError):
        store.process_evaluation(d)


def test_a_delivery_not_processed_in_time_is_handed_out_again():
    store = ordu.Store({"mode": "manual", "nack_timeout": "200ms"})
    reply = store.register_job({"Job": seed_job()})
    lost = store.dequeue_evaluation()
    assert lost.eval["ID"] == reply["EvalID"]
    assert store.dequeue_evaluation() is None, "out with a worker"
    again = store.dequeue_evaluation(wait=5)
    assert again.eval["ID"] == reply["EvalID"]
    assert again.attempt == 2 and again.token != lost.token
    with pytest.raises(ordu.ConflictError):
        store.process_evaluation(lost)
    store.process_evaluation(again)
    with pytest.raises(ordu.InvalidError) as e:
        ordu.Store({"nack_timeout": "0s"})
    assert e.value.errors[0]["path"] == "nack_timeout"


def test_manual_mode_dequeue_waits_and_wakes():
    import threading

    store = ordu.Store({"mode": "manual"})
    started = time.monotonic()
    assert store.dequeue_evaluation(wait=0.3) is None
    assert 0.3 <= time.monotonic() - started < 1.0
    t = threading.Timer(0.2, store.register_job, ({"Job": seed_job()},))
    t.start()
    d = store.dequeue_evaluation(wait=10)
    assert d is not None and time.monotonic() - started < 2.0
    t.join()


def test_advance_drains_stops_at_the_deadline_and_ends_the_drain(store):
    assert store.advance_drains() == {"Index": 0}
    n = node()
    store.register_node(n)
    job = fitting_job("dc1", count=2)
    store.register_job({"Job": job})
    # Forced, on the only node: nothing can move, so the first pass stops
    # what runs and the second ends the drain.
    store.drain_node(n["ID"], {"DrainSpec": {"Deadline": -1}})
    job_id = job["ID"]
    live = lambda: [a for a in store.job_allocations(job_id)[0]
                    if a["DesiredStatus"] == "run"]
    assert len(live()) == 2
    assert store.advance_drains()["Index"] > 0
    assert live() == []
    assert store.node(n["ID"])[0]["Drain"] is True
    assert store.advance_drains()["Index"] > 0
    got = store.node(n["ID"])[0]
    assert got["Drain"] is False and got["SchedulingEligibility"] == "ineligible"
    assert store.advance_drains() == {"Index": 0}
