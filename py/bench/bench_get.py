"""A get through Python against the same get in Rust, and the wake-up of a
blocked Python reader.

    cargo bench -p ordu-py --bench get --no-run     # prints the binary's path
    python py/bench/bench_get.py --rust target/release/deps/get-<hash>

Each figure is the median of per-call times over batches (gets), or of single
wake-ups (from just before the write to the reader's return). With --rust the
Rust binary (py/benches/get.rs) runs the same operations through ordu::host and
the ratios are printed.

get_job_json reads one unchanged job over and over: after the first get, each
one copies the Python value the first made (py/src/copies.rs).
get_1000_jobs_json reads 1,000 jobs in turn, so each get converts its job
again: the cost of a get that finds no copy. Python and Rust runs alternate (--rounds) and each
figure keeps its lowest median, since on a shared machine other load only adds
time. Target: a get through Python within 3x of Rust.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pathlib
import statistics
import subprocess
import threading
import time

import ordu

MANY = 1000
SEED = json.loads(
    (pathlib.Path(__file__).resolve().parents[2] / "testdata" / "seed-job.json").read_text()
)


def per_call(fn, batches=50, n=2000) -> float:
    """Median per-call nanoseconds of fn over `batches` batches of `n` calls."""
    for _ in range(n):
        fn()
    times = []
    for _ in range(batches):
        t = time.perf_counter_ns()
        for _ in range(n):
            fn()
        times.append((time.perf_counter_ns() - t) / n)
    return statistics.median(times)


def wake(store: ordu.Store, job_id: str, rounds=200) -> float:
    """Median nanoseconds from just before a write to a blocked reader's return."""
    out = []
    for _ in range(rounds):
        _, index = store.job_evaluations(job_id)
        ready = threading.Event()
        woke = []

        def reader():
            ready.set()
            _, got = store.job_evaluations(job_id, index=index, wait=10)
            woke.append(time.perf_counter_ns())
            assert got > index

        t = threading.Thread(target=reader)
        t.start()
        ready.wait()
        time.sleep(0.002)  # let it block
        start = time.perf_counter_ns()
        store.evaluate_job(job_id)
        t.join()
        out.append(woke[0] - start)
    return statistics.median(out)


def run_rust(binary: str) -> dict:
    out = subprocess.run([binary], capture_output=True, text=True, check=True).stdout
    figures = {}
    for line in out.splitlines():
        name, value = line.split()
        figures[name] = float(value)
    return figures


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rust", help="the Rust bench binary (py/benches/get.rs), for ratios")
    p.add_argument("--rounds", type=int, default=3,
                   help="alternate Python and Rust runs this many times and keep each "
                        "figure's lowest median (a shared machine's noise only adds)")
    args = p.parse_args()

    store = ordu.Store()
    store.register_job({"Job": SEED})
    job_id = SEED["ID"]
    # 1,000 more jobs, read in turn: a get of a job that many others were
    # read since converts it again (a store keeps the Python values of 64).
    # They are in a store of their own, so the list figure stays one job's.
    many_store = ordu.Store()
    many = [f"{job_id}-{i:04}" for i in range(MANY)]
    for other in many:
        many_store.register_job({"Job": dict(SEED, ID=other)})
    turn = itertools.cycle(many)

    py_runs, rust_runs = [], []
    for _ in range(max(1, args.rounds)):
        py_runs.append({
            "get_job_json": per_call(lambda: store.job(job_id)),
            "get_1000_jobs_json": per_call(lambda: many_store.job(next(turn))),
            "list_jobs_json": per_call(lambda: store.jobs()),
            "wake_blocked_reader": wake(store, job_id),
        })
        if args.rust:
            rust_runs.append(run_rust(args.rust))
    figures = {k: min(r[k] for r in py_runs) for k in py_runs[0]}
    rust = {k: min(r[k] for r in rust_runs) for k in rust_runs[0]} if rust_runs else {}
    print(f"{'figure':<22} {'python':>12} {'rust':>12} {'ratio':>7}   "
          f"(lowest median of {len(py_runs)} alternating runs)")
    for name, ns in figures.items():
        r = rust.get(name)
        ratio = f"{ns / r:6.2f}x" if r else ""
        rtext = f"{r / 1000:9.2f} us" if r else ""
        print(f"{name:<22} {ns / 1000:9.2f} us {rtext:>12} {ratio:>7}")
    if rust_runs:
        # How steady the get's ratio is: each round's Python median over the
        # Rust median of the run next to it.
        rounds = " ".join(f"{p['get_job_json'] / r['get_job_json']:.2f}x"
                          for p, r in zip(py_runs, rust_runs))
        print(f"get_job_json ratio by round: {rounds}")


if __name__ == "__main__":
    main()
