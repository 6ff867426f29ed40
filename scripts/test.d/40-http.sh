#!/usr/bin/env bash
# The Rust HTTP front end (examples/http): its unit tests, then the HTTP
# conformance suite (tests/http, which includes the python-nomad 2.1.0
# lifecycle test) against a release build started on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo test -p ordu-http
cargo build --release -p ordu-http --bin ordu-http --example longpoll

# Python for the suite: a venv with tests/http/requirements.txt.
. scripts/lib/venv.sh
venv=target/http-venv
make_venv "$venv" -r tests/http/requirements.txt

. scripts/lib/serve.sh
# Two serving threads: connections dealt out, writes taking turns across
# threads (on a 2-CPU machine the default is one).
start_server ordu-http target/release/ordu-http --addr 127.0.0.1:0 --demo-nodes 3 --threads 2

PYTHON=$venv/bin/python tests/http/run.sh "$addr" -q -p no:cacheprovider

# Stress: 500 keep-alive long-polls on one job, each woken by three writes;
# the driver fails on any early, lost or failed answer.
target/release/examples/longpoll "${addr#http://}" "ordu-ci-longpoll-$$" --conns 500 --rounds 3 --pid "$pid"

# Spinning before sleeping (--spin, src/spin.rs) stops when requests stop:
# once quiet, the server uses almost no CPU (at most 0.1 s in 2 s).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
sleep 0.5
before=$(cpu_ticks)
sleep 2
idle=$(($(cpu_ticks) - before))
echo "ordu-http CPU while quiet: $idle ticks of $(getconf CLK_TCK) per second, over 2 s"
if [ "$idle" -gt $(($(getconf CLK_TCK) / 10)) ]; then
  echo "ordu-http keeps using CPU with no requests" >&2
  exit 1
fi

# Shutdown is clean: with a long-poll open, SIGTERM answers it with the
# current state and the process ends with status 0, well before the poll's wait.
"$venv/bin/python" - "$addr" "$pid" <<'PY'
import os, signal, sys, threading, time, urllib.request
addr, pid = sys.argv[1], int(sys.argv[2])
index = urllib.request.urlopen(addr + "/v1/jobs").headers["X-Nomad-Index"]
got = {}
def poll():
    with urllib.request.urlopen(f"{addr}/v1/jobs?index={index}&wait=5m", timeout=60) as r:
        got["status"] = r.status
t = threading.Thread(target=poll)
t.start()
time.sleep(0.5)
assert "status" not in got, "the long-poll did not block"
started = time.monotonic()
os.kill(pid, signal.SIGTERM)
t.join(30)
assert got.get("status") == 200, f"the open long-poll was not answered on shutdown: {got}"
print(f"long-poll answered {time.monotonic() - started:.3f}s after SIGTERM")
PY
status=0
wait "$pid" || status=$?
trap - EXIT
rm -f "$server_log"
if [ "$status" -ne 0 ]; then
  echo "ordu-http exited with status $status on SIGTERM" >&2
  exit 1
fi
echo "ordu-http shut down cleanly"

# Deregister as Nomad 1.x (--deregister stop): the stop tests, against a
# second server so configured (the suite above expects the seed's purge).
start_server ordu-http target/release/ordu-http --addr 127.0.0.1:0 --demo-nodes 3 --deregister stop
ORDU_HTTP_ADDR=$addr ORDU_HTTP_REQUIRED=1 ORDU_HTTP_DEREGISTER=stop \
  "$venv/bin/python" -m pytest tests/http/test_stop.py -q -p no:cacheprovider
