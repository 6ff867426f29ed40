# Sourced by test fragments: start_server NAME COMMAND... runs a front end that
# listens on 127.0.0.1:0 and prints its address, waits for that address, and
# sets $pid and $addr. The server is stopped (SIGTERM) when the script exits.
start_server() {
  local name=$1
  shift
  server_log=$(mktemp)
  "$@" >"$server_log" 2>&1 &
  pid=$!
  trap 'kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$server_log"' EXIT
  addr=
  for _ in $(seq 1 100); do
    addr=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$server_log" || true)
    [ -n "$addr" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$server_log"; echo "$name exited" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$addr" ] || { cat "$server_log"; echo "$name did not start" >&2; exit 1; }
  echo "$name at $addr"
}
