#!/usr/bin/env bash
# Three ordu-http servers on loopback as one Raft cluster: Nomad's API on
# 127.0.0.1:4646, :4656 and :4666, Raft on :4647, :4657 and :4667, each with
# its own data directory under $ORDU_CLUSTER_DIR (default /tmp/ordu-cluster)
# and three demo nodes. Ctrl-C (or SIGTERM) stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p ordu-http
dir=${ORDU_CLUSTER_DIR:-/tmp/ordu-cluster}
servers=()
for i in 1 2 3; do
  http=$((4636 + 10 * i))
  servers+=(--server "$i=127.0.0.1:$((http + 1))=127.0.0.1:$http")
done
pids=()
stop() {
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait
}
trap stop EXIT INT TERM
for i in 1 2 3; do
  http=$((4636 + 10 * i))
  target/release/ordu-http --addr "127.0.0.1:$http" --server-id "$i" \
    --raft-addr "127.0.0.1:$((http + 1))" "${servers[@]}" \
    --data-dir "$dir/s$i" --demo-nodes 3 &
  pids+=($!)
done
wait
