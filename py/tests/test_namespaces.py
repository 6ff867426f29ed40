"""Namespaces through the binding: made by a write, `default` always there;
a job's ID is unique within its namespace only; methods naming a job and
the job, evaluation and allocation lists take `namespace=` ("*": every one
on lists)."""

from __future__ import annotations

import threading
import time

import pytest

import ordu
from conftest import fitting_job, node, seed_job


def job_in(ns, job_id="web", priority=50):
    job = seed_job(job_id)
    job["Priority"] = priority
    if ns is not None:
        job["Namespace"] = ns
    return {"Job": job}


# ---- the namespaces themselves


def test_default_always_exists(store):
    names, index = store.namespaces()
    assert [n["Name"] for n in names] == ["default"] and index == 0
    ns, _ = store.namespace("default")
    assert ns["Name"] == "default" and ns["Description"]


def test_upsert_from_a_name_a_body_or_a_path(store):
    first = store.upsert_namespace("prod")
    assert first == {"Index": 1}
    store.upsert_namespace({"Name": "dev", "Description": "the team's", "Meta": {"k": "v"}})
    store.upsert_namespace('{"Description": "from the path"}', name="qa")
    names, index = store.namespaces()
    assert [n["Name"] for n in names] == ["default", "dev", "prod", "qa"]
    assert index == store.index == 3
    assert [n["Name"] for n in store.namespaces(prefix="d")[0]] == ["default", "dev"]
    dev, _ = store.namespace("dev")
    assert (dev["Description"], dev["Meta"]) == ("the team's", {"k": "v"})
    assert store.namespace("qa")[0]["Description"] == "from the path"
    # An update keeps CreateIndex and moves ModifyIndex.
    store.upsert_namespace({"Name": "prod", "Description": "changed"})
    prod, _ = store.namespace("prod")
    assert (prod["CreateIndex"], prod["ModifyIndex"]) == (1, 4)
    assert prod["Description"] == "changed"


@pytest.mark.parametrize("call", [
    lambda s: s.upsert_namespace("bad name!"),
    lambda s: s.upsert_namespace({"Name": ""}),
    lambda s: s.upsert_namespace({"Name": "x" * 129}),
    lambda s: s.upsert_namespace({"Name": "*"}),
])
def test_bad_names_are_refused_on_the_name_field(store, call):
    with pytest.raises(ordu.InvalidError) as e:
        call(store)
    assert [err["path"] for err in e.value.errors] == ["Name"]
    assert store.index == 0


def test_a_body_naming_another_namespace_than_the_path(store):
    with pytest.raises(ordu.InvalidError) as e:
        store.upsert_namespace({"Name": "a"}, name="b")
    assert e.value.errors[0]["path"] == "Name" and store.index == 0


def test_missing_namespace_is_not_found(store):
    with pytest.raises(ordu.NotFoundError) as e:
        store.namespace("nope")
    assert (e.value.what, e.value.id) == ("namespace", "nope")
    assert str(e.value) == "namespace not found" and e.value.http_status_lookup == 404
    with pytest.raises(ordu.NotFoundError):
        store.delete_namespace("nope")


def test_delete_refusals_and_delete(store):
    with pytest.raises(ordu.ConflictError):
        store.delete_namespace("default")
    store.upsert_namespace("prod")
    store.register_job(job_in("prod"))
    with pytest.raises(ordu.ConflictError):
        store.delete_namespace("prod")
    # A stopped job still holds it; a purged one does not.
    stopping = ordu.Store({"deregister": "stop"})
    stopping.upsert_namespace("prod")
    stopping.register_job(job_in("prod"))
    stopping.deregister_job("web", namespace="prod")
    with pytest.raises(ordu.ConflictError):
        stopping.delete_namespace("prod")
    stopping.deregister_job("web", purge=True, namespace="prod")
    assert stopping.delete_namespace("prod")["Index"] == stopping.index
    store.deregister_job("web", purge=True, namespace="prod")
    reply = store.delete_namespace("prod")
    assert reply == {"Index": store.index}
    assert [n["Name"] for n in store.namespaces()[0]] == ["default"]


# ---- jobs in namespaces


