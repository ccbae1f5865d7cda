#!/usr/bin/env bash
# Installs what the armhf cross build and its tests under qemu-user need (cmake/toolchains/armhf.cmake,
# docs/device.md), idempotently: Debian's cross toolchain, the armhf libraries the device build
# links (multiarch, beside the host's), and qemu-user (no binfmt registration: ctest and the tests
# call qemu-arm themselves). Called by scripts/test.sh before its armhf stage only, so the README's
# two commands install this only when the device tests run.
#
# Installing libssl-dev:armhf upgrades the host's libssl3/libssl-dev to the same version if they
# are older (multiarch packages of one source must have equal versions).
set -euo pipefail

packages=(crossbuild-essential-armhf libsodium-dev:armhf libssl-dev:armhf libcurl4-openssl-dev:armhf
          libstdc++6:armhf pkgconf:armhf qemu-user)

sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! dpkg --print-foreign-architectures | grep -qx armhf; then
  echo "setup-armhf: adding the armhf architecture to dpkg"
  $sudo dpkg --add-architecture armhf
fi
bash "$(dirname "$0")/apt-install-missing.sh" setup-armhf --no-install-recommends -- "${packages[@]}"
