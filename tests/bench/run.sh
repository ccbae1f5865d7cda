#!/usr/bin/env bash
# The benchmark harness (docs/BENCHMARKS.md): installs its peers when missing, then runs bench.mjs.
#   tests/bench/run.sh [--smoke] [--size 1GiB] [--runs 5] [--only ...] [--help]
# Peers: Debian's nginx (WebDAV PUT is compiled into it), b2sum and dd (coreutils), curl, Chromium; npm's
# @tus/server, @tus/file-store, tus-js-client, hash-wasm, uppy (pinned in package.json). A peer that
# cannot be installed fails the run: nothing is skipped.
# The test server: $RESUMABLE_TEST_SERVER_BIN, else $BUILD_DIR/tests/resumable_test_server (BUILD_DIR
# defaults to build/); the command: $RESUMABLE_CLI_BIN, else $BUILD_DIR/cli/resumable; build them
# first (scripts/build.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../../scripts/env.sh
source "$root/scripts/env.sh"

apt_packages=(nginx coreutils chromium curl)
# nginx's package would start a system nginx on port 80 where a service manager runs; the benchmark
# starts its own on a free loopback port, so only the binary matters.
bash "$root/scripts/apt-install-missing.sh" bench -- "${apt_packages[@]}"
command -v nginx >/dev/null || { echo "bench: nginx is not installed and could not be installed" >&2; exit 1; }

npm_packages=(@tus/server @tus/file-store tus-js-client hash-wasm uppy playwright-core resumablejs)
for p in "${npm_packages[@]}"; do
  if [ ! -f "$root/node_modules/$p/package.json" ]; then
    echo "bench: installing npm packages from package-lock.json"
    (cd "$root" && npm ci --no-audit --no-fund)
    break
  fi
done
for p in "${npm_packages[@]}"; do
  [ -f "$root/node_modules/$p/package.json" ] || { echo "bench: npm package $p is missing after npm ci" >&2; exit 1; }
done

if [ -z "${RESUMABLE_TEST_SERVER_BIN:-}" ]; then
  export RESUMABLE_TEST_SERVER_BIN=${BUILD_DIR:-$root/build}/tests/resumable_test_server
fi
[ -x "$RESUMABLE_TEST_SERVER_BIN" ] || { echo "bench: no test server at $RESUMABLE_TEST_SERVER_BIN (run scripts/build.sh, or set RESUMABLE_TEST_SERVER_BIN)" >&2; exit 1; }
if [ -z "${RESUMABLE_CLI_BIN:-}" ]; then
  export RESUMABLE_CLI_BIN=${BUILD_DIR:-$root/build}/cli/resumable
fi
# The wasm core computes the tree digests the ingest benchmark sends (tests/reliability/support.mjs).
export RESUMABLE_WASM_DIR=${RESUMABLE_WASM_DIR:-${BUILD_DIR:-$root/build}/wasm-build}
exec node "$root/tests/bench/bench.mjs" "$@"