def test_one_id_in_two_namespaces_is_two_jobs(store):
    store.upsert_namespace("prod")
    store.register_job(job_in(None, priority=10))
    store.register_job(job_in("prod", priority=90))
    assert store.job("web")[0]["Priority"] == 10
    assert store.job("web", namespace="default")[0]["Namespace"] == "default"
    prod, _ = store.job("web", namespace="prod")
    assert (prod["Namespace"], prod["Priority"]) == ("prod", 90)
    # Each has its own versions, summary and evaluations.
    assert store.job_summary("web", namespace="prod")[0]["Namespace"] == "prod"
    assert len(store.job_versions("web", namespace="prod")[0]["Versions"]) == 1
    evals, _ = store.job_evaluations("web", namespace="prod")
    assert {e["Namespace"] for e in evals} == {"prod"}
    # Purging one leaves the other.
    store.deregister_job("web", purge=True, namespace="prod")
    with pytest.raises(ordu.NotFoundError):
        store.job("web", namespace="prod")
    assert store.job("web")[0]["Priority"] == 10


def test_the_request_namespace_and_the_jobs_own(store):
    store.upsert_namespace("prod")
    store.upsert_namespace("dev")
    # Without a Namespace in the job, the request's.
    store.register_job(job_in(None, "a"), namespace="prod")
    assert store.job("a", namespace="prod")[0]["Namespace"] == "prod"
    with pytest.raises(ordu.NotFoundError):
        store.job("a")
    # The job's own wins.
    store.register_job(job_in("dev", "b"), namespace="prod")
    assert store.job("b", namespace="dev")[0]["Namespace"] == "dev"
    with pytest.raises(ordu.NotFoundError):
        store.job("b", namespace="prod")
    # "" is default, as None.
    store.register_job(job_in(None, "c"), namespace="")
    assert store.job("c", namespace="")[0]["Namespace"] == "default"


@pytest.mark.parametrize("how", ["job", "request"])
def test_register_into_a_missing_namespace(store, how):
    if how == "job":
        call = lambda: store.register_job(job_in("nope"))  # noqa: E731
    else:
        call = lambda: store.register_job(job_in(None), namespace="nope")  # noqa: E731
    with pytest.raises(ordu.InvalidError) as e:
        call()
    assert [err["path"] for err in e.value.errors] == ["Namespace"]
    assert "nope" in e.value.errors[0]["message"]
    assert store.index == 0


def test_job_writes_name_the_namespace(store):
    store.upsert_namespace("prod")
    store.register_job(job_in("prod"))
    # In default there is no "web".
    with pytest.raises(ordu.NotFoundError):
        store.evaluate_job("web")
    reply = store.evaluate_job("web", namespace="prod")
    assert reply["EvalID"]
    assert store.evaluation(reply["EvalID"])[0]["Namespace"] == "prod"
    group = seed_job()["TaskGroups"][0]["Name"]
    store.scale_job("web", {"Count": 3, "Target": {"Group": group}}, namespace="prod")
    assert store.job("web", namespace="prod")[0]["TaskGroups"][0]["Count"] == 3
    store.set_job_stability("web", {"JobID": "web", "JobVersion": 1, "Stable": True},
                            namespace="prod")
    store.revert_job("web", {"JobID": "web", "JobVersion": 0}, namespace="prod")
    assert store.job("web", namespace="prod")[0]["Version"] == 2
    status, _ = store.job_scale_status("web", namespace="prod")
    assert status["Namespace"] == "prod"
    plan = store.plan_job("web", job_in("prod"), namespace="prod")
    assert "Annotations" in plan
    with pytest.raises(ordu.NotFoundError):
        store.job_scale_status("web")
    assert store.job_deployments("web", namespace="prod")[0] == []
    assert store.job_deployment("web", namespace="prod")[0] is None
    with pytest.raises(ordu.ConflictError):
        store.force_periodic_job("web", namespace="prod")
    with pytest.raises(ordu.ConflictError):
        store.dispatch_job("web", namespace="prod")
    # A deregister of the default "web" finds nothing and writes nothing.
    assert store.deregister_job("web")["Index"] == 0
    assert store.deregister_job("web", namespace="prod")["Index"] > 0


# ---- lists


