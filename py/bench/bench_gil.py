"""How long index=0 reads stand every other Python thread still while they
wait for the store's lock.

    python py/bench/bench_gil.py [--seconds 2]

A reader thread reads the allocation stubs of a 30,000-allocation job (the
state's read lock held a while), a writer thread re-registers a small job
(queued behind that read, it holds up later reads), a counter thread counts,
and the main thread reads (`store.index`, `store.jobs()`) with index=0. A
read during which the counter did not move either held the GIL while it
waited, or ran while the reader turned its stubs into Python objects (which
needs the GIL) or the machine did not schedule the counter. Prints the
longest such reads (figures in docs/benchmarks.md); they are noisy on a
loaded machine (a test on them was flaky).
"""

from __future__ import annotations

import argparse
import threading
import time

import ordu
from ordu.http import demo_node


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=2.0)
    args = p.parse_args()
    store = ordu.Store({"limits": {"max_group_count": 100000}})
    for i in range(300):
        store.register_node({"Node": demo_node(i)})
    store.register_job({"Job": {"ID": "big", "Datacenters": ["dc1"], "TaskGroups": [{
        "Name": "g", "Count": 30000,
        "Tasks": [{"Name": "t", "Driver": "exec", "Resources": {"CPU": 20, "MemoryMB": 10}}]}]}})
    small = {"ID": "small", "TaskGroups": [{"Name": "g", "Tasks": [
        {"Name": "t", "Driver": "exec"}]}]}
    stop = threading.Event()
    count = [0]

    def counter() -> None:
        while not stop.is_set():
            count[0] += 1

    def writer() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            store.register_job({"Job": dict(small, Priority=1 + i % 90)})

    def reader() -> None:
        while not stop.is_set():
            store.job_allocations("big")

    threads = [threading.Thread(target=f, daemon=True) for f in (counter, writer, reader)]
    for t in threads:
        t.start()
    frozen, n = [], 0
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        n += 1
        before = count[0]
        started = time.perf_counter()
        if n % 2:
            store.index
        else:
            store.jobs()
        if count[0] == before:
            frozen.append(time.perf_counter() - started)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    worst = sorted(frozen)[-3:]
    print(f"{n} reads; longest with every other thread still: "
          + ", ".join(f"{w * 1e3:.1f} ms" for w in worst))


if __name__ == "__main__":
    main()
