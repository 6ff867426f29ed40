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
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v readelf >/dev/null || need+=(binutils)
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

# Installed as a C host gets it: a prefix with the SONAME'd library, the
# header and libordu.pc; a program built with pkg-config only runs without
# LD_LIBRARY_PATH.
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
make -C ffi-c install PREFIX="$prefix" PROFILE=debug
readelf -d "$prefix/lib/libordu.so" | grep -q 'SONAME.*\[libordu\.so\.0\]' ||
  { echo "libordu.so has no SONAME libordu.so.0" >&2; exit 1; }
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
host=$prefix/pc-host
cc -std=c11 -pthread -o "$host" examples/c-host/main.c $(pkg-config --cflags --libs libordu) \
  -Wl,-rpath,"$(pkg-config --variable=libdir libordu)"
readelf -d "$host" | grep -q 'NEEDED.*\[libordu\.so\.0\]' ||
  { echo "the pkg-config build does not depend on libordu.so.0" >&2; exit 1; }
env -u LD_LIBRARY_PATH valgrind --error-exitcode=1 --leak-check=full --quiet "$host" testdata/seed-job.json
