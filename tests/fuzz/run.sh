#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/*.cpp) with clang-14, ASan and UBSan in their own build
# directory and runs each for a while; prints one summary line per target (executions, corpus size,
# coverage) and exits non-zero if any target crashed. CI runs it briefly (ctest fuzz.short_runs);
# docs/RELIABILITY.md gives the command for longer runs.
#   tests/fuzz/run.sh [--build-dir DIR] [--seconds N] [--jobs N] [--targets "a b"]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build-fuzz
seconds=20
jobs=$(nproc)
targets="fuzz_request_params fuzz_storage_codec fuzz_upload_state fuzz_http_endpoint fuzz_tus_headers fuzz_ietf_fields"
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --targets) targets=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    *) echo "usage: $0 [--build-dir DIR] [--seconds N] [--jobs N] [--targets \"a b\"]" >&2; exit 2 ;;
  esac
done
CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -DRESUMABLE_FUZZ=ON -DRESUMABLE_SANITIZE=address,undefined \
  -DRESUMABLE_BUILD_WASM=OFF -DRESUMABLE_BUILD_DEMO=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$build.configure.log" 2>&1 \
  || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" --target fuzz_targets --parallel "$(nproc)"
# One target per core at a time: each fuzzer is single-threaded, so on two cores two run side by side
# in the time of one.
fuzz_one() {
  local target=$1 corpus=$build/corpus/$1 log=$build/$1.log
  mkdir -p "$corpus"
  [ -d "$root/tests/fuzz/corpus/$target" ] && cp -n "$root/tests/fuzz/corpus/$target"/* "$corpus"/ 2>/dev/null || true
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/tests/$target" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$build/$target-" "$corpus" > "$log" 2>&1
}
status=0
summary=()
set -- $targets
while [ $# -gt 0 ]; do
  batch=()
  pids=()
  for _ in $(seq "$jobs"); do
    [ $# -gt 0 ] || break
    echo "== $1: ${seconds} s"
    fuzz_one "$1" &
    pids+=($!)
    batch+=("$1")
    shift
  done
  for i in "${!batch[@]}"; do
    target=${batch[$i]}
    log=$build/$target.log
    if ! wait "${pids[$i]}"; then
      status=1
      tail -60 "$log"
      echo "fuzz: $target FAILED (crash input saved as $build/$target-*)"
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
    units=$(find "$build/corpus/$target" -type f | wc -l)
    summary+=("fuzz: $target: $execs executions in ${seconds} s, coverage $cov edges, corpus $units inputs")
  done
done
printf '%s\n' "${summary[@]}"
exit $status
