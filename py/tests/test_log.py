"""The log seam from Python: a host keeps ordu's log in SQLite (the
standard library's), restarts by replaying it and reads back the same
state; a refusing log changes nothing; snapshots restore; a follower
refuses writes."""

from __future__ import annotations

import sqlite3

import pytest

import ordu
from conftest import fitting_job, node


class SqliteLog:
    """Entries in a table, each committed (and synced) before the write it
    carries is answered."""

    def __init__(self, path):
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.execute("PRAGMA synchronous = FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS log (idx INTEGER PRIMARY KEY, entry BLOB)")
        self.refuse = False

    def __call__(self, after: int, entry: bytes) -> int:
        if self.refuse:
            self.refuse = False
            raise OSError(28, "No space left on device")
        with self.db:
            self.db.execute("INSERT INTO log VALUES (?, ?)", (after + 1, entry))
        return after + 1

    def replay(self, store):
        n = 0
        for idx, entry in self.db.execute("SELECT idx, entry FROM log ORDER BY idx"):
            assert store.apply_entry(idx, entry) == idx
            n += 1
        return n


def reads(store, job_id):
    job, job_index = store.job(job_id)
    allocs, _ = store.job_allocations(job_id)
    return job, job_index, sorted(a["ID"] for a in allocs), store.index


def test_a_sqlite_log_survives_a_restart(tmp_path):
    path = tmp_path / "ordu.db"
    log = SqliteLog(path)
    store = ordu.Store(log=log)
    store.register_node({"Node": node()})
    job = fitting_job("dc1", 2, "web")
    store.register_job({"Job": job})
    before = reads(store, "web")
    assert len(before[2]) == 2

    # A refused append: UnavailableError with the log's reason, nothing visible.
    log.refuse = True
    with pytest.raises(ordu.UnavailableError, match="No space left on device") as ei:
        store.deregister_job("web")
    assert ei.value.http_status == 500
    assert reads(store, "web") == before
    log.db.close()
    del store

    # Restart: a new store, the same file, replayed.
    log2 = SqliteLog(path)
    again = ordu.Store(log=log2)
    assert log2.replay(again) >= 3
    assert reads(again, "web") == before
    # The next write follows, and reaches the table.
    reply = again.deregister_job("web")
    assert reply["Index"] > before[3]
    (last,) = log2.db.execute("SELECT max(idx) FROM log").fetchone()
    assert last == again.index
    with pytest.raises(ordu.ConflictError):
        again.apply_entry(1, log2.db.execute("SELECT entry FROM log WHERE idx = 1").fetchone()[0])
    with pytest.raises(ordu.InvalidError, match="entry"):
        again.apply_entry(again.index + 1, b'{"version": 9, "command": {}}')


def test_a_log_that_answers_badly_refuses_the_write():
    store = ordu.Store(log=lambda after, entry: "soon")
    with pytest.raises(ordu.UnavailableError, match="refused"):
        store.register_node({"Node": node()})
    assert store.index == 0
    with pytest.raises(TypeError, match="callable"):
        ordu.Store(log=42)


def test_snapshot_restore_and_leadership():
    store = ordu.Store()
    store.register_node({"Node": node()})
    store.register_job({"Job": fitting_job("dc1", 2, "web")})
    snap = store.snapshot()
    assert snap.startswith(b'{"version":4')

    follower = ordu.Store()
    follower.leader = False
    assert follower.leader is False
    follower.restore(snap)
    assert reads(follower, "web") == reads(store, "web")
    with pytest.raises(ordu.UnavailableError, match="not the leader"):
        follower.register_job({"Job": fitting_job("dc1", 1, "api")})
    with pytest.raises(ordu.InvalidError, match="snapshot"):
        follower.restore(b'{"version": 7}')
    assert reads(follower, "web") == reads(store, "web")
    follower.leader = True
    follower.register_job({"Job": fitting_job("dc1", 1, "api")})
    assert len(follower.job_allocations("api")[0]) == 1
