#!/usr/bin/env bash
# Load benchmark of ordu-http with ApacheBench (keep-alive) and a long-poll
# driver:
#   1. GET of one job, 1 and 8 connections;
#   2. re-register of one job (PUT of the same body), 1 and 8 connections;
#   3. on a fresh server, 10,000 long-polls blocked on one job, woken by
#      writes: wake time after the write and the server's peak memory.
#
#   examples/http/bench/load.sh            # full run (about a minute)
#   QUICK=1 examples/http/bench/load.sh    # fewer requests, 2,000 long-polls
#
# Targets (10x / 3x real Nomad v0.2.3 on the same 2-core machine): register
# >= 25,000/s on 1 connection and >= 61,000/s on 8; get >= 48,000/s on 1 and
# >= 114,000/s on 8; 10,000 long-polls in <= 100 MB.
set -euo pipefail
cd "$(dirname "$0")/../../.."

if ! command -v ab >/dev/null; then
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get install -y -qq apache2-utils >/dev/null ||
    { as_root apt-get update -qq && as_root apt-get install -y -qq apache2-utils >/dev/null; }
fi
cargo build --release -q -p ordu-http --bin ordu-http --example longpoll --example pingpong

if [ -n "${QUICK:-}" ]; then
  N1=20000 N8=50000 CONNS=${CONNS:-2000}
else
  N1=200000 N8=400000 CONNS=${CONNS:-10000}
fi
# Each long-poll holds a socket in the driver and one in the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((CONNS + 100)) ]; then
  echo "ulimit -n is $(ulimit -n): too low for $CONNS long-polls (raise the hard limit)" >&2
  exit 1
fi

tmp=$(mktemp -d)
PIN=
pid=
stop_server() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
  fi
}
trap 'stop_server; rm -rf "$tmp"' EXIT

start_server() { # [env...]; $PIN: a command prefix (taskset)
  $PIN env "$@" target/release/ordu-http --addr 127.0.0.1:0 --demo-nodes 3 >"$tmp/server.log" 2>&1 &
  pid=$!
  addr=
  for _ in $(seq 1 100); do
    addr=$(grep -o '127\.0\.0\.1:[0-9]*' "$tmp/server.log" || true)
    [ -n "$addr" ] && return 0
    sleep 0.1
  done
  cat "$tmp/server.log" >&2
  echo "ordu-http did not start" >&2
  exit 1
}

hwm() { awk '/^VmHWM/ {print $2 " " $3}' "/proc/$pid/status"; }

# A small service job that places on the demo nodes.
cat >"$tmp/job.json" <<'EOF'
{"Job": {"ID": "bench", "Datacenters": ["dc1"],
 "TaskGroups": [{"Name": "web", "Count": 2,
   "Tasks": [{"Name": "nginx", "Driver": "docker", "Config": {"image": "nginx"},
              "Resources": {"CPU": 500, "MemoryMB": 256,
                            "Networks": [{"MBits": 10, "DynamicPorts": [{"Label": "http"}]}]}}]}]}}
EOF

# ab with keep-alive; prints requests/s and fails on any error answer.
run_ab() { # name conns requests [ab args...]; $PIN: a command prefix (taskset)
  local name=$1 c=$2 n=$3
  shift 3
  $PIN ab -q -k -c "$c" -n "$n" "$@" >"$tmp/ab.out" 2>&1 || { cat "$tmp/ab.out" >&2; exit 1; }
  local rps failed non2xx
  rps=$(awk '/^Requests per second/ {print $4}' "$tmp/ab.out")
  # ab counts an answer whose length differs from the first as "failed
  # (Length)": register replies differ in their indexes' digits. Only
  # connect, receive and exception failures are failures.
  failed=$(grep -o 'Connect: [0-9]*, Receive: [0-9]*, Length: [0-9]*, Exceptions: [0-9]*' "$tmp/ab.out" |
    awk -F'[:,] *' '{print $2 + $4 + $8}' || true)
  non2xx=$(awk '/^Non-2xx responses/ {print $3}' "$tmp/ab.out")
  if [ "${failed:-0}" != 0 ] || [ -n "$non2xx" ]; then
    cat "$tmp/ab.out" >&2
    echo "$name: failed requests" >&2
    exit 1
  fi
  local where=${PIN:+one-cpu}
  where=${where:-spread}
  printf '%-10s %-8s %3s conn %8s req  %10s req/s\n' "$name" "$where" "$c" "$n" "$rps"
  echo "$name $c $rps $where" >>"$tmp/results"
}

