"""ordu.http and ordu.testing. The full contract is checked by the HTTP
conformance suite (tests/http, run against ordu.http by
scripts/test.d/50-python.sh); these tests cover what is particular to the
Python server: its parsers, concurrency, the command line and the plugin."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

import ordu
from conftest import fitting_job, node, seed_job, uid
from ordu.http import Server, parse_duration, parse_index

pytest_plugins = ["pytester"]


# ---- parsers


@pytest.mark.parametrize("text,seconds", [
    ("0", 0.0), ("1s", 1.0), ("1.5s", 1.5), ("500ms", 0.5), ("1m30s", 90.0), ("2h", 7200.0),
    ("100us", 1e-4), ("100\u00b5s", 1e-4), ("3ns", 3e-9), ("3h2m1s", 10921.0), (".5s", 0.5),
    ("-1s", 0.0), ("+2s", 2.0),
])
def test_go_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "abc", "5x", "1s5", "-", "s", ".s", "1.2.3s",
                                  "1 s", "9999999999h"])
def test_bad_go_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_indexes():
    assert parse_index("18446744073709551615") == 2**64 - 1
    for bad in ("", "-1", "+5", "1.5", "0x10", "18446744073709551616", "\u0661", " 1"):
        with pytest.raises(ValueError):
            parse_index(bad)


# ---- the server, through the plugin's fixtures


def test_fixtures_serve_a_fresh_store(ordu_server, ordu_store, ordu_http):
    assert ordu_server == ordu_http.address
    assert ordu_server.startswith("http://127.0.0.1:")
    r = requests.get(ordu_server + "/v1/jobs", timeout=5)
    assert r.status_code == 200 and r.json() == []
    assert r.headers["X-Nomad-Index"] == "0"
    # What the store holds is what the server serves.
    job = seed_job()
    ordu_store.register_job({"Job": job})
    r = requests.get(f"{ordu_server}/v1/job/{job['ID']}", timeout=5)
    assert r.json()["ID"] == job["ID"]
    assert int(r.headers["X-Nomad-Index"]) == ordu_store.job(job["ID"])[1]


class TestConfiguredStore:
    @pytest.fixture
    def ordu_store_config(self):
        return {"region": "test-region"}

    def test_store_config_fixture_sets_the_region(self, ordu_server):
        job = seed_job()
        job.pop("Region")
        r = requests.put(f"{ordu_server}/v1/jobs", json={"Job": job}, timeout=5)
        assert r.status_code == 200, r.text
        got = requests.get(f"{ordu_server}/v1/job/{job['ID']}", timeout=5).json()
        assert got["Region"] == "test-region"
        r = requests.get(f"{ordu_server}/v1/jobs?region=global", timeout=5)
        assert r.status_code == 500 and r.text == "No path to region"


def test_plugin_is_registered_for_other_projects(pytester):
    """A project with ordu installed gets the fixtures through the pytest11 entry point."""
    pytester.makepyfile(
        """
        import requests

        def test_uses_ordu(ordu_server):
            r = requests.get(ordu_server + "/v1/nodes", timeout=5)
            assert r.status_code == 200
            assert r.headers["X-Nomad-KnownLeader"] == "true"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_errors_use_the_cores_statuses(ordu_server):
    s = requests.Session()
    r = s.get(f"{ordu_server}/v1/job/nope", timeout=5)
    assert (r.status_code, r.text) == (404, "job not found")
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.headers["X-Nomad-Index"] == "0"
    r = s.post(f"{ordu_server}/v1/job/nope/evaluate", timeout=5)
    assert (r.status_code, r.text) == (500, "job not found")
    r = s.put(f"{ordu_server}/v1/jobs", data="{", timeout=5)
    assert r.status_code == 400
    r = s.patch(f"{ordu_server}/v1/jobs", timeout=5)
    assert (r.status_code, r.text) == (405, "Invalid method")
    assert s.get(f"{ordu_server}/v1/nope", timeout=5).status_code == 404


def test_body_over_the_limit_is_refused_before_it_is_read():
    store = ordu.Store({"limits": {"max_request_bytes": 4000}})
    with Server(store) as server:
        body = json.dumps({"Job": dict(seed_job(), Meta={"pad": "x" * 5000})})
        r = requests.put(server.address + "/v1/jobs", data=body, timeout=5)
        assert r.status_code == 400 and "limit" in r.text
        # Chunked bodies are bounded too.
        r = requests.put(server.address + "/v1/jobs", data=iter([body.encode()]), timeout=5)
        assert r.status_code == 400 and "limit" in r.text
        small = json.dumps({"Job": seed_job("small")})
        r = requests.put(server.address + "/v1/jobs", data=iter([small.encode()]), timeout=5)
        assert r.status_code == 200, r.text
        assert store.job("small")[0]["ID"] == "small"
        assert [j["ID"] for j in store.jobs()[0]] == ["small"]


