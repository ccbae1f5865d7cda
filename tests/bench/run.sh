#!/usr/bin/env bash
# The benchmark harness (docs/BENCHMARKS.md): installs its peers when missing, then runs bench.mjs.
#   tests/bench/run.sh [--smoke] [--size 1GiB] [--runs 5] [--only ...] [--help]
#   tests/bench/run.sh --only scaleout [--pages fresh|recycled] [--runs 3]   (issue 17; only when named)
# Peers: Debian's nginx (WebDAV PUT is compiled into it), b2sum and dd (coreutils), curl, Chromium; npm's
# @tus/server, @tus/file-store, tus-js-client, hash-wasm, uppy (pinned in package.json); for scaleout
# also PostgreSQL and Ceph (radosgw, mon, OSD), started for the run by tests/support/postgres_fixture.sh
# and ceph_fixture.sh, which wrap bench.mjs. A peer that cannot be installed fails the run: nothing is
# skipped.
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
# The scale-out measure (--only LIST naming scaleout) runs inside both engines' fixtures.
scaleout=0
args=("$@")
for ((i = 0; i + 1 < ${#args[@]}; i++)); do
  if [ "${args[i]}" = --only ] && [[ ",${args[i + 1]}," == *,scaleout,* ]]; then scaleout=1; fi
done
wrap=()
if [ "$scaleout" = 1 ]; then
  bash "$root/scripts/apt-install-missing.sh" bench -- postgresql
  bash "$root/scripts/apt-install-missing.sh" bench --no-install-recommends -- radosgw ceph-mon ceph-osd ceph-common
  [ -n "${RESUMABLE_PG_CONNINFO:-}" ] || wrap+=(bash "$root/tests/support/postgres_fixture.sh" --)
  [ -n "${RESUMABLE_S3_ENDPOINT:-}" ] || wrap+=(bash "$root/tests/support/ceph_fixture.sh" --)
fi

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
exec "${wrap[@]}" node "$root/tests/bench/bench.mjs" "$@"
