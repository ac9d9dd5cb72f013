#!/usr/bin/env bash
# Runs the benchmarks: every scenario against Palaver and against the Node socket.io reference
# (and, for idle memory, fan-out and latency, against bare socketioxide, the stack's floor),
# alternating, and prints the tables (also written to target/bench/latest.md). See
# BENCHMARKS.md. Installs what is missing first, and builds Palaver in release mode.
#
# Usage: bench/run.sh [--quick] [--only idle,fanout,latency,rooms,persist,cluster,
#                                       persist-postgres,unpinned,frontend,reconnect,
#                                       connstorm,attack,attack-history,...,
#                                       import,import-postgres,hooks-failing]
#                     [--servers palaver,node,bare] [--palaver-env NAME=value]...
#                     [--memory-bound-mib N]
#   --quick  a small run of everything, to check the suite works (the test script runs it);
#            it does not build the minimal Leptos page (bench/floor-leptos), which takes a few
#            minutes, so its front-end floor rows say "not built"
# Environment:
#   BENCH_PALAVER=path   measure this Palaver binary instead of building one (its site, the
#                        front end's assets, is still target/site unless --site-root says)
#   BENCH_SERVER_LOG     Palaver's RUST_LOG during the run (default: error)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/setup.sh --with-browser --with-services
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

QUICK=0
for arg in "$@"; do
  [[ "$arg" == "--quick" ]] && QUICK=1
done

# The reference server's packages; better-sqlite3 builds from source against /usr/include/node.
npm_install bench/node

if [[ -z "${BENCH_PALAVER:-}" ]]; then
  log "building Palaver (release)"
  cargo leptos build --release --precompress --split --lib-features split
fi
log "building the load generator and the bare socketioxide server (release)"
cargo build --release -p palaver-bench
FLOOR=()
if [[ "$QUICK" == 0 ]]; then
  log "building the minimal Leptos page (the front end's floor)"
  bench/floor-leptos/build.sh target/bench/floor-site
  FLOOR=(--floor-site target/bench/floor-site)
fi

if [[ "$(nproc)" -lt 2 ]]; then
  echo "bench: needs 2 cores, one for the server and one for the generator" >&2
  exit 1
fi
mkdir -p target/bench
# The generator (and the processes it starts for idle connections) on core 1; the servers it
# starts are pinned to core 0, but for the "unpinned" row, and so are the Redis and Postgres
# that the cluster and persist-postgres scenarios start (Debian's, from setup's --with-services).
exec taskset -c 1 "$TARGET_DIR/release/palaver-bench" suite --server-core 0 \
  --palaver "${BENCH_PALAVER:-$TARGET_DIR/release/palaver}" \
  --bare "$TARGET_DIR/release/palaver-bare" \
  "${FLOOR[@]}" \
  --out target/bench/latest.md "$@"
