#include "resumable/core_c_api.h"

#include <sodium.h>

#include <cstring>
#include <new>

#include "resumable/chunk_geometry.h"
#include "resumable/digest.h"
#include "resumable/tree_digest.h"

namespace {

using namespace resumable::core;

crypto_generichash_state* as_state(void* state) {
  const auto address = reinterpret_cast<std::uintptr_t>(state);
  if (state == nullptr || address % alignof(crypto_generichash_state) != 0) return nullptr;
  return static_cast<crypto_generichash_state*>(state);
}

// A hasher object living in memory the caller allocated (and placed there by its init function).
template <typename Hasher>
Hasher* as_hasher(void* memory) {
  const auto address = reinterpret_cast<std::uintptr_t>(memory);
  if (memory == nullptr || address % alignof(Hasher) != 0) return nullptr;
  return std::launder(static_cast<Hasher*>(memory));
}

static_assert(sizeof(BytesChunkHasher) <= sizeof(crypto_generichash_state) &&
              alignof(BytesChunkHasher) <= alignof(crypto_generichash_state),
              "a bytes-chunk hasher fits the hash state callers allocate");

// Leaf lists cross the ABI as contiguous bytes; Digest is an implicit-lifetime array of bytes
// (alignment 1), so the bytes can be viewed as digests.
std::span<const Digest> as_leaves(const uint8_t* leaves, size_t leaf_count) {
  return {reinterpret_cast<const Digest*>(leaves), leaf_count};
}

// Copies leaves reported by a LeafHasher to consecutive digests at out.
struct LeafWriter {
  uint8_t* out;
  size_t* written;
  void operator()(const Leaf& leaf) const {
    std::memcpy(out + *written * digest_bytes, leaf.digest.data(), digest_bytes);
    ++*written;
  }
};

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

size_t rsm_leaf_bytes(void) { return leaf_bytes; }
uint64_t rsm_leaf_count(uint64_t size) { return leaf_count(size); }

int rsm_chunk_is_leaf_aligned(uint64_t offset, uint64_t size, uint64_t total_size) {
  return chunk_is_leaf_aligned(offset, size, total_size) ? 1 : 0;
}

int rsm_leaf_digests(uint8_t* out, size_t out_leaves, const uint8_t* data, size_t length) {
  if (out == nullptr || (data == nullptr && length != 0) || leaf_count(length) > out_leaves) return -1;
  LeafHasher hasher;
  size_t written = 0;
  const LeafWriter write{out, &written};
  hasher.update({data, length}, write);
  hasher.finish(write);
  return 0;
}

size_t rsm_leaf_hasher_bytes(void) { return sizeof(LeafHasher); }
size_t rsm_leaf_hasher_alignment(void) { return alignof(LeafHasher); }

int rsm_leaf_hasher_init(void* hasher, uint64_t file_offset) {
  if (as_hasher<LeafHasher>(hasher) == nullptr) return -1;
  const auto started = LeafHasher::starting_at(file_offset);
  if (!started) return -1;
  new (hasher) LeafHasher(*started);
  return 0;
}

int rsm_leaf_hasher_update(void* hasher, const uint8_t* data, size_t length, uint8_t* out, size_t out_leaves,
                           size_t* written) {
  auto* h = as_hasher<LeafHasher>(hasher);
  if (h == nullptr || (data == nullptr && length != 0) || written == nullptr) return -1;
  const uint64_t completes = (h->position() % leaf_bytes + length) / leaf_bytes;
  if (completes > out_leaves || (completes > 0 && out == nullptr)) return -1;
  *written = 0;
  h->update({data, length}, LeafWriter{out, written});
  return 0;
}

int rsm_leaf_hasher_final(void* hasher, uint8_t* out, size_t* written) {
  auto* h = as_hasher<LeafHasher>(hasher);
  if (h == nullptr || out == nullptr || written == nullptr) return -1;
  *written = 0;
  h->finish(LeafWriter{out, written});
  return 0;
}

int rsm_chunk_digest_from_leaves(uint8_t* out, const uint8_t* leaves, size_t leaf_count) {
  if (out == nullptr || leaves == nullptr) return -1;
  const auto digest = chunk_digest_from_leaves(as_leaves(leaves, leaf_count));
  if (!digest) return -1;
  std::memcpy(out, digest->data(), digest_bytes);
  return 0;
}

int rsm_file_digest_from_leaves(uint8_t* out, const uint8_t* leaves, size_t leaf_count, uint64_t size) {
  if (out == nullptr || leaves == nullptr) return -1;
  const auto digest = file_digest_from_leaves(as_leaves(leaves, leaf_count), size);
  if (!digest) return -1;
  std::memcpy(out, digest->data(), digest_bytes);
  return 0;
}

int rsm_bytes_chunk_init(void* state) {
  if (as_hasher<BytesChunkHasher>(state) == nullptr) return -1;
  new (state) BytesChunkHasher();
  return 0;
}

int rsm_bytes_chunk_update(void* state, const uint8_t* data, size_t length) {
  auto* h = as_hasher<BytesChunkHasher>(state);
  if (h == nullptr || (data == nullptr && length != 0)) return -1;
  h->update({data, length});
  return 0;
}

int rsm_bytes_chunk_final(void* state, uint8_t* out) {
  auto* h = as_hasher<BytesChunkHasher>(state);
  if (h == nullptr || out == nullptr) return -1;
  const Digest digest = h->finish();
  std::memcpy(out, digest.data(), digest_bytes);
  return 0;
}

int rsm_bytes_chunk_digest(uint8_t* out, const uint8_t* data, size_t length) {
  if (out == nullptr || (data == nullptr && length != 0)) return -1;
  BytesChunkHasher hasher;
  hasher.update({data, length});
  const Digest digest = hasher.finish();
  std::memcpy(out, digest.data(), digest_bytes);
  return 0;
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