# The floor under the 1-connection figures: two processes passing 64 bytes
# back and forth over loopback TCP, nothing else. Each side sleeps while the
# other works; on a VM whose idle CPUs halt at once, each wake-up of the other
# CPU costs tens of microseconds.
echo "loopback ping-pong floor (spread): $(target/release/examples/pingpong)"
command -v taskset >/dev/null &&
  echo "loopback ping-pong floor (one-cpu): $(taskset -c 0 target/release/examples/pingpong)"
if [ -r /sys/module/haltpoll/parameters/guest_halt_poll_ns ]; then
  echo "guest idle polling (haltpoll): guest_halt_poll_ns=$(cat /sys/module/haltpoll/parameters/guest_halt_poll_ns)"
fi

start_server
echo "ordu-http at http://$addr (pid $pid)"
curl_put() { ab -q -n 1 -u "$tmp/job.json" -T application/json "http://$addr/v1/job/bench" >/dev/null; }
curl_put
url="http://$addr/v1/job/bench"

# Warm-up (connections, allocator), then the measured runs.
ab -q -k -c 8 -n 20000 "$url" >/dev/null
run_ab get 1 "$N1" "$url"
run_ab get 8 "$N8" "$url"
ab -q -k -c 8 -n 5000 -u "$tmp/job.json" -T application/json "$url" >/dev/null
run_ab register 1 "$((N1 / 2))" -u "$tmp/job.json" -T application/json "$url"
run_ab register 8 "$((N8 / 2))" -u "$tmp/job.json" -T application/json "$url"
echo "server peak memory after the ab runs: VmHWM $(hwm)"
stop_server

# The 1-connection figures are a ping-pong between ab and the server, and on
# a VM a wake-up on another, idle virtual CPU costs tens of microseconds (see
# the floor above): the server spins 100 us before it sleeps (--spin) so its
# own CPU is awake, but ab's is not. The same runs with ab and the server on
# one CPU ("one-cpu") show the server's own cost.
if command -v taskset >/dev/null; then
  PIN="taskset -c 0"
  start_server
  echo "ordu-http on CPU 0 at http://$addr (pid $pid), ab on CPU 0"
  curl_put
  url="http://$addr/v1/job/bench"
  $PIN ab -q -k -c 1 -n 20000 "$url" >/dev/null
  run_ab get 1 "$N1" "$url"
  run_ab register 1 "$((N1 / 2))" -u "$tmp/job.json" -T application/json "$url"
  stop_server
  PIN=
fi

# 10,000 long-polls on one job on a fresh server, each woken 3 times by a
# write to that job.
longpolls() { # label [env...]
  local label=$1
  shift
  echo
  start_server "$@"
  echo "long-polls ($label): fresh ordu-http at http://$addr (pid $pid), $CONNS connections"
  target/release/examples/longpoll "$addr" longpoll-job --conns "$CONNS" --rounds 3 --pid "$pid"
  local peak
  peak=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  echo "server peak memory with $CONNS long-polls ($label): VmHWM $peak kB = $((peak / 1024)) MiB (target <= 100 MB)"
  stop_server
}
longpolls "as built"

echo
echo "targets: get >= 48000 (1 conn), >= 114000 (8); register >= 25000 (1), >= 61000 (8)"
awk '{
  t = ($1 == "get") ? ($2 == 1 ? 48000 : 114000) : ($2 == 1 ? 25000 : 61000);
  printf "%-9s %d conn %-8s: %9.0f req/s  target %6d  %s\n", $1, $2, $4, $3, t, ($3 >= t ? "met" : "MISSED")
}' "$tmp/results"
