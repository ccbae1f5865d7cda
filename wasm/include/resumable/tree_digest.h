// The tree digest (docs/digest.md): the file is cut into 1 MiB leaves; each leaf, a leaf-aligned
// chunk's leaf list, an unaligned chunk's bytes and the file's leaf list plus size are hashed with
// BLAKE2b-256 under four personalization domains, so the file digest is a cheap function of the
// leaf digests and does not depend on the chunk size.
//
// Hashers hold fixed-size state (64-byte aligned, no heap, trivially copyable); one instance per
// stream, not shared between threads without locking; distinct instances are independent. No
// function throws: invalid arguments give nullopt or false.
#pragma once

#include "resumable/digest.h"

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace resumable::core {

inline constexpr std::uint64_t leaf_bytes = 1 << 20;
// The digest's name where a result says which digest it carries (docs/protocol.md).
inline constexpr const char* tree_digest_name = "rsm-tree-v1";

// max(1, ceil(size / leaf_bytes)): the empty file has one (empty) leaf.
std::uint64_t leaf_count(std::uint64_t size);

// Whether the chunk [offset, offset + size) of a file of total_size bytes starts on a leaf boundary
// and ends on one or at the end of the file, so that its digest comes from its leaves. False for a
// range outside the file and for an empty range, except [0, 0) of the empty file.
bool chunk_is_leaf_aligned(std::uint64_t offset, std::uint64_t size, std::uint64_t total_size);

struct Leaf {
  std::uint64_t index = 0;  // the leaf's number in the file: its offset / leaf_bytes
  Digest digest{};
};

// Leaf digests of a byte stream fed in any split, from a leaf boundary of the file on. A leaf's
// digest is reported as soon as its 1 MiB is complete; finish() reports the last, shorter one.
class LeafHasher {
 public:
  // Starts at offset 0 of the file.
  LeafHasher() { reset_at(0); }
  // Starts at `file_offset`, which must be a multiple of leaf_bytes (nullopt otherwise), so that a
  // leaf-aligned chunk can be hashed on its own.
  static std::optional<LeafHasher> starting_at(std::uint64_t file_offset);

  // Feeds bytes; calls on_leaf(const Leaf&) for each leaf they complete, in order.
  template <typename OnLeaf>
  void update(std::span<const std::uint8_t> bytes, OnLeaf&& on_leaf) {
    while (!bytes.empty()) {
      const std::size_t used = absorb(bytes);
      bytes = bytes.subspan(used);
      if (filled_ == leaf_bytes) on_leaf(complete_leaf());
    }
  }
  // Ends the stream: calls on_leaf for the pending shorter leaf if there is one, or for the empty
  // file's one empty leaf if the hasher started at offset 0 and was fed nothing; otherwise for none.
  // The hasher then starts again at offset 0.
  template <typename OnLeaf>
  void finish(OnLeaf&& on_leaf) {
    if (filled_ > 0 || position() == 0) on_leaf(complete_leaf());
    reset_at(0);
  }

  // The file offset the next byte fed belongs at.
  std::uint64_t position() const { return next_index_ * leaf_bytes + filled_; }

 private:
  void reset_at(std::uint64_t leaf_index);
  std::size_t absorb(std::span<const std::uint8_t> bytes);  // up to the end of the current leaf
  Leaf complete_leaf();

  crypto_generichash_blake2b_state state_;  // CRYPTO_ALIGN(64) in libsodium's header
  std::uint64_t next_index_ = 0;
  std::uint64_t filled_ = 0;  // bytes of the current leaf fed so far
};

// The digest of a leaf-aligned chunk from its leaves' digests, in order; nullopt if there are none.
std::optional<Digest> chunk_digest_from_leaves(std::span<const Digest> leaves);

// The digest of a chunk that is not leaf-aligned: its bytes under the bytes domain, fed in any split.
class BytesChunkHasher {
 public:
  BytesChunkHasher() { reset(); }
  void reset();
  void update(std::span<const std::uint8_t> bytes);
  // Returns the digest and resets the state for the next chunk.
  Digest finish();

 private:
  crypto_generichash_blake2b_state state_;
};

// The file digest from all of the file's leaf digests, in order, and its size; nullopt unless there
// are exactly leaf_count(size) of them.
std::optional<Digest> file_digest_from_leaves(std::span<const Digest> leaves, std::uint64_t size);

// The same, with the leaf digests added one by one (memory does not grow with the file).
class FileDigestHasher {
 public:
  FileDigestHasher() { reset(); }
  void reset();
  void add_leaf(const Digest& leaf);
  // nullopt unless exactly leaf_count(size) leaves were added. Resets the state either way.
  std::optional<Digest> finish(std::uint64_t size);

 private:
  crypto_generichash_blake2b_state state_;
  std::uint64_t leaves_ = 0;
};

// The digest of a whole chunk in memory, at `offset` of a file of total_size bytes, by whichever rule
// applies; nullopt if the chunk is not a chunk of such a file (outside it, or empty in a non-empty one).
std::optional<Digest> chunk_digest(std::span<const std::uint8_t> chunk, std::uint64_t offset,
                                   std::uint64_t total_size);

// The file digest of a whole file in memory.
Digest file_digest(std::span<const std::uint8_t> file);

}  // namespace resumable::core
