#!/usr/bin/env bash
# Runs every test: formatting and lints, Rust unit and integration tests, a release build,
# the stress tests, a quick run of the benchmark suite, the socket.io-client interop tests
# (two nodes behind HAProxy and nginx among them), the chaos tests and the Playwright tests in Chromium.
# Installs what is missing first. Stops at the first failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/setup.sh --with-browser --with-services

# A run starts from a clean clone in CI, where incremental caches only cost disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
started=$SECONDS

# A full disk shows up as a linker's bus error half an hour in; say so at the start instead.
free_kb=$(df -Pk "$ROOT" | awk 'NR==2 {print $4}')
if (( free_kb < 8 * 1024 * 1024 )); then
    echo "warning: only $((free_kb / 1024)) MiB free under $ROOT; a full run needs about 8 GiB" >&2
fi

step "format"
cargo fmt --all --check

step "clippy"
# One package at a time: a workspace build would merge app's ssr and hydrate features.
cargo clippy -p app --tests -- -D warnings
cargo clippy -p server --tests --features stress -- -D warnings
cargo clippy -p palaver-bench --tests -- -D warnings
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings
cargo clippy -p frontend --target wasm32-unknown-unknown --features split -- -D warnings

step "unit and integration tests"
cargo test -p app
cargo test -p server
# The integration tests again, every server on Postgres (the tests start their own); the store
# tests ran on both backends above.
PALAVER_TEST_BACKEND=postgres cargo test -p server --test it
cargo test -p palaver-bench

step "release build"
cargo leptos build --release --precompress --split --lib-features split

step "stress"
# The long hostile-load tests, in a release build: a storm of 2,000 connections that each ask
# for the lobby's replay, while a bystander posts.
cargo test --release -p server --features stress --test it stress:: -- --nocapture

step "benchmark suite, quick run"
# Checks that the load generator, the Node reference and the front-end measurement work, and
# that no delivery is lost at low rates; its figures mean nothing (bench/run.sh runs the real one).
bench/run.sh --quick
(cd bench/node && npm run --silent check)

step "socket.io-client interop tests"
(cd end2end && npm run --silent interop)

step "chaos test"
# A palaver worker SIGKILLed in the middle of a 400,000-message Slack import on Postgres, twice
# (early, then late), and another worker finishing it with every record stored once; and one
# stopped with SIGTERM putting its job back at once; see server/tests/it/chaos.rs.
cargo test --release -p server --features stress --test it chaos:: -- --nocapture
# 50 clients, random disconnects, two SIGKILLs of the server; see end2end/chaos/chaos.mjs.
(cd end2end && npm run --silent chaos)
# 120 clients on two nodes behind HAProxy; a node SIGKILLed, Redis and Postgres restarted; see
# end2end/chaos/cluster.mjs.
(cd end2end && npm run --silent chaos:cluster)

step "Playwright tests"
(cd end2end && npx playwright test)

step "all tests passed in $((SECONDS - started)) s"
