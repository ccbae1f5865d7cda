#include "resumable/tree_digest.h"

#include <algorithm>
#include <array>
#include <type_traits>

namespace resumable::core {

namespace {

// BLAKE2b personalization: the domain's ASCII name, zero-padded to 16 bytes (Python's hashlib pads
// a shorter `person` the same way, so the reference needs no padding of its own).
using Personal = std::array<unsigned char, crypto_generichash_blake2b_PERSONALBYTES>;

template <std::size_t N>
constexpr Personal personal(const char (&name)[N]) {
  static_assert(N - 1 <= std::tuple_size_v<Personal>, "a personalization has at most 16 bytes");
  Personal out{};
  for (std::size_t i = 0; i + 1 < N; ++i) out[i] = static_cast<unsigned char>(name[i]);
  return out;
}

constexpr Personal leaf_domain = personal("rsm-leaf-v1");
constexpr Personal chunk_domain = personal("rsm-chunk-v1");
constexpr Personal root_domain = personal("rsm-root-v1");
constexpr Personal bytes_domain = personal("rsm-bytes-v1");

// No key, an all-zero salt (libsodium zero-fills a null salt), a 32-byte digest. Cannot fail for
// these arguments.
void hash_init(crypto_generichash_blake2b_state& state, const Personal& domain) {
  crypto_generichash_blake2b_init_salt_personal(&state, nullptr, 0, digest_bytes, nullptr, domain.data());
}

void hash_update(crypto_generichash_blake2b_state& state, const void* data, std::size_t length) {
  if (length == 0) return;
  crypto_generichash_blake2b_update(&state, static_cast<const unsigned char*>(data), length);
}

Digest hash_final(crypto_generichash_blake2b_state& state) {
  Digest out{};
  crypto_generichash_blake2b_final(&state, out.data(), out.size());
  return out;
}

}  // namespace

static_assert(std::is_trivially_copyable_v<LeafHasher> && std::is_trivially_destructible_v<LeafHasher>);
static_assert(std::is_trivially_copyable_v<BytesChunkHasher> && std::is_trivially_copyable_v<FileDigestHasher>);
static_assert(sizeof(Digest) == digest_bytes, "leaf lists are contiguous 32-byte digests");

std::uint64_t leaf_count(std::uint64_t size) {
  return size == 0 ? 1 : size / leaf_bytes + (size % leaf_bytes != 0 ? 1 : 0);
}

bool chunk_is_leaf_aligned(std::uint64_t offset, std::uint64_t size, std::uint64_t total_size) {
  if (offset > total_size || size > total_size - offset) return false;
  if (size == 0) return total_size == 0;
  return offset % leaf_bytes == 0 && (size % leaf_bytes == 0 || offset + size == total_size);
}

std::optional<LeafHasher> LeafHasher::starting_at(std::uint64_t file_offset) {
  if (file_offset % leaf_bytes != 0) return std::nullopt;
  LeafHasher hasher;
  hasher.reset_at(file_offset / leaf_bytes);
  return hasher;
}

void LeafHasher::reset_at(std::uint64_t leaf_index) {
  hash_init(state_, leaf_domain);
  next_index_ = leaf_index;
  filled_ = 0;
}

std::size_t LeafHasher::absorb(std::span<const std::uint8_t> bytes) {
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(bytes.size(), leaf_bytes - filled_));
  hash_update(state_, bytes.data(), n);
  filled_ += n;
  return n;
}

Leaf LeafHasher::complete_leaf() {
  const Leaf leaf{next_index_, hash_final(state_)};
  reset_at(next_index_ + 1);
  return leaf;
}

std::optional<Digest> chunk_digest_from_leaves(std::span<const Digest> leaves) {
  if (leaves.empty()) return std::nullopt;
  crypto_generichash_blake2b_state state;
  hash_init(state, chunk_domain);
  hash_update(state, leaves.data(), leaves.size_bytes());
  return hash_final(state);
}

void BytesChunkHasher::reset() { hash_init(state_, bytes_domain); }

void BytesChunkHasher::update(std::span<const std::uint8_t> bytes) {
  hash_update(state_, bytes.data(), bytes.size());
}

Digest BytesChunkHasher::finish() {
  const Digest out = hash_final(state_);
  reset();
  return out;
}

void FileDigestHasher::reset() {
  hash_init(state_, root_domain);
  leaves_ = 0;
}

void FileDigestHasher::add_leaf(const Digest& leaf) {
  hash_update(state_, leaf.data(), leaf.size());
  ++leaves_;
}

std::optional<Digest> FileDigestHasher::finish(std::uint64_t size) {
  const bool complete = leaves_ == leaf_count(size);
  std::array<std::uint8_t, 8> size_le{};
  for (std::size_t i = 0; i < size_le.size(); ++i) size_le[i] = static_cast<std::uint8_t>(size >> (8 * i));
  hash_update(state_, size_le.data(), size_le.size());
  const Digest out = hash_final(state_);
  reset();
  if (!complete) return std::nullopt;
  return out;
}

std::optional<Digest> file_digest_from_leaves(std::span<const Digest> leaves, std::uint64_t size) {
  if (leaves.size() != leaf_count(size)) return std::nullopt;
  FileDigestHasher hasher;
  for (const Digest& leaf : leaves) hasher.add_leaf(leaf);
  return hasher.finish(size);
}

std::optional<Digest> chunk_digest(std::span<const std::uint8_t> chunk, std::uint64_t offset,
                                   std::uint64_t total_size) {
  const std::uint64_t size = chunk.size();
  if (offset > total_size || size > total_size - offset || (size == 0 && total_size != 0)) return std::nullopt;
  if (!chunk_is_leaf_aligned(offset, size, total_size)) {
    BytesChunkHasher hasher;
    hasher.update(chunk);
    return hasher.finish();
  }
  crypto_generichash_blake2b_state state;
  hash_init(state, chunk_domain);
  LeafHasher leaves;  // leaf digests do not depend on their index: hash from offset 0 of the chunk
  const auto add = [&state](const Leaf& leaf) { hash_update(state, leaf.digest.data(), leaf.digest.size()); };
  leaves.update(chunk, add);
  leaves.finish(add);
  return hash_final(state);
}

Digest file_digest(std::span<const std::uint8_t> file) {
  FileDigestHasher root;
  LeafHasher leaves;
  const auto add = [&root](const Leaf& leaf) { root.add_leaf(leaf.digest); };
  leaves.update(file, add);
  leaves.finish(add);
  return *root.finish(file.size());  // a whole file always gives leaf_count(size) leaves
}

}  // namespace resumable::core
