#!/usr/bin/env bash
# Builds the front end's floor for the benchmark (bench/floor-leptos): the wasm as cargo-leptos
# builds Palaver's (the wasm-release profile, then wasm-bindgen and wasm-opt), brotli-11 and
# gzip copies of the assets as `--precompress` writes Palaver's, and the server for the page.
# Without cargo-leptos: a few minutes on two cores, so only bench/run.sh's full run builds it.
#
# Usage: bench/floor-leptos/build.sh [SITE_DIR]   (default target/bench/floor-site)
# Expects the tools scripts/setup.sh installs on PATH (wasm-bindgen, wasm-opt, node).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
SITE="${1:-target/bench/floor-site}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

cargo build -p floor-leptos --lib --target wasm32-unknown-unknown --profile wasm-release \
  --no-default-features --features hydrate
cargo build -p floor-leptos --release --bin floor-leptos --features ssr

rm -rf "$SITE/pkg"
mkdir -p "$SITE/pkg"
wasm-bindgen --target web --no-typescript --out-dir "$SITE/pkg" --out-name floor \
  "$TARGET_DIR/wasm32-unknown-unknown/wasm-release/floor_leptos.wasm"
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$SITE/pkg/floor_bg.wasm" -o "$SITE/pkg/floor.wasm"
rm "$SITE/pkg/floor_bg.wasm"
cp bench/floor-leptos/style.css "$SITE/pkg/floor.css"
node --input-type=module -e '
  import { readdirSync, readFileSync, writeFileSync } from "node:fs";
  import { join } from "node:path";
  import { brotliCompressSync, gzipSync, constants } from "node:zlib";
  const dir = process.argv[1];
  for (const file of readdirSync(dir).filter((f) => /\.(wasm|js|css)$/.test(f))) {
    const data = readFileSync(join(dir, file));
    writeFileSync(join(dir, file + ".br"), brotliCompressSync(data, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length },
    }));
    writeFileSync(join(dir, file + ".gz"), gzipSync(data, { level: 9 }));
  }
' "$SITE/pkg"
cp "$TARGET_DIR/release/floor-leptos" "$SITE/floor-leptos"
echo "floor: built into $SITE ($(du -sh "$SITE/pkg" | cut -f1) of assets)"
