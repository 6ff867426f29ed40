"""ordu.http's serving machinery: stop time, time limits on slow and idle
clients, the bound on serving threads. All on loopback, bounded in count and
time."""

from __future__ import annotations

import http.client
import socket
import threading
import time

import pytest

from ordu.http import Server


def raw(server: Server) -> socket.socket:
    return socket.create_connection((server.host, server.port), timeout=5)


def recv_all(s: socket.socket) -> bytes:
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        out += chunk
    return out


def test_stop_takes_under_50_ms_with_connections_open():
    server = Server().start()
    conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
    conn.request("GET", "/v1/jobs")
    assert conn.getresponse().read() == b"[]"
    idle = raw(server)  # connected, sends nothing
    poll = http.client.HTTPConnection(server.host, server.port, timeout=5)
    poll.request("GET", "/v1/jobs?index=1&wait=10s")  # blocks in the store
    time.sleep(0.1)
    started = time.monotonic()
    server.stop()
    took = time.monotonic() - started
    assert took < 0.05, f"stop took {took * 1e3:.1f} ms"
    # The idle keep-alive connections were shut down, not left to hang.
    idle.settimeout(1)
    assert recv_all(idle) == b""
    with pytest.raises(OSError):
        socket.create_connection((server.host, server.port), timeout=1).recv(1)


def test_an_idle_connection_is_closed_after_the_timeout():
    with Server(timeout=0.3) as server:
        s = raw(server)
        started = time.monotonic()
        assert recv_all(s) == b""  # closed by the server
        assert 0.2 < time.monotonic() - started < 2.0
        assert server.connections == 0 or _settles(server)


def test_a_request_sent_slowly_is_cut_off_at_the_timeout():
    """One byte every 0.1 s would keep a per-recv timeout of 0.3 s happy
    forever; the request as a whole gets 0.3 s from its first byte."""
    with Server(timeout=0.3) as server:
        s = raw(server)
        request = b"GET /v1/jobs HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
        started = time.monotonic()
        closed = False
        for b in request:
            try:
                s.send(bytes([b]))
            except OSError:
                closed = True
                break
            time.sleep(0.1)
            if time.monotonic() - started > 3:
                break
        if not closed:
            s.settimeout(2)
            closed = recv_all(s) == b""
        assert closed
        assert time.monotonic() - started < 2.0


def test_a_slow_body_is_cut_off_at_the_timeout():
    with Server(timeout=0.3) as server:
        s = raw(server)
        s.sendall(b"PUT /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        started = time.monotonic()
        s.settimeout(3)
        assert recv_all(s) == b""
        assert time.monotonic() - started < 2.0


def _settles(server: Server) -> bool:
    deadline = time.monotonic() + 2
    while server.connections and time.monotonic() < deadline:
        time.sleep(0.01)
    return server.connections == 0


def test_connections_and_threads_are_bounded():
    before = threading.active_count()
    with Server(max_connections=20, timeout=5) as server:
        socks = [raw(server) for _ in range(60)]
        time.sleep(0.3)
        # One thread a served connection (and the accept loop and the
        # duties), never more.
        assert threading.active_count() - before <= 20 + 2
        assert server.connections == 20
        # Those beyond the bound were told so and closed.
        refused = 0
        for s in socks[20:]:
            s.settimeout(2)
            got = recv_all(s)
            assert got == b"" or got.startswith(b"HTTP/1.1 503"), got
            refused += 1
        assert refused == 40
        for s in socks:
            s.close()
        assert _settles(server)
        conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
        conn.request("GET", "/v1/jobs")
        assert conn.getresponse().status == 200


def test_long_polls_up_to_the_bound_all_wait_and_wake():
    n = 50
    with Server(max_connections=n + 2, timeout=5) as server:
        job = {"ID": "lp", "TaskGroups": [
            {"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec"}]}]}
        server.store.register_job({"Job": job})
        index = server.store.index
        results = []

        def poll():
            c = http.client.HTTPConnection(server.host, server.port, timeout=10)
            c.request("GET", f"/v1/job/lp?index={index}&wait=5s")
            r = c.getresponse()
            results.append((r.status, int(r.getheader("X-Nomad-Index"))))

        threads = [threading.Thread(target=poll) for _ in range(n)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        server.store.register_job({"Job": dict(job, Priority=70)})
        for t in threads:
            t.join(timeout=10)
        assert len(results) == n
        assert all(status == 200 and at > index for status, at in results)


def test_the_server_store_is_grouped_unless_told():
    from ordu.http import _with_grouped

    assert _with_grouped(None) == {"mode": "grouped"}
    assert _with_grouped('{"region": "eu"}') == {"mode": "grouped", "region": "eu"}
    assert _with_grouped({"region": "eu"}) == {"mode": "grouped", "region": "eu"}
    assert _with_grouped({"mode": "inline"}) == {"mode": "inline"}
    assert _with_grouped('{"mode": "queued"}') == '{"mode": "queued"}'
    # Not an object: left for the store to refuse.
    assert _with_grouped("[1]") == "[1]"
    assert _with_grouped("{nope") == "{nope"
    with Server() as server:
        # A grouped store answers a write with its evaluation processed.
        store = server.store
        reply = store.register_job({"Job": {"ID": "web", "Datacenters": ["dc1"],
                                            "TaskGroups": [{"Name": "g", "Tasks": [
                                                {"Name": "t", "Driver": "exec"}]}]}})
        assert not store.processing_behind()
        assert store.evaluation(reply["EvalID"])[0]["Status"] in ("complete", "blocked")
