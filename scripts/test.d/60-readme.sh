#!/usr/bin/env bash
# Every example in README.md runs as pasted: the run command serves on
# 127.0.0.1:4646 and the curl examples run against it; the Rust quickstart
# builds and runs in a new crate; the C and Python examples run. Each code
# block carries a `<!-- readme: KIND -->` line saying how it is run here
# (scripts/lib/readme_blocks.py); a block without one fails this test.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
tmp=$(mktemp -d)
server=
stop_server() {
  if [ -n "$server" ]; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=
  fi
}
trap 'stop_server; rm -rf "$tmp"' EXIT

python3 scripts/lib/readme_blocks.py README.md "$tmp/blocks" >"$tmp/list"
block() { cat "$tmp/blocks/$1"; }
# Runs a block as a script from the repository root; its output goes to
# $tmp/out and the terminal.
run_block() {
  echo "--- README block $1"
  bash -euo pipefail "$tmp/blocks/$1" 2>&1 | tee "$tmp/out"
}
expect() {
  grep -q -- "$1" "$tmp/out" || { echo "README block: expected '$1' in its output" >&2; exit 1; }
}
# Waits for something to answer on 127.0.0.1:4646 (at most 5 minutes: the
# first `cargo run --release` on a fresh machine builds).
wait_4646() {
  for _ in $(seq 1 3000); do
    curl -s -o /dev/null localhost:4646/v1/regions && return 0
    kill -0 "$server" 2>/dev/null || { cat "$tmp/server.log"; echo "$1 exited" >&2; exit 1; }
    sleep 0.1
  done
  echo "$1 did not answer on 127.0.0.1:4646" >&2
  exit 1
}
if curl -s -o /dev/null localhost:4646/; then
  echo "something already listens on 127.0.0.1:4646; the README's examples need it" >&2
  exit 1
fi

# The set-up block: exactly the two commands, the first of which is run here
# (the second is the test suite this fragment belongs to).
setup=$(grep -- '-setup.txt$' "$tmp/list" | head -n 1)
commands=$(sed 's/ *#.*//' "$tmp/blocks/$setup")
want=$'cargo run --release -p ordu-http -- --demo-nodes 3\nbash scripts/test.sh'
[ "$commands" = "$want" ] ||
  { printf 'the set-up block is not the two commands:\n%s\n' "$commands" >&2; exit 1; }
echo "--- README run command"
bash -c "$(head -n 1 <<<"$commands")" >"$tmp/server.log" 2>&1 &
server=$!
wait_4646 ordu-http

curls=0
while read -r name; do
  case "$name" in
  *-curl.txt)
    run_block "$name"
    curls=$((curls + 1))
    case $curls in
    1)
      expect '"EvalID":"'
      [ "$(grep -o '"Name":"example.cache\[[0-9]\]"' "$tmp/out" | sort -u | wc -l)" -eq 3 ] ||
        { echo "the example job did not place three allocations" >&2; exit 1; }
      ;;
    2) expect '"Status":"blocked"' ;;
    3)
      expect '"Namespace":"team"'
      expect '"Namespace":"default"'
      curl -s localhost:4646/v1/namespace/team | grep -q 'namespace not found' ||
        { echo "the README's namespace was not deleted" >&2; exit 1; }
      ;;
    esac
    ;;
  esac
done <"$tmp/list"
[ "$curls" -ge 3 ] || { echo "README has $curls curl blocks, expected 3" >&2; exit 1; }
stop_server

# The durable run: the example job survives a SIGKILL. The data directory is
# one of this run's own rather than /tmp/ordu-data.
durable=$(grep -- '-durable-run.txt$' "$tmp/list")
[ "$(wc -l <"$tmp/blocks/$durable")" -eq 1 ] || { echo "the durable run block is not one line" >&2; exit 1; }
run_durable() {
  echo "--- README block $durable"
  bash -c "$(sed "s|/tmp/ordu-data|$tmp/data|g" "$tmp/blocks/$durable")" >"$tmp/server.log" 2>&1 &
  server=$!
  wait_4646 "ordu-http --data-dir"
}
run_durable
curl -s -X PUT -d @testdata/example-job.json localhost:4646/v1/jobs | grep -q '"EvalID":"' ||
  { echo "the durable server did not take the example job" >&2; exit 1; }
# `cargo run` (and bash -c of one command) exec the server: this is it.
kill -KILL "$server"
wait "$server" 2>/dev/null || true
server=
run_durable
grep -q 'recovered .*: index [1-9]' "$tmp/server.log" || { cat "$tmp/server.log"; echo "no recovery line" >&2; exit 1; }
curl -s localhost:4646/v1/job/example | grep -q '"ID":"example"' ||
  { cat "$tmp/server.log"; echo "the example job did not survive kill -9" >&2; exit 1; }
stop_server

