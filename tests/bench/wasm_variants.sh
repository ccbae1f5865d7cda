#!/usr/bin/env bash
# Builds variants of the wasm core for the BLAKE2b investigation in docs/BENCHMARKS.md, from the
# libsodium source the project's own wasm build unpacked (BUILD/wasm-build/libsodium-src) and the
# project's wasm/ sources. Nothing in wasm/ is changed; outputs go to OUT/<variant>/resumable_core.{js,wasm}.
#   tests/bench/wasm_variants.sh BUILD_DIR OUT_DIR
# Variants:
#   project        the project's flags (libsodium -O3, core -O3), rebuilt here as the control
#   direct-update  libsodium's blake2b_update compresses whole blocks straight from the input (no copy
#                  into the state's 2-block buffer and no buffer shift per block) and calls
#                  blake2b_compress_ref directly instead of through the function pointer
#   simd128        -msimd128 for libsodium and the core (auto-vectorisation only)
#   O2             -O2 everywhere
#   lto            -flto for libsodium, the core and the link
#   link-O1        objects as `project`, but the link at -O1: binaryen's wasm-opt does (almost) nothing,
#                  so the code V8 sees is LLVM's as it came out of clang
set -euo pipefail
build=$(cd "$1" && pwd)
out=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
src=$build/wasm-build/libsodium-src/src/libsodium
gen=$build/wasm-build/sodium-generated
[ -d "$src" ] || { echo "wasm_variants: no libsodium source in $build/wasm-build (build the project first)" >&2; exit 1; }
export NODE_PATH=/usr/share/nodejs   # emscripten 3.1.6 (Debian) needs acorn from here at -O2 and above
mkdir -p "$out"

defines="-DCONFIGURED=1 -DCPU_UNALIGNED_ACCESS=1 -DHAVE_ALLOCA=1 -DHAVE_ALLOCA_H=1 -DHAVE_ATOMIC_OPS=1
 -DHAVE_C_VARARRAYS=1 -DHAVE_EXPLICIT_BZERO=1 -DHAVE_INLINE_ASM=1 -DHAVE_POSIX_MEMALIGN=1 -DHAVE_SYS_MMAN_H=1
 -DNATIVE_LITTLE_ENDIAN=1 -DSODIUM_STATIC=1"
includes="-I$gen -I$gen/sodium -I$src/include -I$src/include/sodium"
exports='[_rsm_digest_bytes,_rsm_hash_state_bytes,_rsm_hash_state_alignment,_rsm_hash_init,_rsm_hash_update,_rsm_hash_final,_rsm_hash_oneshot,_rsm_chunk_count,_rsm_chunk_span,_rsm_validate_chunk,_malloc,_free]'

# The patched blake2b-ref.c for direct-update (written next to the outputs, never into the source).
patch_blake2b() {
  python3 - "$src/crypto_generichash/blake2b/ref/blake2b-ref.c" "$1" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
start = text.index('int\nblake2b_update(')
end = text.index('\n}\n', start) + 3
direct = '''int
blake2b_update(blake2b_state *S, const uint8_t *in, uint64_t inlen)
{
    size_t left, fill;

    if (inlen == 0U) {
        return 0;
    }
    left = S->buflen;
    if (left > BLAKE2B_BLOCKBYTES) { /* a state left with more than one block buffered */
        blake2b_increment_counter(S, BLAKE2B_BLOCKBYTES);
        blake2b_compress_ref(S, S->buf);
        memmove(S->buf, S->buf + BLAKE2B_BLOCKBYTES, left - BLAKE2B_BLOCKBYTES);
        left -= BLAKE2B_BLOCKBYTES;
        S->buflen = left;
    }
    fill = BLAKE2B_BLOCKBYTES - left;
    if (inlen > fill) {
        memcpy(S->buf + left, in, fill);
        blake2b_increment_counter(S, BLAKE2B_BLOCKBYTES);
        blake2b_compress_ref(S, S->buf);
        S->buflen = 0;
        in += fill;
        inlen -= fill;
        while (inlen > BLAKE2B_BLOCKBYTES) { /* keep the last block for final() */
            blake2b_increment_counter(S, BLAKE2B_BLOCKBYTES);
            blake2b_compress_ref(S, in);
            in += BLAKE2B_BLOCKBYTES;
            inlen -= BLAKE2B_BLOCKBYTES;
        }
    }
    memcpy(S->buf + S->buflen, in, inlen);
    S->buflen += inlen;
    return 0;
}
'''
text = text[:start] + direct + text[end:]
open(sys.argv[2], 'w').write(text)
EOF
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
    if [ "$name" = direct-update ] && [ "${file##*/}" = blake2b-ref.c ]; then
      input=$dir/blake2b-ref-direct.c
      patch_blake2b "$input"
      cp "$src/crypto_generichash/blake2b/ref/"*.h "$dir/"
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
  for file in chunk_geometry digest core_c_api; do
    # shellcheck disable=SC2086
    em++ $cflags -std=c++20 -DSODIUM_STATIC=1 -I"$root/wasm/include" $includes -c "$root/wasm/src/$file.cpp" -o "$objs/core_$file.o"
    core_objects+=("$objs/core_$file.o")
  done
  # shellcheck disable=SC2086
  em++ $linkflags -sMODULARIZE=1 -sEXPORT_NAME=createResumableCore -sENVIRONMENT=web,worker -sWASM_BIGINT=1 \
    -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=4MB -sTOTAL_STACK=65536 -sFILESYSTEM=0 \
    "-sEXPORTED_FUNCTIONS=$exports" '-sEXPORTED_RUNTIME_METHODS=[]' --post-js "$root/wasm/js/api_post.js" \
    "${core_objects[@]}" "$dir/libsodium.a" -o "$dir/resumable_core.js"
  rm -rf "$objs"
  echo "wasm_variants: built $name ($(stat -c %s "$dir/resumable_core.wasm") bytes of wasm)"
}

variants=${VARIANTS:-project direct-update simd128 O2 lto}
for v in $variants; do
  case $v in
    project)       build_variant project "-O3 -DNDEBUG" "-O3" ;;
    direct-update) build_variant direct-update "-O3 -DNDEBUG" "-O3" ;;
    simd128)       build_variant simd128 "-O3 -DNDEBUG -msimd128" "-O3 -msimd128" ;;
    O2)            build_variant O2 "-O2 -DNDEBUG" "-O2" ;;
    lto)           build_variant lto "-O3 -DNDEBUG -flto" "-O3 -flto" ;;
    link-O1)       build_variant link-O1 "-O3 -DNDEBUG" "-O1" ;;
    *) echo "wasm_variants: unknown variant $v" >&2; exit 2 ;;
  esac
done
