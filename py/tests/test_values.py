"""Read values are the objects json.loads would build from the core's JSON."""

from __future__ import annotations

import json

import pytest

import ordu
from conftest import fitting_job, node, seed_job, uid


def test_values_round_trip_through_json(store):
    job = seed_job()
    job["Meta"] = {"unicode": "h\u00e9llo \u2603 \U0001f680", "quote": 'a"b\\c'}
    job["Extra"] = {"float": 1.5, "big": 2**63 - 1, "neg": -7, "list": [1, "two", None, True],
                    "nested": {"empty": {}, "none": None, "zero": 0.0}}
    job["TaskGroups"][0]["Tasks"][0]["Config"] = {"args": ["-x", 3], "ratio": 0.25}
    store.register_job({"Job": job})
    got, _ = store.job(job["ID"])
    # The same objects as through JSON text, including types.
    assert json.loads(json.dumps(got)) == got
    assert got["Meta"] == job["Meta"]
    assert got["Extra"] == job["Extra"]
    assert type(got["Extra"]["float"]) is float and type(got["Extra"]["big"]) is int
    assert got["Extra"]["list"][3] is True
    assert got["TaskGroups"][0]["Tasks"][0]["Config"] == {"args": ["-x", 3], "ratio": 0.25}
    assert got["Stop"] is False and isinstance(got["CreateIndex"], int)


def test_a_job_read_back_is_an_identical_spec(store):
    job = seed_job()
    store.register_job({"Job": job})
    got, _ = store.job(job["ID"])
    reply = store.register_job({"Job": got})
    assert reply["JobModifyIndex"] == got["JobModifyIndex"], "GET then PUT changed the spec"
    assert store.job(job["ID"])[0]["Version"] == 0


def test_lists_are_lists_never_none(store):
    dc = f"dc-{uid()}"
    store.register_node({"Node": node(dc)})
    job = fitting_job(dc, count=1)
    reply = store.register_job({"Job": job})
    ev, _ = store.evaluation(reply["EvalID"])
    alloc, _ = store.allocation(store.job_allocations(job["ID"])[0][0]["ID"])
    for value in (store.jobs()[0], store.nodes()[0], store.job_evaluations("none")[0],
                  store.job_allocations("none")[0], store.node_allocations("none")[0]):
        assert isinstance(value, list)
    assert isinstance(ev["FailedTGAllocs"], (dict, type(None)))
    assert isinstance(alloc["TaskResources"], dict)
    assert json.loads(json.dumps(alloc)) == alloc


def test_many_distinct_keys_round_trip(store):
    """Object keys go through a bounded cache; keys past it, and long keys, still
    come back exactly."""
    job = seed_job()
    job["Meta"] = {f"k{i}-{uid()}": str(i) for i in range(10000)}
    job["Meta"]["x" * 200] = "long"
    store.register_job({"Job": job})
    for _ in range(2):
        got, _ = store.job(job["ID"])
        assert got["Meta"] == job["Meta"]


def _growth(run, warm: int, measured: int) -> int:
    """Bytes the process's resident set grew by over `run(measured)`, after
    `run(warm)` (caches filled); skips where /proc is missing."""
    import gc
    import os

    if not os.path.exists("/proc/self/statm"):
        pytest.skip("needs /proc")

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    run(warm)
    gc.collect()
    before = rss()
    run(measured)
    gc.collect()
    return rss() - before


def test_reads_and_errors_do_not_leak(store):
    """A leaked reference per read would keep each job's ~160 objects alive:
    20,000 reads would grow the process by hundreds of MB."""
    job = seed_job()
    store.register_job({"Job": job})

    def churn(n):
        for _ in range(n):
            store.job(job["ID"])
            store.jobs()
            try:
                store.job("nope")
            except ordu.NotFoundError:
                pass
            try:
                store.register_job({"Job": {"ID": "bad id"}})
            except ordu.InvalidError:
                pass

    grown = _growth(churn, 2000, 20000)
    assert grown < 32 << 20, f"the process grew by {grown >> 20} MB over 20,000 rounds"


def test_keys_of_freed_texts_are_never_mixed_up(store):
    """Dict keys are cached by the address of their text; a key text on the
    heap (a Meta key) is freed when its job is replaced, and the next job's
    keys of the same length may land at that address. Each read must still
    give its own keys."""
    job = seed_job()
    for i in range(300):
        job["Meta"] = {f"k{i:04}-{j}": f"v{i}-{j}" for j in range(8)}
        store.register_job({"Job": job})
        got, _ = store.job(job["ID"])
        assert got["Meta"] == job["Meta"], f"round {i}"


def test_values_of_freed_texts_are_never_mixed_up(store):
    """Short string values are cached by the address of their text too: each
    read must give the values of its own job, whatever texts of the same
    length were at those addresses before, and a value the caller changes
    is its own."""
    job = seed_job()
    for i in range(300):
        job["Meta"] = {f"k{j}": f"v{i:04}-{j}" for j in range(8)}
        job["TaskGroups"][0]["Tasks"][0]["Driver"] = f"drv{i % 7}"
        store.register_job({"Job": job})
        got, _ = store.job(job["ID"])
        assert got["Meta"] == job["Meta"], f"round {i}"
        assert got["TaskGroups"][0]["Tasks"][0]["Driver"] == f"drv{i % 7}"
        # Python strings are immutable: a caller rebinding a value in its
        # dict changes nothing for the next read.
        got["Meta"]["k0"] = "changed"
        again, _ = store.job(job["ID"])
        assert again["Meta"]["k0"] == f"v{i:04}-0"


