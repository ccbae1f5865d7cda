#!/usr/bin/env bash
# Heap of the minimal device server (examples/device-minimal) under heaptrack: its peak with 1 and
# with 4 concurrent 64 MiB uploads (4 CivetWeb workers), and with one upload of 1 MiB and of 256 MiB
# (2 workers), each after a 1 MiB warm-up upload. Prints one line per run; docs/device.md explains.
#   tests/bench/device_heap.sh EXAMPLE_BIN HOST_CLI
# heaptrack is Debian's (installed here if missing); native builds only (it cannot follow qemu-arm).
set -euo pipefail
example=$1 cli=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
bash "$root/scripts/apt-install-missing.sh" device-heap -- heaptrack
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
file() { head -c "$2" /dev/urandom > "$work/$1"; }
file warm.bin $((1048576 + 5)); file one.bin 1048576; file huge.bin $((256 * 1048576))
for i in 1 2 3 4; do file "big$i.bin" $((64 * 1048576)); done
run() {  # run NAME WORKERS FILE...
  local name=$1 workers=$2; shift 2
  rm -rf "$work/data"; mkdir "$work/data"
  heaptrack -o "$work/$name" "$example" "$port" "$work/data" "$workers" > "$work/$name.log" 2>&1 &
  for _ in $(seq 50); do grep -q "listening" "$work/$name.log" 2>/dev/null && break; sleep 0.2; done
  "$cli" upload --quiet "$work/warm.bin" "http://127.0.0.1:$port/upload" > /dev/null
  local pids=()
  for f in "$@"; do "$cli" upload --quiet --parallel 1 "$work/$f" "http://127.0.0.1:$port/upload" > /dev/null & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
  pkill -INT -f "$example $port" || true
  for _ in $(seq 100); do [ -f "$work/$name.zst" ] && ! pgrep -f "$example $port" > /dev/null && break; sleep 0.2; done
  echo "$name: $(heaptrack_print -f "$work/$name.zst" 2>/dev/null | sed -n 's/^peak heap memory consumption: //p')"
}
run "4-workers-1x64MiB" 4 big1.bin
run "4-workers-4x64MiB" 4 big1.bin big2.bin big3.bin big4.bin
run "2-workers-1x1MiB" 2 one.bin
run "2-workers-1x256MiB" 2 huge.bin
