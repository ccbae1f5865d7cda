#!/usr/bin/env bash
# Builds variants of the wasm core for the BLAKE2b investigation in docs/BENCHMARKS.md, from the
# libsodium source the project's own wasm build unpacked and patched (BUILD/wasm-build/libsodium-src,
# see cmake/LibsodiumWasm.cmake) and the project's wasm/ sources. Nothing in wasm/ or in that source is
# changed; outputs go to OUT/<variant>/resumable_core.{js,wasm}.
#   tests/bench/wasm_variants.sh BUILD_DIR OUT_DIR
# Variants:
#   project        the project's flags (libsodium -O3, core -O3) and its patched libsodium, whose
#                  blake2b_update compresses whole blocks straight from the input and calls
#                  blake2b_compress_ref directly (cmake/patches/libsodium-1.0.18-blake2b-direct-update.patch):
#                  the served core, rebuilt here
#   libsodium-ref  the control: as `project`, but with that patch reverse-applied to blake2b-ref.c, i.e.
#                  Debian's libsodium as it is (blake2b_update copies each block into the state's
#                  2-block buffer, shifts it back, and calls the compression through a pointer)
#   simd128        as `project`, with -msimd128 for libsodium and the core (auto-vectorisation only)
#   O2             as `project`, -O2 everywhere
#   lto            as `project`, -flto for libsodium, the core and the link
#   link-O1        objects as `project`, but the link at -O1: binaryen's wasm-opt does (almost) nothing,
#                  so the code V8 sees is LLVM's as it came out of clang
# (The variant formerly called `direct-update` is now `project`.)
set -euo pipefail
build=$(cd "$1" && pwd)
out=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
src=$build/wasm-build/libsodium-src/src/libsodium
gen=$build/wasm-build/sodium-generated
[ -d "$src" ] || { echo "wasm_variants: no libsodium source in $build/wasm-build (build the project first)" >&2; exit 1; }
blake2b_patch=$root/cmake/patches/libsodium-1.0.18-blake2b-direct-update.patch
# The project's build records the patches it applied (by content) in this stamp.
stamp=$build/wasm-build/libsodium-src/.resumable-patches
if ! grep -qs "^$(sha256sum "$blake2b_patch" | cut -d' ' -f1)  ${blake2b_patch##*/}\$" "$stamp"; then
  echo "wasm_variants: the libsodium source in $build/wasm-build does not carry the current ${blake2b_patch##*/}" \
       "(rebuild the project first)" >&2
  exit 1
fi
export NODE_PATH=/usr/share/nodejs   # emscripten 3.1.6 (Debian) needs acorn from here at -O2 and above
mkdir -p "$out"

defines="-DCONFIGURED=1 -DCPU_UNALIGNED_ACCESS=1 -DHAVE_ALLOCA=1 -DHAVE_ALLOCA_H=1 -DHAVE_ATOMIC_OPS=1
 -DHAVE_C_VARARRAYS=1 -DHAVE_EXPLICIT_BZERO=1 -DHAVE_INLINE_ASM=1 -DHAVE_POSIX_MEMALIGN=1 -DHAVE_SYS_MMAN_H=1
 -DNATIVE_LITTLE_ENDIAN=1 -DSODIUM_STATIC=1"
includes="-I$gen -I$gen/sodium -I$src/include -I$src/include/sodium"
# The served core's export list and sources, read from wasm/CMakeLists.txt, so a variant exports what
# the JS API (api_post.js) calls.
exports="[$(sed -n '/^set(exported_functions/,/)/p' "$root/wasm/CMakeLists.txt" | sed 's/set(exported_functions//; s/)//' | tr -s ' \n' '\n' | grep '^_' | paste -sd, -)]"
core_sources=$(sed -n 's/^set(core_sources \(.*\))$/\1/p' "$root/wasm/CMakeLists.txt")
[ -n "$core_sources" ] && [ "$exports" != "[]" ] || { echo "wasm_variants: cannot read the core's sources and exports from wasm/CMakeLists.txt" >&2; exit 1; }

# The unpatched blake2b-ref.c for libsodium-ref (written next to the outputs, never into the source):
# the project's patch reverse-applied to the patched file.
unpatch_blake2b() {
  cp "$src/crypto_generichash/blake2b/ref/blake2b-ref.c" "$1"
  patch -R --batch --silent --no-backup-if-mismatch --reject-file=- "$1" "$blake2b_patch" ||
    { echo "wasm_variants: could not reverse-apply $blake2b_patch" >&2; exit 1; }
}

build_variant() {
  local name=$1 cflags=$2 linkflags=$3
  local dir=$out/$name objs=$out/$name/obj
  rm -rf "$dir"
  mkdir -p "$objs"
  local sources
  mapfile -t sources < <(find "$src" -name '*.c' | sort)
  local jobs=0
  for file in "${sources[@]}"; do
    local input=$file
    if [ "$name" = libsodium-ref ] && [ "${file##*/}" = blake2b-ref.c ]; then
      input=$dir/blake2b-ref-unpatched.c
      unpatch_blake2b "$input"
    fi
    local object=$objs/$(echo "${file#"$src"/}" | tr / _).o
    # shellcheck disable=SC2086
    emcc $cflags -fno-strict-aliasing -fno-strict-overflow -w $defines $includes \
      -I"$src/crypto_generichash/blake2b/ref" -c "$input" -o "$object" &
    jobs=$((jobs + 1))
    if [ "$jobs" -ge 2 ]; then wait -n; jobs=$((jobs - 1)); fi
  done
  wait
  emar rcs "$dir/libsodium.a" "$objs"/*.o
  local core_objects=()
  for file in $core_sources; do
    local base=${file##*/}
    # shellcheck disable=SC2086
    em++ $cflags -std=c++20 -DSODIUM_STATIC=1 -I"$root/wasm/include" $includes -c "$root/wasm/$file" -o "$objs/core_${base%.cpp}.o"
    core_objects+=("$objs/core_${base%.cpp}.o")
  done
  # shellcheck disable=SC2086
  em++ $linkflags -sMODULARIZE=1 -sEXPORT_NAME=createResumableCore -sENVIRONMENT=web,worker -sWASM_BIGINT=1 \
    -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=4MB -sTOTAL_STACK=65536 -sFILESYSTEM=0 \
    "-sEXPORTED_FUNCTIONS=$exports" '-sEXPORTED_RUNTIME_METHODS=[]' --post-js "$root/wasm/js/api_post.js" \
    "${core_objects[@]}" "$dir/libsodium.a" -o "$dir/resumable_core.js"
  rm -rf "$objs"
  echo "wasm_variants: built $name ($(stat -c %s "$dir/resumable_core.wasm") bytes of wasm)"
}

variants=${VARIANTS:-project libsodium-ref simd128 O2 lto}
for v in $variants; do
  case $v in
    project)       build_variant project "-O3 -DNDEBUG" "-O3" ;;
    libsodium-ref) build_variant libsodium-ref "-O3 -DNDEBUG" "-O3" ;;
    direct-update) echo "wasm_variants: direct-update is now the project's own build: use the variant project" >&2; exit 2 ;;
    simd128)       build_variant simd128 "-O3 -DNDEBUG -msimd128" "-O3 -msimd128" ;;
    O2)            build_variant O2 "-O2 -DNDEBUG" "-O2" ;;
    lto)           build_variant lto "-O3 -DNDEBUG -flto" "-O3 -flto" ;;
    link-O1)       build_variant link-O1 "-O3 -DNDEBUG" "-O1" ;;
    *) echo "wasm_variants: unknown variant $v" >&2; exit 2 ;;
  esac
done
