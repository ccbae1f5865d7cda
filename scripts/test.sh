#!/usr/bin/env bash
# Sets up everything, builds, and runs every test: first the Catch2 unit tests under ASan+UBSan
# (build-sanitize/), then the same in the device profile (build-device/, -DRESUMABLE_PROFILE=device,
# also under ASan+UBSan), whose switches are off so that the synchronous paths and the device's
# buffer defaults are tested, with the minimal device server's uploads (label device); then the
# concurrency tests under ThreadSanitizer (build-tsan/); then the whole suite (build/): unit, golden
# vectors, wasm in node, and the browser tests in Chromium; last the device profile cross-built for
# 32-bit ARM (build-armhf/, cmake/toolchains/armhf.cmake; the cross toolchain and qemu-user
# installed by scripts/setup-armhf.sh), its tests under qemu-arm, the host uploading into the
# emulated server. Exits non-zero on any failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
source "$root/scripts/env.sh"
jobs=$(nproc)

echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
BUILD_DIR="$root/build-sanitize" BUILD_TARGETS=unit_test_programs bash "$root/scripts/build.sh" -DRESUMABLE_SANITIZE=address,undefined \
  -DRESUMABLE_BUILD_WASM=OFF -DRESUMABLE_BUILD_DEMO=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$root/build-sanitize" -L unit --output-on-failure -j "$jobs"

echo "== unit tests in the device profile (no writer, collector or watchdog threads, no mmap pool, 16 KiB buffers, CivetWeb tls;ipv6)"
BUILD_DIR="$root/build-device" BUILD_TARGETS="unit_test_programs device_minimal resumable_device_demo resumable_command" bash "$root/scripts/build.sh" -DRESUMABLE_PROFILE=device \
  -DRESUMABLE_SANITIZE=address,undefined -DRESUMABLE_BUILD_WASM=OFF -DRESUMABLE_BUILD_DEMO=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$root/build-device" -L 'unit|device' --output-on-failure -j "$jobs"

echo "== concurrency tests under ThreadSanitizer"
# CivetWeb is built from source with the same instrumentation; tests/reliability/tsan.supp suppresses
# only the descriptor scans it explains.
BUILD_DIR="$root/build-tsan" BUILD_TARGETS=concurrency_test_programs bash "$root/scripts/build.sh" -DRESUMABLE_SANITIZE=thread \
  -DRESUMABLE_BUILD_WASM=OFF -DRESUMABLE_BUILD_DEMO=OFF
TSAN_OPTIONS="suppressions=$root/tests/reliability/tsan.supp:halt_on_error=1:second_deadlock_stack=1:history_size=4" \
  ctest --test-dir "$root/build-tsan" -L concurrency --output-on-failure -j "$jobs"

echo "== all tests"
# The S3 store's tests (label s3) start a single-node Ceph with radosgw (tests/support/ceph_fixture.sh)
# from Debian's packages: 97 packages, about 290 MB, installed here only, for this stage.
bash "$root/scripts/apt-install-missing.sh" test --no-install-recommends -- radosgw ceph-mon ceph-osd ceph-common
# The three-instance test (scaleout.three_instances) puts Debian's nginx before its instances (the
# test starts it on a free loopback port; the package's own service, where one starts, is not used).
bash "$root/scripts/apt-install-missing.sh" test -- nginx
bash "$root/scripts/build.sh"
# Two at a time (7.5 min instead of about 13 serially). The two failures the load once provoked
# had causes that are fixed: a late first request of a browser got a scope of its own (flow.js
# 254 of 256 chunks), and widget_timeouts measured from events its server noticed late.
ctest --test-dir "$root/build" --output-on-failure -j "$jobs"

echo "== device profile on armhf under qemu-arm"
# Built for what runs here: the core against the golden vectors, the upload core, the server over
# real HTTP (all under qemu-arm, ~3 min on 2 cores) and the minimal example taking uploads from the
# host's command (label device, ~15 s) and serving the widget's files, the full build's (hence this
# stage comes last). The command's own parts and the reliability suites are host-side code or
# already run natively above.
bash "$root/scripts/setup-armhf.sh"
cmake -S "$root" -B "$root/build-armhf" --toolchain "$root/cmake/toolchains/armhf.cmake" \
  -DRESUMABLE_PROFILE=device -DRESUMABLE_BUILD_WASM=OFF -DRESUMABLE_BUILD_DEMO=OFF \
  -DRESUMABLE_HOST_CLI="$root/build-device/cli/resumable" -DRESUMABLE_WIDGET_PREBUILT_DIR="$root/build/widget"
cmake --build "$root/build-armhf" --parallel "$jobs" \
  --target resumable_unit_tests resumable_upload_core_tests resumable_slot_store_tests resumable_server_tests device_minimal \
  resumable_device_demo
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  ctest --test-dir "$root/build-armhf" -L 'unit|device' -E '^(cli|reliability)[.]|_NOT_BUILT$' --output-on-failure -j "$jobs"