def test_lists_per_namespace_and_every_one(store):
    store.register_node({"Node": node("dc1")})
    store.upsert_namespace("prod")
    store.register_job({"Job": fitting_job("dc1", 1, "web")})
    prod = fitting_job("dc1", 2, "web")
    prod["Namespace"] = "prod"
    store.register_job({"Job": prod})
    store.register_job(job_in("prod", "api"))

    def ids(stubs):
        return sorted((s.get("Namespace"), s.get("JobID", s.get("ID"))) for s in stubs)

    assert ids(store.jobs()[0]) == [("default", "web")]
    assert ids(store.jobs(namespace="prod")[0]) == [("prod", "api"), ("prod", "web")]
    assert len(store.jobs(namespace="*")[0]) == 3
    assert ids(store.jobs_page(namespace="prod")[0]) == [("prod", "api"), ("prod", "web")]

    def jobs_of(evals):
        return sorted({(e["Namespace"], e["JobID"]) for e in evals})

    assert jobs_of(store.evaluations()[0]) == [("default", "web")]
    assert jobs_of(store.evaluations(namespace="prod")[0]) == [("prod", "api"), ("prod", "web")]
    assert len(jobs_of(store.evaluations(namespace="*")[0])) == 3
    assert jobs_of(store.evaluations(job="web", namespace="*")[0]) == [
        ("default", "web"), ("prod", "web")]

    allocs, _, _ = store.allocations()
    assert [a["Namespace"] for a in allocs] == ["default"]
    assert len(store.allocations(namespace="prod")[0]) == 2
    assert len(store.allocations(namespace="*")[0]) == 3
    assert len(store.job_allocations("web", namespace="prod")[0]) == 2
    assert len(store.job_allocations("web")[0]) == 1
    assert store.allocations(namespace="nope")[0] == []


def test_a_page_of_every_namespace_resumes_across_them(store):
    store.upsert_namespace("b-ns")
    store.register_job(job_in(None, "x"))
    store.register_job(job_in("b-ns", "x"))
    store.register_job(job_in("b-ns", "a"))
    seen, token = [], ""
    while True:
        page, _, token = store.jobs_page(namespace="*", per_page=1, next_token=token)
        seen += [(j["Namespace"], j["ID"]) for j in page]
        if token is None:
            break
    assert seen == [("b-ns", "a"), ("b-ns", "x"), ("default", "x")]


# ---- blocking


def test_a_blocked_read_wakes_on_its_namespace_only(store):
    store.upsert_namespace("prod")
    store.register_job(job_in("prod", priority=10))
    _, index = store.job("web", namespace="prod")
    got = {}

    def read():
        started = time.monotonic()
        got["answer"] = store.job("web", namespace="prod", index=index, wait=1.5)
        got["took"] = time.monotonic() - started

    t = threading.Thread(target=read)
    t.start()
    time.sleep(0.1)
    # The same ID in default: not the job the read waits on.
    store.register_job(job_in(None, priority=20))
    store.register_job(job_in(None, priority=30))
    time.sleep(0.4)
    assert t.is_alive(), "woke on another namespace's job"
    store.register_job(job_in("prod", priority=40))
    t.join(5)
    job, at = got["answer"]
    assert job["Priority"] == 40 and at > index
    assert got["took"] < 1.4


def test_a_blocked_read_of_a_missing_namespaced_job_waits_for_it(store):
    store.upsert_namespace("prod")
    index = store.index
    got = {}

    def read():
        got["answer"] = store.job("web", namespace="prod", index=index, wait=5)

    t = threading.Thread(target=read)
    t.start()
    time.sleep(0.1)
    store.register_job(job_in("prod"))
    t.join(5)
    assert got["answer"][0]["Namespace"] == "prod"


def test_a_blocked_namespace_list_wakes_on_a_namespace_write(store):
    store.upsert_namespace("dev")
    _, index = store.namespaces()
    threading.Timer(0.1, store.upsert_namespace, ("prod",)).start()
    started = time.monotonic()
    names, at = store.namespaces(index=index, wait=5)
    assert time.monotonic() - started < 3
    assert "prod" in [n["Name"] for n in names] and at > index


def test_namespaces_survive_a_snapshot(store):
    store.upsert_namespace({"Name": "prod", "Description": "kept"})
    store.register_job(job_in("prod"))
    again = ordu.Store()
    again.restore(store.snapshot())
    assert again.namespace("prod")[0]["Description"] == "kept"
    assert again.job("web", namespace="prod")[0]["Namespace"] == "prod"
