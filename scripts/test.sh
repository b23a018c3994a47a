#!/usr/bin/env bash
# The project's whole check, as CI runs it: formatting, lints (warnings are errors), every Rust
# test (against throwaway PostgreSQL clusters), then the API fuzzed from its own OpenAPI
# document with schemathesis (bounded: FUZZ_EXAMPLES per operation, default 50, fixed seed).
# Needs python3 with venv for the fuzz step; `cargo test` alone runs everything else.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --locked
echo "== schemathesis over /openapi.json"
# `cargo test` built the debug binary; fuzzing it saves a release build.
cargo build --locked -q --bin salgate
BIN=target/debug/salgate EXAMPLES=${FUZZ_EXAMPLES:-50} bash scripts/fuzz.sh
