"""Lists with paging: ``evaluations``, ``allocations``, ``jobs_page`` and
``nodes_page`` answer ``(items, index, next_token)`` in Nomad's orders, with
filters, ``per_page``, ``next_token`` and ``reverse``; they block as every
read does."""

from __future__ import annotations

import threading
import time

import pytest

import ordu
from conftest import fitting_job, node


@pytest.fixture
def placed(store: ordu.Store) -> ordu.Store:
    """Three jobs of two allocations each on two nodes, each evaluated once more."""
    for _ in range(2):
        store.register_node({"Node": node("dc1")})
    for i in range(3):
        store.register_job({"Job": fitting_job("dc1", count=2, job_id=f"job-{i}")})
        store.evaluate_job(f"job-{i}")
    return store


def walk(read, per_page: int, **kw):
    out, token = [], ""
    while True:
        items, _, token = read(per_page=per_page, next_token=token, **kw)
        assert len(items) <= per_page
        out.extend(items)
        if token is None:
            return out
        assert len(items) == per_page


def keys(items):
    return [(x["CreateIndex"], x["ID"]) for x in items]


def test_whole_lists_and_their_indexes(placed):
    evals, index, token = placed.evaluations()
    assert token is None
    assert len(evals) == 6 and keys(evals) == sorted(keys(evals))
    assert index == max(e["ModifyIndex"] for e in evals)
    allocs, _, _ = placed.allocations()
    assert len(allocs) == 6 and keys(allocs) == sorted(keys(allocs))
    assert "Job" not in allocs[0]
    jobs, _, _ = placed.jobs_page()
    assert [j["ID"] for j in jobs] == ["job-0", "job-1", "job-2"]
    assert len(placed.nodes_page()[0]) == 2


@pytest.mark.parametrize("per_page", [1, 2, 5])
@pytest.mark.parametrize("reverse", [False, True])
def test_paging_walks_every_item_once(placed, per_page, reverse):
    for read in (placed.evaluations, placed.allocations, placed.jobs_page, placed.nodes_page):
        assert walk(read, per_page, reverse=reverse) == read(reverse=reverse)[0]
    assert placed.evaluations(reverse=True)[0] == placed.evaluations()[0][::-1]


def test_filters_and_tokens(placed):
    evals, _, _ = placed.evaluations(job="job-1")
    assert len(evals) == 2 and {e["JobID"] for e in evals} == {"job-1"}
    assert placed.evaluations(job="job-1", status="bogus")[0] == []
    one = evals[0]["ID"]
    by_prefix, _, _ = placed.evaluations(prefix=one[:8])
    assert one in [e["ID"] for e in by_prefix]
    _, _, token = placed.evaluations(job="job-1", per_page=1)
    assert token == f"{evals[1]['CreateIndex']}.{evals[1]['ID']}"
    _, _, token = placed.jobs_page(per_page=2)
    assert token == "default.job-2"
    allocs, _, _ = placed.allocations(job="job-2")
    placed.update_alloc_client(allocs[0]["ID"], {"ClientStatus": "running"})
    running, _, _ = placed.allocations(status="running")
    assert [a["ID"] for a in running] == [allocs[0]["ID"]]


def test_bad_options_raise(placed):
    with pytest.raises(ordu.InvalidError):
        placed.evaluations(per_page=-1)
    with pytest.raises(ordu.InvalidError):
        placed.allocations(next_token="nodot")
    with pytest.raises(ordu.InvalidError):
        placed.jobs_page(next_token="job-1")
    assert ordu._ordu.parse_per_page("7") == 7
    with pytest.raises(ValueError, match="per_page"):
        ordu._ordu.parse_per_page("-1")


def test_the_evaluation_list_blocks_until_an_evaluation_changes(placed):
    _, index, _ = placed.evaluations()
    threading.Timer(0.1, lambda: placed.evaluate_job("job-0")).start()
    started = time.monotonic()
    evals, after, _ = placed.evaluations(index=index, wait=10)
    assert after > index and len(evals) == 7
    assert time.monotonic() - started < 5
