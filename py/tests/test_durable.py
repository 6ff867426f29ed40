"""Durable stores (`data_dir`): a store opened again on its directory has the
same jobs, allocations and index, and writes on above it; a second store on
a directory in use is refused; a snapshot then a restart gives the same
state; writes from several threads are all kept; a process killed with
SIGKILL mid-load loses no write it was answered; bad configs and unusable
directories raise the binding's errors."""

from __future__ import annotations

import gc
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import ordu
from conftest import fitting_job, node, seed_job


def durable(path, **extra) -> ordu.Store:
    return ordu.Store({"data_dir": str(path), **extra})


def state(store, job_id="web"):
    """What a client reads: the job, its allocations, the nodes, the index."""
    job, job_index = store.job(job_id)
    allocs, _ = store.job_allocations(job_id)
    nodes, _ = store.nodes()
    return job, job_index, sorted(a["ID"] for a in allocs), nodes, store.index


def test_a_store_opened_again_has_the_same_state_and_index(tmp_path):
    s = durable(tmp_path)
    assert s.data_dir == str(tmp_path)
    assert s.recovery == {"snapshot_index": 0, "replayed": 0, "index": 0}
    s.register_node({"Node": node()})
    s.register_job({"Job": fitting_job("dc1", 2, "web")})
    before = state(s)
    assert len(before[2]) == 2
    del s  # the last reference: closes the directory
    gc.collect()

    s = durable(tmp_path)
    r = s.recovery
    assert r["snapshot_index"] == 0
    assert r["index"] == before[-1]
    # The node, the job with its evaluation, the plan at least.
    assert 3 <= r["replayed"] <= before[-1]
    assert state(s) == before
    # The next write follows the recovered index, and is kept too.
    reply = s.deregister_job("web")
    assert reply["Index"] > before[-1]
    after = s.index
    del s  # the last reference: closes the directory
    gc.collect()

    s = durable(tmp_path)
    assert s.recovery["index"] == s.index == after
    with pytest.raises(ordu.NotFoundError):
        s.job("web")


def test_a_second_store_on_a_directory_in_use_is_refused(tmp_path):
    s = durable(tmp_path)
    s.register_node({"Node": node()})
    with pytest.raises(ordu.UnavailableError, match="in use by another process") as ei:
        durable(tmp_path)
    e = ei.value
    assert (e.kind, e.reason, e.path) == ("unavailable", "locked", str(tmp_path))
    assert e.data["reason"] == "locked" and e.data["path"] == str(tmp_path)
    assert str(tmp_path) in str(e)
    del e, ei
    # The first store goes on; once it is gone the directory opens again.
    s.register_job({"Job": fitting_job("dc1", 1, "web")})
    before = s.index
    del s  # the last reference: closes the directory
    gc.collect()
    again = durable(tmp_path)
    assert again.index == before


def test_a_snapshot_then_a_restart_gives_the_same_state(tmp_path):
    s = durable(tmp_path, snapshot_every=0)
    s.register_node({"Node": node()})
    s.register_job({"Job": fitting_job("dc1", 2, "web")})
    before = state(s)
    snap = s.snapshot_now()
    assert snap == before[-1]
    # Nothing written since: the same snapshot.
    assert s.snapshot_now() == snap
    del s  # the last reference: closes the directory
    gc.collect()

    s = durable(tmp_path, snapshot_every=0)
    assert s.recovery == {"snapshot_index": snap, "replayed": 0, "index": snap}
    assert state(s) == before
    # A write after it is replayed on top of the snapshot.
    s.evaluate_job("web")
    after = s.index
    del s  # the last reference: closes the directory
    gc.collect()

    s = durable(tmp_path)
    r = s.recovery
    assert r["snapshot_index"] == snap and r["replayed"] >= 1 and r["index"] == after
    assert state(s)[:4] == before[:4]


