/* C ABI of the resumable core: what the WebAssembly module exports (and what native C callers
 * may use). Sizes are 64-bit. Functions never throw and never allocate; they return 0 on success
 * and -1 on invalid arguments unless stated otherwise.
 *
 * Hash state: the caller allocates rsm_hash_state_bytes() bytes aligned to
 * rsm_hash_state_alignment(); one state per stream. */
#ifndef RESUMABLE_CORE_C_API_H
#define RESUMABLE_CORE_C_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

size_t rsm_digest_bytes(void);
size_t rsm_hash_state_bytes(void);
size_t rsm_hash_state_alignment(void);

int rsm_hash_init(void* state);
int rsm_hash_update(void* state, const uint8_t* data, size_t length);
/* Writes rsm_digest_bytes() bytes to out and re-initialises the state. */
int rsm_hash_final(void* state, uint8_t* out);
int rsm_hash_oneshot(uint8_t* out, const uint8_t* data, size_t length);

/* The tree digest (docs/digest.md). Leaf lists are leaf_count contiguous 32-byte digests. */
size_t rsm_leaf_bytes(void);
uint64_t rsm_leaf_count(uint64_t size);
/* 1 if the chunk [offset, offset + size) of a file of total_size bytes is leaf-aligned, else 0. */
int rsm_chunk_is_leaf_aligned(uint64_t offset, uint64_t size, uint64_t total_size);
/* Leaf digests of a buffer that starts on a leaf boundary of its file and ends on one or at the
 * file's end (an empty buffer is the empty file): writes rsm_leaf_count(length) digests to out,
 * which has room for out_leaves. */
int rsm_leaf_digests(uint8_t* out, size_t out_leaves, const uint8_t* data, size_t length);
/* Streaming leaf hasher: the caller allocates rsm_leaf_hasher_bytes() bytes aligned to
 * rsm_leaf_hasher_alignment(); init fails unless file_offset is a multiple of rsm_leaf_bytes().
 * update writes the digests of the leaves its bytes complete to out (room for out_leaves;
 * length / rsm_leaf_bytes() + 1 always suffices) and their count to *written; it fails, feeding
 * nothing, if out is too small. final writes the last leaf, if any (room for one), and restarts
 * the hasher at offset 0. */
size_t rsm_leaf_hasher_bytes(void);
size_t rsm_leaf_hasher_alignment(void);
int rsm_leaf_hasher_init(void* hasher, uint64_t file_offset);
int rsm_leaf_hasher_update(void* hasher, const uint8_t* data, size_t length, uint8_t* out, size_t out_leaves,
                           size_t* written);
int rsm_leaf_hasher_final(void* hasher, uint8_t* out, size_t* written);
/* Fails for an empty leaf list (no chunk has one) and, for the file digest, unless leaf_count is
 * rsm_leaf_count(size). */
int rsm_chunk_digest_from_leaves(uint8_t* out, const uint8_t* leaves, size_t leaf_count);
int rsm_file_digest_from_leaves(uint8_t* out, const uint8_t* leaves, size_t leaf_count, uint64_t size);
/* The digest of a chunk that is not leaf-aligned. The state is a hash state as above
 * (rsm_hash_state_bytes, rsm_hash_state_alignment); final re-initialises it for the next chunk. */
int rsm_bytes_chunk_init(void* state);
int rsm_bytes_chunk_update(void* state, const uint8_t* data, size_t length);
int rsm_bytes_chunk_final(void* state, uint8_t* out);
int rsm_bytes_chunk_digest(uint8_t* out, const uint8_t* data, size_t length);

/* Chunk count a client produces; force_chunk_size != 0 selects flow/resumable's forceChunkSize.
 * Returns 0 when chunk_size is 0. */
uint64_t rsm_chunk_count(uint64_t total_size, uint64_t chunk_size, int force_chunk_size);
/* Offset and size of 1-based chunk `number` of the declared geometry (S, C, N). */
int rsm_chunk_span(uint64_t total_size, uint64_t chunk_size, uint64_t chunk_count, uint64_t number,
                   uint64_t* offset, uint64_t* size);
/* Returns a resumable::core::ChunkVerdict value: 0 = ok, 1 = zero chunk size,
 * 2 = inconsistent count, 3 = number out of range, 4 = wrong size. */
int rsm_validate_chunk(uint64_t total_size, uint64_t chunk_size, uint64_t chunk_count, uint64_t number,
                       uint64_t size);

#ifdef __cplusplus
}
#endif

#endif
