#!/usr/bin/env bash
# Runs the benchmarks: every scenario against Palaver and against the Node socket.io reference,
# alternating, and prints one table (also written to target/bench/latest.md). See BENCHMARKS.md.
# Installs what is missing first, and builds Palaver in release mode.
#
# Usage: bench/run.sh [--quick] [--only idle,fanout,latency,rooms,persist,unpinned,frontend]
#                     [--servers palaver,node]
#   --quick  a small run of everything, to check the suite works (the test script runs it)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/setup.sh --with-browser

# The reference server's packages; better-sqlite3 builds from source against /usr/include/node.
npm_install bench/node

log "building Palaver and the load generator (release)"
cargo leptos build --release --precompress
cargo build --release -p palaver-bench

if [[ "$(nproc)" -lt 2 ]]; then
  echo "bench: needs 2 cores, one for the server and one for the generator" >&2
  exit 1
fi
mkdir -p target/bench
# The generator (and the processes it starts for idle connections) on core 1; the servers it
# starts are pinned to core 0, but for the "unpinned" row.
exec taskset -c 1 target/release/palaver-bench suite --server-core 0 \
  --out target/bench/latest.md "$@"
