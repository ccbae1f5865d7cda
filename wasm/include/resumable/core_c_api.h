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
