"""Blocking queries: ?index=N&wait=D on every GET — parsing, waking, timing out,
per-key isolation, resets and many waiters."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

WRITE_DELAY = 0.3  # when the main thread writes, after starting a poll
WOKEN_WITHIN = 2.0  # a woken 3 s poll must have returned before this (from its start)


def api_in_background(api, path, index, wait, params=None):
    """Starts a blocking read in a thread of its own; returns its future."""
    pool = ThreadPoolExecutor(max_workers=1)
    fut = pool.submit(api.poll, path, index, wait, params)
    pool.shutdown(wait=False)
    return fut


def read_paths(api):
    """One path per kind of GET; the IDs need not exist."""
    job = api.job_id("nope")
    return [
        "/v1/jobs",
        api.job_path(job),
        api.job_path(job, "/allocations"),
        api.job_path(job, "/evaluations"),
        "/v1/nodes",
        api.node_path("00000000-0000-0000-0000-000000000000"),
        api.node_path("00000000-0000-0000-0000-000000000000", "/allocations"),
        "/v1/evaluation/00000000-0000-0000-0000-000000000000",
        "/v1/allocation/00000000-0000-0000-0000-000000000000",
    ]


ROUTE_IDS = ["jobs", "job", "job-allocs", "job-evals", "nodes", "node", "node-allocs",
             "eval", "alloc"]


@pytest.mark.parametrize("route", range(9), ids=ROUTE_IDS)
def test_invalid_index_is_400_on_every_read(api, route):
    path = read_paths(api)[route]
    api.get(path, params={"index": "abc", "wait": "1s"}).error(400, "Invalid index")


@pytest.mark.parametrize("index", ["-1", "1.5", "0x10", "1e3", "+5", "18446744073709551616"])
def test_index_must_be_a_decimal_u64(api, index):
    api.get("/v1/jobs", params={"index": index}).error(400, "Invalid index")


@pytest.mark.parametrize("route", range(9), ids=ROUTE_IDS)
def test_invalid_wait_is_400_on_every_read(api, route):
    path = read_paths(api)[route]
    api.get(path, params={"index": "1", "wait": "10"}).error(400, "Invalid wait time")


@pytest.mark.parametrize("wait", ["10", "abc", "5x", "1s5", "-", "s"])
def test_wait_must_be_a_go_duration(api, wait):
    api.get("/v1/jobs", params={"index": "1", "wait": wait}).error(400, "Invalid wait time")


@pytest.mark.parametrize("wait", ["1s", "500ms", "1m30s", "2h", "1.5s", "250ms", "100us",
                                  "0", "3h2m1s"])
def test_go_durations_are_accepted(api, wait):
    r = api.get("/v1/jobs", params={"index": "0", "wait": wait})
    r.ok()
    assert r.elapsed < 1.0


def test_max_u64_index_is_valid(api):
    r = api.get("/v1/jobs", params={"index": "18446744073709551615", "wait": "1s"})
    r.ok()
    assert r.elapsed < 1.0, "an index above the store's answers at once"


@pytest.mark.parametrize("params", [{"index": "0", "wait": "3s"}, {"wait": "3s"}],
                         ids=["index=0", "no-index"])
def test_index_zero_or_absent_answers_at_once(api, params):
    job = api.seed_job()
    api.register(job)
    r = api.get(api.job_path(job["ID"]), params=params)
    r.ok()
    assert r.elapsed < 1.0


def test_index_above_store_answers_at_once(api):
    job = api.seed_job()
    api.register(job)
    huge = 2**62
    r = api.poll(api.job_path(job["ID"]), huge, "3s")
    got = r.ok()
    assert r.elapsed < 1.0, f"a reset must answer at once, took {r.elapsed:.2f}s"
    assert r.read_headers() == got["ModifyIndex"] < huge


def test_poll_times_out_with_the_current_answer(api):
    job = api.seed_job()
    api.register(job)
    path = api.job_path(job["ID"])
    now = api.get(path)
    index = now.index
    r = api.poll(path, index, "1s")
    assert r.ok() == now.ok()
    assert r.read_headers() == index
    assert 0.95 <= r.elapsed <= 1.0 + 1.0 / 16 + 0.5, f"took {r.elapsed:.2f}s for wait=1s"


def test_poll_wakes_on_a_change_to_the_job(api):
    job = api.seed_job()
    api.register(dict(job))
    path = api.job_path(job["ID"])
    index = api.get(path).index
    fut = api_in_background(api, path, index, "3s")
    time.sleep(WRITE_DELAY)
    job["Priority"] = 61
    reply = api.register(job)
    r = fut.result(timeout=10)
    got = r.ok()
    assert r.elapsed < WOKEN_WITHIN, f"poll took {r.elapsed:.2f}s; the write should wake it"
    assert r.read_headers() > index
    assert r.index >= reply["Index"]
    assert got["Priority"] == 61


def test_poll_on_missing_job_wakes_when_it_is_created(api):
    job = api.seed_job()
    path = api.job_path(job["ID"])
    missing = api.get(path).expect(404)
    index = max(missing.index, 1)
    fut = api_in_background(api, path, index, "3s")
    time.sleep(WRITE_DELAY)
    api.register(job)
    r = fut.result(timeout=10)
    assert r.ok()["ID"] == job["ID"]
    assert r.elapsed < WOKEN_WITHIN
    assert r.index > index


def test_poll_on_job_wakes_when_it_is_deleted(api):
    job = api.seed_job()
    api.register(job)
    path = api.job_path(job["ID"])
    index = api.get(path).index
    fut = api_in_background(api, path, index, "3s")
    time.sleep(WRITE_DELAY)
    api.deregister(job["ID"])
    r = fut.result(timeout=10)
    r.error(404, "job not found")
    assert r.elapsed < WOKEN_WITHIN
    assert r.read_headers() > index, "indexes never go backwards, also across deletes"


def test_job_list_poll_wakes_on_a_new_job(api):
    index = api.jobs_index()
    fut = api_in_background(api, "/v1/jobs", index, "3s")
    time.sleep(WRITE_DELAY)
    job = api.seed_job()
    api.register(job)
    r = fut.result(timeout=10)
    stubs = r.ok()
    assert r.elapsed < WOKEN_WITHIN
    assert r.index > index
    assert job["ID"] in [s["ID"] for s in stubs]


def test_evaluations_poll_wakes_on_evaluate(api):
    job = api.seed_job()
    api.register(job)
    path = api.job_path(job["ID"], "/evaluations")
    index = api.get(path).index
    fut = api_in_background(api, path, index, "3s")
    time.sleep(WRITE_DELAY)
    reply = api.evaluate(job["ID"])
    r = fut.result(timeout=10)
    evals = r.ok()
    assert r.elapsed < WOKEN_WITHIN
    assert r.index > index
    assert reply["EvalID"] in [e["ID"] for e in evals]


def test_allocations_poll_wakes_on_client_status(api):
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=1)
    api.register(job)
    path = api.job_path(job["ID"], "/allocations")
    first = api.get(path)
    alloc = first.ok()[0]
    fut = api_in_background(api, path, first.index, "3s")
    time.sleep(WRITE_DELAY)
    reply = api.alloc_status(alloc["ID"], "running")
    r = fut.result(timeout=10)
    allocs = r.ok()
    assert r.elapsed < WOKEN_WITHIN
    assert r.index > first.index
    assert r.index >= reply["Index"]
    assert allocs[0]["ClientStatus"] == "running"


def test_alloc_poll_wakes_on_client_status(api):
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=1)
    api.register(job)
    alloc_id = api.job_allocs(job["ID"])[0]["ID"]
    path = "/v1/allocation/" + alloc_id
    index = api.get(path).index
    fut = api_in_background(api, path, index, "3s")
    time.sleep(WRITE_DELAY)
    api.alloc_status(alloc_id, "running")
    r = fut.result(timeout=10)
    assert r.ok()["ClientStatus"] == "running"
    assert r.elapsed < WOKEN_WITHIN
    assert r.index > index


def test_node_poll_wakes_on_status_change(api):
    node = api.add_node()
    path = api.node_path(node["ID"])
    index = api.get(path).index
    fut = api_in_background(api, path, index, "3s")
    time.sleep(WRITE_DELAY)
    api.node_status(node["ID"], "down")
    r = fut.result(timeout=10)
    assert r.ok()["Status"] == "down"
    assert r.elapsed < WOKEN_WITHIN
    assert r.index > index


def test_node_list_poll_wakes_on_a_new_node(api):
    index = api.get("/v1/nodes").index
    fut = api_in_background(api, "/v1/nodes", index, "3s")
    time.sleep(WRITE_DELAY)
    node = api.add_node()
    r = fut.result(timeout=10)
    assert node["ID"] in [n["ID"] for n in r.ok()]
    assert r.elapsed < WOKEN_WITHIN
    assert r.index > index


# ---- per-key isolation


def _job_read_indexes(api, job_id):
    return {
        suffix: api.get(api.job_path(job_id, suffix)).expect(200).index
        for suffix in ("", "/allocations", "/evaluations")
    }


def test_write_to_another_job_changes_no_index_of_this_job(api):
    a = api.seed_job()
    api.register(a)
    before = _job_read_indexes(api, a["ID"])
    b = api.seed_job()
    api.register(b)
    api.evaluate(b["ID"])
    api.deregister(b["ID"])
    assert _job_read_indexes(api, a["ID"]) == before


@pytest.mark.parametrize("suffix", ["", "/allocations", "/evaluations"],
                         ids=["job", "allocations", "evaluations"])
def test_write_to_another_job_does_not_wake_this_job(api, suffix):
    a = api.seed_job()
    api.register(a)
    path = api.job_path(a["ID"], suffix)
    first = api.get(path)
    # A job never placed may have index 0 for its allocations; 0 would not block.
    fut = api_in_background(api, path, max(first.index, 1), "1s")
    time.sleep(WRITE_DELAY)
    b = api.seed_job()
    api.register(b)
    r = fut.result(timeout=10)
    assert r.ok() == first.ok()
    assert r.index == first.index
    assert r.elapsed >= 0.95, f"woken after {r.elapsed:.2f}s by a write to another job"


# ---- many waiters


def test_many_concurrent_polls_all_wake_on_one_write(api):
    n = 200
    job = api.seed_job()
    api.register(dict(job))
    path = api.job_path(job["ID"])
    index = api.get(path).index
    ready = threading.Barrier(n + 1)

    def one():
        ready.wait(timeout=10)
        return api.poll(path, index, "3s")

    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(one) for _ in range(n)]
        ready.wait(timeout=10)
        time.sleep(0.7)
        job["Priority"] = 62
        reply = api.register(job)
        written = time.monotonic()
        results = [f.result(timeout=20) for f in futures]
    late = []
    for r in results:
        got = r.ok()
        assert r.index > index, f"a poll returned index {r.index} <= {index}"
        assert r.index >= reply["Index"]
        assert got["Priority"] == 62
        if r.ended - written > 1.5:
            late.append(r.ended - written)
    assert not late, f"{len(late)} of {n} polls were not woken by the write (timed out)"
