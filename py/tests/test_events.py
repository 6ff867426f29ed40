"""Store.events: the event stream as an iterator of frames, blocking with
the GIL released, a timeout, filters, a start index, the buffer's bound and
Ctrl-C."""

from __future__ import annotations

import _thread
import threading
import time

import pytest

import ordu
from conftest import fitting_job, node


def later(delay, fn, *args):
    t = threading.Timer(delay, fn, args)
    t.daemon = True
    t.start()
    return t


def test_every_write_once_in_index_order(store):
    events = store.events()
    n = node("dc1")
    store.register_node({"Node": n})
    job = fitting_job("dc1", count=2)
    reply = store.register_job({"Job": job})
    frames = []
    while (f := events.next(timeout=0)) is not None:
        frames.append(f)
    indexes = [f["Index"] for f in frames]
    assert indexes == sorted(set(indexes)) and indexes[-1] == store.index
    assert frames[0]["Events"][0]["Type"] == "NodeRegistration"
    assert frames[0]["Events"][0]["Payload"]["Node"]["ID"] == n["ID"]
    reg = next(f for f in frames if f["Index"] == reply["Index"])
    assert [(e["Topic"], e["Type"]) for e in reg["Events"]][0] == ("Job", "JobRegistered")
    allocs = [e for f in frames for e in f["Events"] if e["Topic"] == "Allocation"]
    assert len(allocs) == 2 and all(e["Type"] == "PlanResult" for e in allocs)
    assert events.index == store.index


def test_iteration_blocks_until_a_write_and_filters(store):
    job = fitting_job("dc1", count=1)
    events = store.events(topics=[f"Job:{job['ID']}"])
    later(0.2, store.register_job, {"Job": job})
    started = time.monotonic()
    frame = next(iter(events))
    assert time.monotonic() - started >= 0.15
    assert [e["Key"] for e in frame["Events"]] == [job["ID"]]
    assert events.next(timeout=0.1) is None


def test_the_gil_is_released_while_waiting(store):
    events = store.events()
    ticks = []

    def tick():
        for _ in range(5):
            ticks.append(1)
            time.sleep(0.02)

    t = threading.Thread(target=tick)
    t.start()
    assert events.next(timeout=0.3) is None
    t.join()
    assert len(ticks) == 5


def test_start_index_and_the_buffer_bound():
    store = ordu.Store({"event_buffer_size": 2})
    slow = store.events()
    for i in range(4):
        store.register_node({"Node": node("dc1", node_id=f"n{i}")})
    with pytest.raises(ordu.LimitError) as e:
        slow.next(timeout=0)
    assert "oldest index" in str(e.value)
    with pytest.raises(ordu.LimitError) as e:
        store.events(index=1)
    assert e.value.limit == 3
    frames = list(iter_now(store.events(index=3)))
    assert [f["Index"] for f in frames] == [3, 4]
    with pytest.raises(ordu.InvalidError):
        store.events(topics=["Job:"])


def iter_now(events):
    while (f := events.next(timeout=0)) is not None:
        yield f


def test_ctrl_c_ends_a_waiting_iteration(store):
    events = store.events()
    later(0.2, _thread.interrupt_main)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        next(events)
    assert time.monotonic() - started < 2


def test_index_while_another_thread_waits(store):
    events = store.events()
    t = threading.Thread(target=events.next, kwargs={"timeout": 0.5}, daemon=True)
    t.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert events.index == store.index
    assert time.monotonic() - started < 1.0
    t.join()
