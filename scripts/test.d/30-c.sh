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
readelf -d "$prefix/lib/libordu.so" | grep -q 'SONAME.*\[libordu\.so\.1\]' ||
  { echo "libordu.so has no SONAME libordu.so.1" >&2; exit 1; }
# The example host through pkg-config against the installed prefix: shared
# (it needs libordu.so.1 and finds it by rpath, no LD_LIBRARY_PATH) and
# static (no libordu.so at all).
pc=$prefix/lib/pkgconfig
env -u LD_LIBRARY_PATH make -C examples/c-host check PKG_CONFIG_PATH="$pc" LINK=shared OUT="$prefix/host-shared"
readelf -d "$prefix/host-shared" | grep -q 'NEEDED.*\[libordu\.so\.1\]' ||
  { echo "the shared pkg-config build does not depend on libordu.so.1" >&2; exit 1; }
make -C examples/c-host check PKG_CONFIG_PATH="$pc" LINK=static OUT="$prefix/host-static"
if readelf -d "$prefix/host-static" | grep -q 'NEEDED.*libordu'; then
  echo "the static pkg-config build depends on libordu.so" >&2
  exit 1
fi
