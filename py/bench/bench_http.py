"""Per-request time of ordu.http over one keep-alive connection, and the time
a server takes to stop.

    python py/bench/bench_http.py [--requests 500] [--rounds 3] [--in-process]

The server is `python -m ordu.http` in a child process (as the conformance
suite runs it), or with --in-process an `ordu.http.Server` in this process
(as the `ordu_server` fixture runs it, the client sharing the server's GIL).
The client is the standard library's http.client on one connection. Figures:
the median and 90th percentile of a GET of one job and of a re-register of
that job (a PUT that changes its priority, so each is a new version), the
median of `Server.stop()` with a keep-alive connection open, and, with
--in-process, the figures of the fixture's server.
"""

from __future__ import annotations

import argparse
import http.client
import json
import pathlib
import statistics
import subprocess
import sys
import time
from typing import Callable, List, Tuple

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEED = json.loads((ROOT / "testdata" / "seed-job.json").read_text())


def start_child() -> Tuple[subprocess.Popen, str, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ordu.http", "--addr", "127.0.0.1:0"],
        stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    # "ordu: serving Nomad's HTTP API on http://127.0.0.1:PORT (...)"
    url = line.split(" on ", 1)[1].split()[0]
    host, port = url[len("http://"):].rsplit(":", 1)
    return proc, host, int(port)


def timed(n: int, one: Callable[[int], None]) -> List[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        one(i)
        out.append(time.perf_counter() - t)
    return out


def requests_round(host: str, port: int, n: int) -> Tuple[List[float], List[float]]:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    job = dict(SEED, ID="bench-http")
    body = json.dumps({"Job": job}).encode()
    conn.request("PUT", "/v1/jobs", body=body, headers={"Content-Type": "application/json"})
    assert conn.getresponse().read() and True

    def get(_: int) -> None:
        conn.request("GET", "/v1/job/bench-http")
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status

    def put(i: int) -> None:
        job["Priority"] = 1 + i % 99
        conn.request("PUT", "/v1/job/bench-http", body=json.dumps({"Job": job}).encode(),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status

    gets = timed(n, get)
    puts = timed(n, put)
    conn.close()
    return gets, puts


def stop_round(n: int) -> List[float]:
    from ordu.http import Server

    out = []
    for _ in range(n):
        server = Server(port=0).start()
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        conn.request("GET", "/v1/jobs")
        conn.getresponse().read()
        t = time.perf_counter()
        server.stop()
        out.append(time.perf_counter() - t)
        conn.close()
    return out


def ms(xs: List[float], q: float = 0.5) -> str:
    xs = sorted(xs)
    return f"{xs[min(len(xs) - 1, int(q * len(xs)))] * 1e3:.3f} ms"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=500, help="requests of each kind a round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--in-process", action="store_true",
                   help="serve from an ordu.http.Server in this process (the fixture's way)")
    args = p.parse_args()
    for r in range(args.rounds):
        if args.in_process:
            from ordu.http import Server

            server = Server(port=0).start()
            gets, puts = requests_round(server.host, server.port, args.requests)
            server.stop()
        else:
            proc, host, port = start_child()
            try:
                gets, puts = requests_round(host, port, args.requests)
            finally:
                proc.terminate()
                proc.wait(timeout=10)
        print(f"round {r + 1}: GET median {ms(gets)} p90 {ms(gets, 0.9)}; "
              f"re-register median {ms(puts)} p90 {ms(puts, 0.9)}", flush=True)
    stops = stop_round(10)
    print(f"Server.stop() with a keep-alive connection open: median {ms(stops)}, "
          f"max {max(stops) * 1e3:.1f} ms (10 stops)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
