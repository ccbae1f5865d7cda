# Cross build for 32-bit ARM (armhf: ARMv7, hard float) with Debian's cross toolchain and multiarch
# libraries, as scripts/setup-armhf.sh installs them (crossbuild-essential-armhf, libsodium-dev:armhf,
# libssl-dev:armhf, libcurl4-openssl-dev:armhf, pkgconf:armhf, qemu-user). Use it for the device
# profile (docs/device.md):
#   cmake -S . -B build-armhf --toolchain cmake/toolchains/armhf.cmake -DRESUMABLE_PROFILE=device \
#     -DRESUMABLE_BUILD_WASM=OFF -DRESUMABLE_BUILD_DEMO=OFF
# Header-only dependencies (nlohmann-json, Catch2's header) come from the host's /usr; programs
# (node, python3, openssl) are the host's. ctest runs every test binary under qemu-arm.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
set(CMAKE_LIBRARY_ARCHITECTURE arm-linux-gnueabihf)

# The cross package's sysroot first, then / for the multiarch libraries under
# /usr/lib/arm-linux-gnueabihf (with the first alone, OpenSSL is not found).
set(CMAKE_FIND_ROOT_PATH /usr/arm-linux-gnueabihf /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(PKG_CONFIG_EXECUTABLE /usr/bin/arm-linux-gnueabihf-pkg-config CACHE FILEPATH "pkg-config for armhf")

# Plain qemu-arm: the guest's dynamic loader and libraries are the multiarch ones
# (/lib/ld-linux-armhf.so.3, /lib/arm-linux-gnueabihf). Not `-L /usr/arm-linux-gnueabihf`: that
# pairs the cross package's loader with the newer multiarch libc, and any program that starts a
# thread crashes.
set(CMAKE_CROSSCOMPILING_EMULATOR /usr/bin/qemu-arm)
