#!/usr/bin/env bash
# Python (py/): builds and installs the ordu package with `pip install ./py`
# (maturin from PyPI as the build backend) into a venv, runs its pytest suite,
# then the HTTP conformance suite (tests/http, with the python-nomad 2.1.0
# lifecycle test) against `python -m ordu.http` on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")/../.."

. scripts/lib/venv.sh
venv=target/py-venv
py=$venv/bin/python
# What the suites need; reinstalled only when this list changes.
make_venv "$venv" "maturin>=1.5,<2" "pytest>=7.4" "requests>=2.31" "python-nomad==2.1.0"

# The package as a user installs it (an isolated build with maturin from PyPI).
"$py" -m pip install -q --force-reinstall --no-deps ./py
"$py" -c 'import ordu, ordu.http, ordu.testing; print("ordu", ordu.__version__, "installed")'

# The package's own tests (run from py/, against the installed package).
(cd py && "../$py" -m pytest tests -q -p no:cacheprovider)

# The HTTP conformance suite against ordu.http.
. scripts/lib/serve.sh
start_server ordu.http "$py" -m ordu.http --addr 127.0.0.1:0 --demo-nodes 3
PYTHON=$py tests/http/run.sh "$addr" -q -p no:cacheprovider

# Deregister as Nomad 1.x: the stop tests, against a second server
# configured to stop (the suite above expects the seed's purge).
kill -TERM "$pid"
wait "$pid" || true
start_server ordu.http "$py" -m ordu.http --addr 127.0.0.1:0 --demo-nodes 3 --config '{"deregister": "stop"}'
ORDU_HTTP_ADDR=$addr ORDU_HTTP_REQUIRED=1 ORDU_HTTP_DEREGISTER=stop \
  "$py" -m pytest tests/http/test_stop.py -q -p no:cacheprovider
