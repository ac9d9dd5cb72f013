#!/usr/bin/env bash
# Installs what building and testing Palaver needs, skipping whatever is already present.
# Usage: scripts/setup.sh [--with-browser] [--with-services]
#   --with-browser   also install Debian's Chromium and sqlite3 (for the browser and chaos tests)
#   --with-services  also install Debian's PostgreSQL, Redis, HAProxy, nginx and openssl (for
#                    the tests of several nodes, which start their own on free ports)
# Other scripts source it: `source scripts/setup.sh` leaves PATH pointing at the tools.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WITH_BROWSER=0
WITH_SERVICES=0
for arg in "$@"; do
  case "$arg" in
    --with-browser) WITH_BROWSER=1 ;;
    --with-services) WITH_SERVICES=1 ;;
    *) echo "setup: unknown argument $arg" >&2; exit 2 ;;
  esac
done

log() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

export PATH="$HOME/.cargo/bin:$ROOT/end2end/node_modules/.bin:$PATH"

# Rust: the toolchain pinned in rust-toolchain.toml, with the wasm target. Environments with
# RUSTUP_AUTO_INSTALL=0 do not add the pinned toolchain's targets by themselves.
TOOLCHAIN="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$ROOT/rust-toolchain.toml")"
if ! rustup toolchain list | grep -q "^$TOOLCHAIN"; then
  log "installing Rust $TOOLCHAIN"
  rustup toolchain install "$TOOLCHAIN" --profile minimal --component rustfmt,clippy
fi
if ! rustup target list --installed --toolchain "$TOOLCHAIN" | grep -q '^wasm32-unknown-unknown$'; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown --toolchain "$TOOLCHAIN"
fi
for comp in rustfmt clippy; do
  if ! rustup component list --installed --toolchain "$TOOLCHAIN" | grep -q "^$comp"; then
    log "adding $comp"
    rustup component add "$comp" --toolchain "$TOOLCHAIN"
  fi
done

# cargo-leptos 0.3.10: newer releases need a newer rustc than we pin. Built with the default
# toolchain outside the repo (the pin does not apply there). About 15 minutes on 2 cores.
if [[ "$(cargo leptos --version 2>/dev/null || true)" != *"0.3.10"* ]]; then
  log "installing cargo-leptos 0.3.10 (takes a while)"
  (cd / && cargo install cargo-leptos --version 0.3.10 --locked)
fi

# wasm-bindgen CLI: must equal the wasm-bindgen crate in Cargo.lock exactly.
WB_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' "$ROOT/Cargo.lock")"
if [[ -z "$WB_VERSION" ]]; then
  echo "setup: cannot read the wasm-bindgen version from Cargo.lock" >&2
  exit 1
fi
if [[ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WB_VERSION" ]]; then
  log "installing wasm-bindgen-cli $WB_VERSION"
  (cd / && cargo install wasm-bindgen-cli --version "$WB_VERSION" --force)
fi

# Debian packages: what is missing is installed at once, after one `apt-get update`.
DEBIAN_MISSING=()
# Chromium only for the browser tests.
if [[ "$WITH_BROWSER" == 1 && ! -x /usr/bin/chromium ]]; then
  DEBIAN_MISSING+=(chromium)
fi
# The sqlite3 shell: the chaos test reads the database directly to check it.
if [[ "$WITH_BROWSER" == 1 ]] && ! command -v sqlite3 >/dev/null; then
  DEBIAN_MISSING+=(sqlite3)
fi
# curl: the interop test of incoming webhooks posts with it, as their users do.
if ! command -v curl >/dev/null; then
  DEBIAN_MISSING+=(curl)
fi
# Node and npm: wasm-opt, Playwright and socket.io-client come from npm (below).
if ! command -v npm >/dev/null; then
  DEBIAN_MISSING+=(nodejs npm)
fi
# The services of several nodes: the tests start their own from these binaries (servers
# under /usr/sbin and /usr/lib/postgresql, not always on PATH). Installing them may also
# start Debian's system-wide instances; the tests do not use those.
if [[ "$WITH_SERVICES" == 1 ]]; then
  if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
    DEBIAN_MISSING+=(postgresql)
  fi
  if [[ ! -x /usr/bin/redis-server ]]; then
    DEBIAN_MISSING+=(redis-server)
  fi
  if [[ ! -x /usr/sbin/haproxy ]]; then
    DEBIAN_MISSING+=(haproxy)
  fi
  if [[ ! -x /usr/sbin/nginx ]]; then
    DEBIAN_MISSING+=(nginx)
  fi
  # Makes the certificate of the test's nginx.
  if ! command -v openssl >/dev/null; then
    DEBIAN_MISSING+=(openssl)
  fi
fi
if (( ${#DEBIAN_MISSING[@]} )); then
  log "installing ${DEBIAN_MISSING[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${DEBIAN_MISSING[@]}"
fi
# Debian puts haproxy and nginx in /usr/sbin, which a user's PATH may lack.
case ":$PATH:" in
  *:/usr/sbin:*) ;;
  *) export PATH="$PATH:/usr/sbin" ;;
esac

# npm packages: wasm-opt (binaryen; Debian's is too old and emits broken wasm), Playwright,
# socket.io-client. Reinstalled when package-lock.json changes.
# Installs the npm packages of directory $1 when its package-lock.json changed since the last time.
npm_install() {
  local dir="$ROOT/$1" stamp="$ROOT/$1/node_modules/.palaver-lock"
  if [[ ! -f "$stamp" ]] || ! cmp -s "$dir/package-lock.json" "$stamp"; then
    log "installing npm packages in $1/"
    (cd "$dir" && npm ci --no-audit --no-fund)
    cp "$dir/package-lock.json" "$stamp"
  fi
}
npm_install end2end

log "ready: $(cargo leptos --version), $(wasm-bindgen --version), wasm-opt $(wasm-opt --version | awk '{print $3}')"
