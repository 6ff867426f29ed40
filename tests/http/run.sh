#!/bin/sh
# Runs the HTTP conformance suite against a server that is already running.
#   tests/http/run.sh http://127.0.0.1:4646 [pytest arguments...]
# Set PYTHON to the interpreter that has tests/http/requirements.txt installed.
set -eu
if [ $# -lt 1 ]; then
    echo "usage: $0 ADDR [pytest arguments...]   (e.g. $0 http://127.0.0.1:4646)" >&2
    exit 2
fi
addr=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
ORDU_HTTP_ADDR=$addr ORDU_HTTP_REQUIRED=1 exec "${PYTHON:-python3}" -m pytest "$here" "$@"
