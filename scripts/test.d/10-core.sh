#!/usr/bin/env bash
# Rust: format, lints, and the core crate's unit, integration and doc tests.
set -euo pipefail
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test -p ordu