def _containers(value, out):
    """Every dict and list in `value`, by id."""
    if isinstance(value, dict):
        out[id(value)] = value
        for v in value.values():
            _containers(v, out)
    elif isinstance(value, list):
        out[id(value)] = value
        for v in value:
            _containers(v, out)
    return out


def test_gets_of_an_unchanged_job_are_independent_copies(store):
    """A get of an unchanged job copies the Python value an earlier get made:
    no dict or list is shared between two gets, so what a caller changes,
    at any depth, is its own."""
    job = seed_job()
    store.register_job({"Job": job})
    first, _ = store.job(job["ID"])
    second, _ = store.job(job["ID"])
    assert first == second
    shared = _containers(first, {}).keys() & _containers(second, {}).keys()
    assert not shared, f"{len(shared)} containers shared between two gets"
    original = json.loads(json.dumps(second))
    # Change the second at every level.
    second["Priority"] = -1
    second["Meta"] = None
    task = second["TaskGroups"][0]["Tasks"][0]
    task["Config"]["image"] = "changed"
    task["Resources"]["Networks"].append({"x": 1})
    second["Datacenters"].clear()
    second["TaskGroups"].append({})
    third, _ = store.job(job["ID"])
    assert third == original
    assert first == original


def test_a_job_too_big_to_keep_is_converted_at_every_get(store):
    """A store keeps the Python values of jobs up to 4,096 items; a bigger
    one is converted at each get, with the same guarantees."""
    job = seed_job()
    job["Meta"] = {f"k{i}": str(i) for i in range(5000)}
    store.register_job({"Job": job})
    gets = [store.job(job["ID"])[0] for _ in range(4)]
    assert all(g == gets[0] for g in gets)
    gets[1]["Meta"]["k0"] = "changed"
    gets[2]["TaskGroups"].clear()
    again, _ = store.job(job["ID"])
    assert again["Meta"]["k0"] == "0" and again == gets[0]


def test_a_changed_job_is_read_as_changed(store):
    job = seed_job()
    store.register_job({"Job": job})
    for i in range(50):
        job["Meta"] = {"round": str(i)}
        job["TaskGroups"][0]["Count"] = i + 1
        store.register_job({"Job": job})
        for _ in range(2):
            got, index = store.job(job["ID"])
            assert got["Meta"] == {"round": str(i)}
            assert got["TaskGroups"][0]["Count"] == i + 1
            assert got["JobModifyIndex"] == index
    store.deregister_job(job["ID"])
    with pytest.raises(ordu.NotFoundError):
        store.job(job["ID"])
    job["Meta"] = {"round": "again"}
    store.register_job({"Job": job})
    assert store.job(job["ID"])[0]["Meta"] == {"round": "again"}


def test_many_jobs_each_read_as_its_own(store):
    """More jobs than the store keeps values of, read round and round (slots
    are shared and replaced), while they change: every get is of its own job
    as last written, and nothing leaks."""
    jobs = []
    for i in range(200):
        job = seed_job(f"many-{i:03}-{uid()}")
        job["Meta"] = {"n": str(i), "v": "0"}
        store.register_job({"Job": job})
        jobs.append(job)

    def rounds(n):
        for r in range(n):
            for i, job in enumerate(jobs):
                if (i + r) % 17 == 0:
                    job["Meta"]["v"] = str(r)
                    store.register_job({"Job": job})
                got, _ = store.job(job["ID"])
                assert got["ID"] == job["ID"]
                assert got["Meta"] == job["Meta"], (r, i)

    grown = _growth(rounds, 3, 30)
    assert grown < 32 << 20, f"the process grew by {grown >> 20} MB"


def test_gets_from_many_threads_while_the_job_changes(store):
    """Readers on 8 threads and a writer: every value a reader gets is whole
    and of one version (its Meta names the version whose index it carries),
    and each reader sees versions in order."""
    import threading

    job = seed_job()
    job["Meta"] = {"v": "0"}
    store.register_job({"Job": job})
    version_of = {}  # JobModifyIndex -> Meta["v"], as the writer wrote them
    done = threading.Event()
    errors = []

    def writer():
        for v in range(1, 300):
            job["Meta"] = {"v": str(v)}
            reply = store.register_job({"Job": job})
            version_of[reply["JobModifyIndex"]] = str(v)
        done.set()

    def reader():
        last = -1
        try:
            while not done.is_set():
                got, _ = store.job(job["ID"])
                v = int(got["Meta"]["v"])
                assert v >= last, f"went back from {last} to {v}"
                last = v
                expected = version_of.get(got["JobModifyIndex"])
                assert expected in (None, got["Meta"]["v"]), (expected, got["Meta"])
                got["Meta"]["v"] = "mine"  # a caller's change stays its own
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for t in threads:
        t.start()
    writer()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    final, _ = store.job(job["ID"])
    assert final["Meta"] == {"v": "299"}
