#!/usr/bin/env bash
# Rust: format, lints, and the unit, integration and doc tests of the core
# crate, of its durable log and of the Raft cluster.
set -euo pipefail
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test -p ordu
cargo test -p ordu-durable
cargo test -p ordu-cluster