def test_snapshot_every_takes_snapshots_on_its_own(tmp_path):
    s = durable(tmp_path, snapshot_every=5)
    for i in range(12):
        s.register_job({"Job": seed_job(f"j{i:02}")})
    index = s.index
    # Snapshots are written by a thread beside the writes: a store closed
    # before it is done keeps fewer (a busy machine makes it likely), so
    # wait for the one within 5 + 2 entries of the end.
    def latest():
        return max((int(p.name[9:29]) for p in tmp_path.glob("snapshot-*.snap")), default=0)

    deadline = time.monotonic() + 10
    while latest() <= index - (5 + 2) and time.monotonic() < deadline:
        time.sleep(0.01)
    del s  # the last reference: closes the directory
    gc.collect()
    # ... once that thread, which may still be compacting, lets it go.
    while True:
        try:
            s = durable(tmp_path, snapshot_every=5)
            break
        except ordu.UnavailableError as e:
            if e.reason != "locked" or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    r = s.recovery
    assert r["snapshot_index"] > 0 and r["index"] == index
    # Only the entries after the last snapshot are replayed.
    assert r["replayed"] < 5 + 2
    jobs, _ = s.jobs()
    assert [j["ID"] for j in jobs] == [f"j{i:02}" for i in range(12)]


def test_writes_from_several_threads_are_all_kept(tmp_path):
    s = durable(tmp_path)
    threads, per = 8, 10
    answered: dict[str, int] = {}
    lock = threading.Lock()
    errors = []

    def write(t):
        try:
            for i in range(per):
                reply = s.register_job({"Job": seed_job(f"t{t}-{i}")})
                with lock:
                    answered[f"t{t}-{i}"] = reply["Index"]
        except Exception as e:  # reported below
            errors.append(e)

    ts = [threading.Thread(target=write, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    assert len(answered) == threads * per
    # Every write has an index of its own.
    assert len(set(answered.values())) == threads * per
    before = s.index
    del s  # the last reference: closes the directory
    gc.collect()

    s = durable(tmp_path)
    assert s.index == before
    jobs, _ = s.jobs(prefix="t")
    assert sorted(j["ID"] for j in jobs) == sorted(answered)


# ---- a process killed mid-load ----

CHILD = textwrap.dedent(
    """
    import sys, threading
    import ordu

    store = ordu.Store({"data_dir": sys.argv[1]})
    round_, lock = sys.argv[2], threading.Lock()
    print("open", store.index, flush=True)
    job = {"ID": "", "Datacenters": ["dc1"], "Type": "batch",
           "TaskGroups": [{"Name": "g", "Count": 1,
                           "Tasks": [{"Name": "t", "Driver": "exec"}]}]}

    def write(t):
        for i in range(100000):
            jid = f"r{round_}-t{t}-{i}"
            reply = store.register_job({"Job": dict(job, ID=jid)})
            # Printed only once the write returned: acknowledged.
            with lock:
                print(jid, reply["Index"], flush=True)

    for t in range(3):
        threading.Thread(target=write, args=(t,), daemon=True).start()
    threading.Event().wait()
    """
)


def test_a_killed_process_loses_no_acknowledged_write(tmp_path):
    seed = int(os.environ.get("ORDU_TEST_SEED") or time.time_ns())
    rng = random.Random(seed)
    data = tmp_path / "data"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    last_index = 0
    acked_total: dict[str, int] = {}
    deadline = time.monotonic() + 12
    rounds = 0
    while rounds < 10 and time.monotonic() < deadline:
        child = subprocess.Popen(
            [sys.executable, str(script), str(data), str(rounds)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            first = child.stdout.readline().split()
            assert first[:1] == ["open"], (first, child.stderr.read())
            # The index never goes back across a restart.
            assert int(first[1]) >= last_index
            # Kill after a random number of acknowledged writes, at a random
            # moment of the next ones.
            want = rng.randint(5, 60)
            acked: dict[str, int] = {}
            while len(acked) < want:
                line = child.stdout.readline()
                assert line, child.stderr.read()
                jid, index = line.split()
                acked[jid] = int(index)
            time.sleep(rng.random() * 0.02)
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
            # What was printed before the kill was acknowledged too.
            for line in child.stdout.read().splitlines():
                parts = line.split()
                if len(parts) == 2:
                    acked[parts[0]] = int(parts[1])
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdout.close()
            child.stderr.close()
        assert child.returncode == -signal.SIGKILL

        s = durable(data)
        jobs, _ = s.jobs()
        present = {j["ID"]: j for j in jobs}
        acked_total.update(acked)
        missing = sorted(set(acked_total) - set(present))
        assert missing == [], f"seed {seed} round {rounds}: acknowledged but lost: {missing[:5]}"
        for jid, index in acked_total.items():
            assert present[jid]["JobModifyIndex"] <= index, f"seed {seed}: {jid}"
        assert s.index >= max(acked.values()), f"seed {seed} round {rounds}"
        assert s.index >= last_index, f"seed {seed} round {rounds}"
        last_index = s.index
        del s  # the last reference: closes the directory
        gc.collect()
        rounds += 1
    assert rounds >= 3


# ---- errors ----


@pytest.mark.parametrize(
    "config, field, stage",
    [
        ({"data_dir": 5}, "data_dir", "decode"),
        ({"data_dir": ["/d"]}, "data_dir", "decode"),
        ({"data_dir": ""}, "data_dir", "validate"),
        ({"data_dir": "/d", "snapshot_every": -1}, "snapshot_every", "decode"),
        ({"data_dir": "/d", "snapshot_every": 2.5}, "snapshot_every", "decode"),
        ({"data_dir": "/d", "snapshot_every": "10"}, "snapshot_every", "decode"),
        ({"snapshot_every": 10}, "snapshot_every", "validate"),
    ],
)
def test_bad_durable_configs_name_the_field(config, field, stage):
    with pytest.raises(ordu.InvalidError) as ei:
        ordu.Store(config)
    assert ei.value.stage == stage
    assert ei.value.errors[0]["path"] == field


def test_data_dir_with_a_log_callable_is_refused(tmp_path):
    with pytest.raises(ordu.InvalidError, match="log or data_dir") as ei:
        ordu.Store({"data_dir": str(tmp_path / "d")}, log=lambda after, entry: after + 1)
    assert ei.value.errors[0]["path"] == "data_dir"
    assert not (tmp_path / "d").exists()


def test_a_memory_store_has_no_recovery_and_no_snapshot_to_write():
    s = ordu.Store()
    assert s.data_dir is None and s.recovery is None
    with pytest.raises(ordu.UnavailableError, match="no data_dir"):
        s.snapshot_now()


def test_unusable_directories_raise_unavailable(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ordu.UnavailableError) as ei:
        durable(tmp_path / "file" / "sub")
    assert ei.value.reason == "io"
    assert ei.value.path == str(tmp_path / "file" / "sub")

    # A byte flipped inside a stored entry: refused, naming the file, rather
    # than the entry lost.
    d = tmp_path / "flipped"
    s = durable(d)
    s.register_job({"Job": seed_job("flip-me")})
    del s  # the last reference: closes the directory
    gc.collect()
    f = d / "ordu.redb"
    raw = bytearray(f.read_bytes())
    at = raw.find(b'"flip-me"')
    assert at >= 0
    raw[at + 2] ^= 0x01
    f.write_bytes(bytes(raw))
    with pytest.raises(ordu.UnavailableError) as ei:
        durable(d)
    assert ei.value.reason == "corrupt"
    assert ei.value.path == str(f)
    assert str(f) in str(ei.value)


def test_the_error_data_is_json(tmp_path):
    s = durable(tmp_path)
    with pytest.raises(ordu.UnavailableError) as ei:
        durable(tmp_path)
    json.dumps(ei.value.data)
    assert ei.value.code == 6 and ei.value.http_status == 500
    del s
