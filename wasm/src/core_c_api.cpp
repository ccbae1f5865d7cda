#include "resumable/core_c_api.h"

#include <sodium.h>

#include "resumable/chunk_geometry.h"
#include "resumable/digest.h"

namespace {

using namespace resumable::core;

crypto_generichash_state* as_state(void* state) {
  const auto address = reinterpret_cast<std::uintptr_t>(state);
  if (state == nullptr || address % alignof(crypto_generichash_state) != 0) return nullptr;
  return static_cast<crypto_generichash_state*>(state);
}

}  // namespace

extern "C" {

size_t rsm_digest_bytes(void) { return digest_bytes; }
size_t rsm_hash_state_bytes(void) { return sizeof(crypto_generichash_state); }
size_t rsm_hash_state_alignment(void) { return alignof(crypto_generichash_state); }

int rsm_hash_init(void* state) {
  auto* s = as_state(state);
  if (s == nullptr) return -1;
  return crypto_generichash_init(s, nullptr, 0, digest_bytes) == 0 ? 0 : -1;
}

int rsm_hash_update(void* state, const uint8_t* data, size_t length) {
  auto* s = as_state(state);
  if (s == nullptr || (data == nullptr && length != 0)) return -1;
  if (length == 0) return 0;
  return crypto_generichash_update(s, data, length) == 0 ? 0 : -1;
}

int rsm_hash_final(void* state, uint8_t* out) {
  auto* s = as_state(state);
  if (s == nullptr || out == nullptr) return -1;
  if (crypto_generichash_final(s, out, digest_bytes) != 0) return -1;
  return rsm_hash_init(state);
}

int rsm_hash_oneshot(uint8_t* out, const uint8_t* data, size_t length) {
  if (out == nullptr || (data == nullptr && length != 0)) return -1;
  return crypto_generichash(out, digest_bytes, data, length, nullptr, 0) == 0 ? 0 : -1;
}

uint64_t rsm_chunk_count(uint64_t total_size, uint64_t chunk_size, int force_chunk_size) {
  return chunk_count_for_mode(total_size, chunk_size,
                              force_chunk_size ? ChunkMode::force_chunk_size : ChunkMode::last_absorbs_remainder);
}

int rsm_chunk_span(uint64_t total_size, uint64_t chunk_size, uint64_t chunk_count, uint64_t number,
                   uint64_t* offset, uint64_t* size) {
  if (offset == nullptr || size == nullptr) return -1;
  const auto geometry = ChunkGeometry::from_declared(total_size, chunk_size, chunk_count);
  if (!geometry) return -1;
  const auto span = geometry->span(number);
  if (!span) return -1;
  *offset = span->offset;
  *size = span->size;
  return 0;
}

int rsm_validate_chunk(uint64_t total_size, uint64_t chunk_size, uint64_t chunk_count, uint64_t number,
                       uint64_t size) {
  return static_cast<int>(validate_chunk(total_size, chunk_size, chunk_count, number, size));
}

}  // extern "C"
