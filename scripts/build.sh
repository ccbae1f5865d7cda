#!/usr/bin/env bash
# Configures and builds everything (native core, server, demo, tests, WebAssembly core) in $BUILD_DIR
# (default build/). Extra arguments go to the CMake configure step; BUILD_TARGETS (space-separated)
# builds only those targets.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/env.sh"
build=${BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" "$@"
targets=()
for t in ${BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build" --parallel "$(nproc)" "${targets[@]}"