# The cluster: three servers answer, agree on a leader, take a write sent
# to any of them, and each has it in its own state. Their data goes to this
# run's own directory.
cluster=$(grep -- '-cluster-run.txt$' "$tmp/list")
[ "$(cat "$tmp/blocks/$cluster")" = "bash scripts/cluster.sh" ] ||
  { echo "the cluster block is not bash scripts/cluster.sh" >&2; exit 1; }
echo "--- README block $cluster"
ORDU_CLUSTER_DIR=$tmp/cluster bash scripts/cluster.sh >"$tmp/server.log" 2>&1 &
server=$!
wait_4646 "scripts/cluster.sh"
for port in 4656 4666; do
  for _ in $(seq 1 300); do curl -s -o /dev/null "localhost:$port/v1/regions" && break; sleep 0.1; done
done
leader=
for _ in $(seq 1 300); do
  leader=$(curl -s localhost:4666/v1/status/leader)
  [ -n "$leader" ] && [ "$leader" != '""' ] && break
  sleep 0.1
done
[ "$(curl -s localhost:4646/v1/status/peers | grep -o '127.0.0.1:4[0-9]*7' | wc -l)" -eq 3 ] ||
  { cat "$tmp/server.log"; echo "the cluster does not list three peers" >&2; exit 1; }
ok=
for _ in $(seq 1 100); do
  if curl -s -X PUT -d @testdata/example-job.json localhost:4656/v1/jobs | grep -q '"EvalID":"'; then ok=1; break; fi
  sleep 0.1
done
[ -n "$ok" ] || { cat "$tmp/server.log"; echo "the cluster did not take the example job" >&2; exit 1; }
for port in 4646 4656 4666; do
  found=
  for _ in $(seq 1 100); do
    curl -s "localhost:$port/v1/job/example?stale" | grep -q '"ID":"example"' && { found=1; break; }
    sleep 0.1
  done
  [ -n "$found" ] || { cat "$tmp/server.log"; echo "server on $port lacks the example job" >&2; exit 1; }
done
stop_server

# The Rust quickstart: the crate is made in $tmp rather than beside the
# checkout, otherwise as written; the lockfile of this workspace keeps its
# dependencies' versions, and a target directory of its own keeps it apart.
crate=$(grep -- '-rust-crate.txt$' "$tmp/list")
main=$(grep -- '-rust-main.txt$' "$tmp/list")
sed "s|\.\./hello|$tmp/hello|g" "$tmp/blocks/$crate" >"$tmp/blocks/$crate.here"
echo "--- README block $crate (in $tmp/hello)"
bash -euo pipefail "$tmp/blocks/$crate.here"
cp "$tmp/blocks/$main" "$tmp/hello/src/main.rs"
cp Cargo.lock "$tmp/hello/"
CARGO_TARGET_DIR=$root/target/readme cargo run -q --manifest-path "$tmp/hello/Cargo.toml" | tee "$tmp/out"
expect "1 of 3 running"
# The crate documentation runs the same program as a doctest.
sed -n 's|^//! \{0,1\}||p' core/src/lib.rs | sed -n '/^```$/,/^```$/p' | sed '1d;$d' >"$tmp/doctest.rs"
diff -u "$tmp/blocks/$main" "$tmp/doctest.rs" ||
  { echo "README's Rust quickstart and core/src/lib.rs's doctest differ" >&2; exit 1; }

# The C examples; the install goes to a home of its own (cargo and rustup keep
# theirs).
export CARGO_HOME=${CARGO_HOME:-$HOME/.cargo} RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
for name in $(grep -- '-c.txt$' "$tmp/list"); do
  mkdir -p "$tmp/home"
  HOME=$tmp/home run_block "$name"
  expect "get of a missing job: not_found"
done

# Python: the set-up block's two lines (the server is checked, then stopped),
# then the program with the venv it made.
pysetup=$(grep -- '-python-setup.txt$' "$tmp/list")
[ "$(wc -l <"$tmp/blocks/$pysetup")" -eq 2 ] || { echo "the Python set-up block is not two lines" >&2; exit 1; }
echo "--- README block $pysetup"
. scripts/lib/venv.sh
need_python
bash -euo pipefail -c "$(sed -n 1p "$tmp/blocks/$pysetup")"
bash -c "$(sed -n 2p "$tmp/blocks/$pysetup")" >"$tmp/server.log" 2>&1 &
server=$!
wait_4646 "python -m ordu.http"
[ "$(curl -s localhost:4646/v1/nodes | grep -o '"Status":"ready"' | wc -l)" -eq 3 ] ||
  { echo "python -m ordu.http does not serve three ready demo nodes" >&2; exit 1; }
stop_server
for name in $(grep -- '-python.txt$' "$tmp/list"); do
  echo "--- README block $name"
  timeout 60 .venv/bin/python "$tmp/blocks/$name" | tee "$tmp/out"
  expect "3 allocations placed"
  expect "'running'"
done
echo "every README example ran"
