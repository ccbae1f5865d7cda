// The tree digests (docs/digest.md) of one piece's bytes as they stream: its chunk digest and the
// leaf digests it completes. A leaf-aligned piece hashes each byte once (its chunk digest comes
// from its leaves); an unaligned one twice (its leaves, and its bytes under the bytes domain).
//
// Leaves are cut at file offsets, not at piece bounds: a piece that starts inside a leaf continues
// that leaf only when it is handed the leaf's state so far (the digest frontier, when the piece is
// next in line); otherwise its bytes up to its first leaf boundary (its head) are left to the
// frontier, which reads them back. A piece that ends inside a leaf, short of the file's end, keeps
// that leaf's state (its tail) for the piece after it.
//
// One instance per piece, used by one thread at a time; no heap use but the leaf list. Never throws
// but std::bad_alloc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "resumable/tree_digest.h"

namespace resumable {

// Whether a piece's digest is the chunk domain over its leaves. With the file's size unknown, a
// piece counts as leaf-aligned when it starts and ends on leaf boundaries.
bool piece_is_leaf_aligned(std::uint64_t offset, std::uint64_t size, std::optional<std::uint64_t> total_size);

struct PieceDigests {
  core::Digest chunk_digest{};
  std::uint64_t first_leaf = 0;      // the index of leaves[0]
  std::vector<core::Digest> leaves;  // the leaves this piece completed, in order
  // The state of the leaf the piece ends inside of, when it ends inside one before the file's end
  // and that leaf's start was hashed (the piece holds a leaf boundary, or continued the frontier).
  std::unique_ptr<core::LeafHasher> tail;
};

// Where the file digest stands: the pieces of [0, offset) are passed, and every leaf that ends at
// or before `offset` is folded into `root`.
struct DigestFrontier {
  std::uint64_t offset = 0;
  std::uint64_t folded_leaves = 0;
  std::optional<core::LeafHasher> partial;  // the leaf `offset` lies inside of, when it does
  core::FileDigestHasher root;
  // A partial upload's leaves are kept for its concatenation (Upload::kept_leaves): fold() also
  // collects them here, and the frontier's holder moves them on once a pass succeeded.
  bool keep_leaves = false;
  std::vector<core::Digest> recent;

  void fold(const core::Digest& leaf) {
    root.add_leaf(leaf);
    ++folded_leaves;
    if (keep_leaves) recent.push_back(leaf);
  }
  // The file digest once every leaf of a file of `size` bytes is folded (nullopt otherwise).
  std::optional<core::Digest> file_digest(std::uint64_t size) const {
    core::FileDigestHasher copy = root;
    return copy.finish(size);
  }
};

class PieceHasher {
 public:
  // `continued`: the frontier's state of the leaf that `offset` lies inside of (its position() is
  // `offset`), or null.
  PieceHasher(std::uint64_t offset, std::uint64_t size, std::optional<std::uint64_t> total_size,
              const core::LeafHasher* continued);
  // Bytes of the piece, in order, in any split.
  void update(std::span<const std::uint8_t> bytes);

  // A leaf-aligned piece of more than one leaf can be hashed on two lanes at once, leaf i on lane
  // i % 2, so that one stream's hashing spreads over two cores: then lanes() is 2, and its bytes go
  // to update_lane() instead of update(), each lane's bytes in order, the two lanes on any threads
  // (one thread per lane at a time).
  std::size_t lanes() const { return lanes_; }
  // Bytes at file offset `at`, all inside one leaf.
  void update_lane(std::uint64_t at, std::span<const std::uint8_t> bytes);
  // After the piece's `size` bytes; the hasher is spent.
  PieceDigests finish();

 private:
  std::uint64_t end_;
  std::uint64_t next_at_;  // update() with two lanes: the file offset of the next byte
  std::optional<std::uint64_t> total_size_;
  bool aligned_;
  std::uint64_t skip_;  // head bytes still to pass over unhashed (no frontier state given)
  std::optional<core::LeafHasher> leaves_;
  core::BytesChunkHasher bytes_;  // unaligned pieces only
  std::size_t lanes_ = 1;
  std::optional<core::LeafHasher> lane_leaves_[2];  // with two lanes: the leaf each lane is in
  PieceDigests result_;
};

}  // namespace resumable