def test_many_blocked_requests_do_not_block_others(ordu_server, ordu_store):
    job = seed_job()
    ordu_store.register_job({"Job": job})
    _, index = ordu_store.job(job["ID"])
    n = 100
    url = f"{ordu_server}/v1/job/{job['ID']}"

    def poll():
        r = requests.get(url, params={"index": index, "wait": "20s"}, timeout=30)
        return r.json()["Priority"], int(r.headers["X-Nomad-Index"]), time.monotonic()

    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(poll) for _ in range(n)]
        time.sleep(0.5)
        # Other requests are served at once while the polls wait.
        s = requests.Session()
        started = time.monotonic()
        for _ in range(20):
            assert s.get(ordu_server + "/v1/jobs", timeout=5).status_code == 200
        assert time.monotonic() - started < 2.0
        assert not any(f.done() for f in futures), "a poll returned before any change"
        written = time.monotonic()
        r = s.put(url, json={"Job": dict(job, Priority=71)}, timeout=5)
        assert r.status_code == 200
        results = [f.result(timeout=30) for f in futures]
    for prio, got, ended in results:
        assert prio == 71 and got > index
        assert ended - written < 2.0


def test_allocations_over_http(ordu_server, ordu_store):
    dc = f"dc-{uid()}"
    n = node(dc)
    r = requests.put(f"{ordu_server}/v1/node/{n['ID']}", json={"Node": n}, timeout=5)
    assert r.status_code == 200
    job = fitting_job(dc, count=2)
    requests.post(f"{ordu_server}/v1/jobs", json={"Job": job}, timeout=5).raise_for_status()
    allocs = requests.get(f"{ordu_server}/v1/job/{job['ID']}/allocations", timeout=5).json()
    assert len(allocs) == 2
    a = allocs[0]["ID"]
    r = requests.put(f"{ordu_server}/v1/allocation/{a}/status",
                     json={"ClientStatus": "running"}, timeout=5)
    assert r.status_code == 200 and int(r.headers["X-Nomad-Index"]) == r.json()["Index"]
    assert ordu_store.allocation(a)[0]["ClientStatus"] == "running"


# ---- the command line


def test_module_runs_a_server_with_demo_nodes(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "ordu.http", "--addr", "127.0.0.1:0", "--demo-nodes", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "serving" in line, line + proc.stderr.read()
        addr = line.split(" on ")[1].split()[0]
        nodes = requests.get(addr + "/v1/nodes", timeout=5).json()
        assert len(nodes) == 3 and all(n["Status"] == "ready" for n in nodes)
        # A job that fits the demo nodes is placed on them.
        job = fitting_job("dc1", count=3)
        requests.put(f"{addr}/v1/job/{job['ID']}", json={"Job": job},
                     timeout=5).raise_for_status()
        allocs = requests.get(f"{addr}/v1/job/{job['ID']}/allocations", timeout=5).json()
        assert len(allocs) == 3
        # Ctrl-C stops it cleanly, also with a long poll in flight.
        t = threading.Thread(target=lambda: requests.get(
            addr + "/v1/jobs", params={"index": "1", "wait": "30s"}, timeout=40), daemon=True)
        t.start()
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_module_refuses_a_bad_config():
    r = subprocess.run([sys.executable, "-m", "ordu.http", "--config", '{"mode": "x"}'],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "mode" in r.stderr


@pytest.mark.skipif(os.name != "posix", reason="posix")
def test_server_threads_do_not_hold_ctrl_c(ordu_server, ordu_store):
    """A long poll served in a thread does not keep the main thread from Ctrl-C."""
    ordu_store.register_job({"Job": seed_job()})
    def poll():
        try:
            requests.get(ordu_server + "/v1/jobs", params={"index": "1", "wait": "5s"},
                         timeout=10)
        except requests.ConnectionError:
            pass  # the fixture's stop closes the connection of the poll

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    time.sleep(0.2)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(3)
    assert time.monotonic() - started < 1.0


def test_region_is_checked_before_the_query(ordu_server):
    r = requests.get(ordu_server + "/v1/jobs", params={"region": "mars", "index": "x"},
                     timeout=5)
    assert (r.status_code, r.text) == (500, "No path to region")
    r = requests.get(ordu_server + "/v1/jobs", params={"index": "x"}, timeout=5)
    assert (r.status_code, r.text) == (400, "Invalid index")


@pytest.mark.parametrize("value,status", [("true", 200), ("True", 200), ("1", 200),
                                          ("false", 200), ("yes", 400)])
def test_boolean_query_parameters(ordu_server, value, status):
    r = requests.get(ordu_server + "/v1/job/x/allocations", params={"all": value}, timeout=5)
    assert r.status_code == status, r.text
    r = requests.delete(ordu_server + "/v1/job/x", params={"purge": value}, timeout=5)
    assert r.status_code == status, r.text
