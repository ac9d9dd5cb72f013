#!/usr/bin/env bash
# Runs Palaver on http://127.0.0.1:3000 with its embedded SQLite database (./data/palaver.db).
# Installs what is missing first. Extra arguments go to `cargo leptos serve`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/setup.sh
exec cargo leptos serve --release --precompress --split --lib-features split "$@"
