"""Instructions per get of the seed job through Python, counted by callgrind:
deterministic where bench_get.py's times are not, for comparing two builds on a
shared machine.

    python py/bench/callgrind_get.py            # needs valgrind on PATH

Runs the interpreter under callgrind twice, with N and 3N gets after the same
setup, and prints (instructions of the second - of the first) / 2N: what is
outside the loop cancels out. PYTHONHASHSEED is fixed, since how many slots a
dict insertion probes depends on the strings' hashes.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

SEED = pathlib.Path(__file__).resolve().parents[2] / "testdata" / "seed-job.json"


def gets(n: int) -> None:
    import ordu

    job = json.loads(SEED.read_text())
    store = ordu.Store()
    store.register_job({"Job": job})
    for _ in range(10):
        store.job(job["ID"])
    for _ in range(n):
        store.job(job["ID"])


def instructions(n: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out",
             sys.executable, __file__, "--run", str(n)],
            env={**os.environ, "PYTHONHASHSEED": "0"},
            capture_output=True, text=True, check=True,
        )
    m = re.search(r"Collected : (\d+)", run.stderr)
    if not m:
        sys.exit(f"no instruction count in callgrind's output:\n{run.stderr}")
    return int(m.group(1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gets", type=int, default=1000, help="N (default 1000)")
    p.add_argument("--run", type=int, help=argparse.SUPPRESS)  # the measured child
    args = p.parse_args()
    if args.run is not None:
        gets(args.run)
        return
    n = args.gets
    per_get = (instructions(3 * n) - instructions(n)) / (2 * n)
    print(f"get_job instructions per call: {per_get:.0f}")


if __name__ == "__main__":
    main()
