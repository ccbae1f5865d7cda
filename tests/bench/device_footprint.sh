#!/usr/bin/env bash
# The device profile's footprint, measured (docs/device.md): code size (`size`) of the library and
# of examples/device-minimal for armhf and x86-64, the same for each build switch, and memory of the
# example under load (device_footprint.mjs: armhf under qemu-arm, x86-64 natively).
#   tests/bench/device_footprint.sh [--sizes-only]     prints markdown tables on standard output
# Builds in build-footprint/ (MinSizeRel, -ffunction-sections -fdata-sections, --gc-sections, as a
# firmware build would); the armhf tools come from scripts/setup-armhf.sh. Not part of the test
# command; takes ~15 min on 2 cores, most of it compiling.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../../scripts/env.sh
source "$root/scripts/env.sh"
bash "$root/scripts/setup-armhf.sh"
out=$root/build-footprint
sizes_only=0; [ "${1:-}" = --sizes-only ] && sizes_only=1

common=(-DCMAKE_BUILD_TYPE=MinSizeRel -DRESUMABLE_PROFILE=device -DRESUMABLE_BUILD_WASM=OFF -DRESUMABLE_BUILD_DEMO=OFF
        -DRESUMABLE_BUILD_TESTS=OFF "-DCMAKE_C_FLAGS=-ffunction-sections -fdata-sections"
        "-DCMAKE_CXX_FLAGS=-ffunction-sections -fdata-sections" "-DCMAKE_EXE_LINKER_FLAGS=-Wl,--gc-sections")
# build DIR TARGETS... -- CMAKE_ARGS...
build() {
  local dir=$1; shift
  local targets=()
  while [ "$1" != -- ]; do targets+=("$1"); shift; done
  shift
  cmake -S "$root" -B "$dir" "${common[@]}" "$@" >/dev/null
  cmake --build "$dir" --parallel "$(nproc)" --target "${targets[@]}" >/dev/null
}
# text+data and bss of FILE..., summed (`size` on an archive lists every member).
text_data() { "$1" "${@:2}" | awk 'NR > 1 && $1 ~ /^[0-9]+$/ {t += $1; d += $2} END {print t + d}'; }
bss() { "$1" "${@:2}" | awk 'NR > 1 && $1 ~ /^[0-9]+$/ {b += $3} END {print b}'; }
libs() {
  local dir=$1
  echo "$dir/server/libresumable_server.a $dir/server/libresumable_upload.a $dir/server/libresumable_store_filesystem.a $dir/wasm/libresumable_core.a"
}
kib() { awk -v n="$1" 'BEGIN {printf "%.1f", n / 1024}'; }

armhf=$out/armhf
x86=$out/x86-64
build "$armhf" device_minimal -- --toolchain "$root/cmake/toolchains/armhf.cmake"
build "$x86" device_minimal resumable_command --
echo "| build | library (text+data) | CivetWeb | device-minimal text+data | bss |"
echo "|---|---|---|---|---|"
for arch in armhf x86-64; do
  dir=$out/$arch
  size=size; [ "$arch" = armhf ] && size=arm-linux-gnueabihf-size
  # shellcheck disable=SC2046
  echo "| $arch | $(kib "$(text_data $size $(libs "$dir"))") KiB | $(kib "$(text_data $size "$dir/libresumable_civetweb.a")") KiB |" \
       "$(kib "$(text_data $size "$dir/examples/device-minimal/device-minimal")") KiB | $(kib "$(bss $size "$dir/examples/device-minimal/device-minimal")") KiB |"
done

# Each switch on its own, from the device profile (one build dir, reconfigured: only what a
# switch touches is recompiled). Sizes are of the armhf example, which links what it uses.
example=$armhf/examples/device-minimal/device-minimal
base=$(text_data arm-linux-gnueabihf-size "$example")
echo
echo "| armhf variant (each row adds to the one above) | device-minimal text+data | vs the row above | vs the device profile |"
echo "|---|---|---|---|"
echo "| device profile | $(kib "$base") KiB | | |"
previous=$base
delta() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.1f KiB", (a - b) / 1024}'; }
variant() {
  local label=$1; shift
  build "$armhf" device_minimal -- --toolchain "$root/cmake/toolchains/armhf.cmake" "$@"
  local now
  now=$(text_data arm-linux-gnueabihf-size "$example")
  echo "| $label | $(kib "$now") KiB | $(delta "$now" "$previous") | $(delta "$now" "$base") |"
  previous=$now
}
variant "RESUMABLE_WRITE_BEHIND=ON" -DRESUMABLE_WRITE_BEHIND=ON
variant "+ RESUMABLE_BUFFER_POOL=ON" -DRESUMABLE_BUFFER_POOL=ON
variant "+ RESUMABLE_COLLECTOR_THREAD=ON" -DRESUMABLE_COLLECTOR_THREAD=ON
variant "+ RESUMABLE_BODY_WATCHDOG=ON (all four on)" -DRESUMABLE_BODY_WATCHDOG=ON
variant "all four on, CivetWeb tls;ipv6;files (the host profile's switches)" "-DRESUMABLE_CIVETWEB_FEATURES=tls;ipv6;files"
previous=$base
variant "device profile, CivetWeb tls only (no IPv6)" -DRESUMABLE_WRITE_BEHIND=OFF -DRESUMABLE_BUFFER_POOL=OFF \
  -DRESUMABLE_COLLECTOR_THREAD=OFF -DRESUMABLE_BODY_WATCHDOG=OFF -DRESUMABLE_CIVETWEB_FEATURES=tls
variant "device profile, CivetWeb without TLS or IPv6 (from tls only)" -DRESUMABLE_CIVETWEB_FEATURES=
build "$armhf" device_minimal -- --toolchain "$root/cmake/toolchains/armhf.cmake" "-DRESUMABLE_CIVETWEB_FEATURES=tls;ipv6"
echo
echo "Shared libraries the example loads (the device's OS image has them), armhf text+data:"
for lib in libsodium.so.23 libssl.so.3 libcrypto.so.3 libstdc++.so.6; do
  echo "- $lib: $(kib "$(text_data arm-linux-gnueabihf-size "$(readlink -f /usr/lib/arm-linux-gnueabihf/$lib)")") KiB"
done
[ "$sizes_only" = 1 ] && exit 0

echo
echo "Memory (JSON, one line per architecture):"
RESUMABLE_EXAMPLE_BIN=$example RESUMABLE_EMULATOR=/usr/bin/qemu-arm RESUMABLE_HOST_CLI=$x86/cli/resumable \
  node "$root/tests/bench/device_footprint.mjs"
RESUMABLE_EXAMPLE_BIN=$x86/examples/device-minimal/device-minimal RESUMABLE_EMULATOR= RESUMABLE_HOST_CLI=$x86/cli/resumable \
  node "$root/tests/bench/device_footprint.mjs"
