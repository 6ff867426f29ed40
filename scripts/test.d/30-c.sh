#!/usr/bin/env bash
# C ABI (ffi-c): the header is current, the Rust-side tests pass, and the C
# tests, the C++ header test and the c-host example run under valgrind with no
# leak and no invalid access.
set -euo pipefail
need=()
command -v cc >/dev/null || need+=(gcc)
command -v c++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v valgrind >/dev/null || need+=(valgrind)
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}"
fi
cargo test -p ordu-ffi
# libordu.a and libordu.so for the C programs.
cargo build -p ordu-ffi
make -C ffi-c/tests/c check
make -C examples/c-host check
