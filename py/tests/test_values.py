"""Read values are the objects json.loads would build from the core's JSON."""

from __future__ import annotations

import json

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


def _rss_bytes() -> int:
    import os

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_reads_and_errors_do_not_leak(store):
    """A leaked reference per read would keep each job's ~160 objects alive:
    20,000 reads would grow the process by hundreds of MB."""
    import gc
    import os

    import pytest

    import ordu

    if not os.path.exists("/proc/self/statm"):
        pytest.skip("needs /proc")
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

    churn(2000)
    gc.collect()
    before = _rss_bytes()
    churn(20000)
    gc.collect()
    grown = _rss_bytes() - before
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
