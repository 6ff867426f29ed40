#!/usr/bin/env bash
# The one test command (README): installs what the tests need on a fresh
# machine, then runs every suite. Each suite is a fragment in scripts/test.d,
# run in name order; the first failure stops the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
for f in scripts/test.d/*.sh; do
  echo "==> ${f}"
  bash "$f"
done
echo "all suites passed"
