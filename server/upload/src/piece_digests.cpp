#include "piece_digests.h"

#include <algorithm>

namespace resumable {

using core::leaf_bytes;

bool piece_is_leaf_aligned(std::uint64_t offset, std::uint64_t size, std::optional<std::uint64_t> total_size) {
  if (total_size) return core::chunk_is_leaf_aligned(offset, size, *total_size);
  return size > 0 && offset % leaf_bytes == 0 && size % leaf_bytes == 0;
}

PieceHasher::PieceHasher(std::uint64_t offset, std::uint64_t size, std::optional<std::uint64_t> total_size,
                         const core::LeafHasher* continued)
    : end_(offset + size), next_at_(offset), total_size_(total_size), aligned_(piece_is_leaf_aligned(offset, size, total_size)), skip_(0) {
  if (continued != nullptr && continued->position() == offset) {
    leaves_ = *continued;
  } else if (offset % leaf_bytes == 0) {
    leaves_ = core::LeafHasher::starting_at(offset);
  } else {
    const std::uint64_t boundary = (offset / leaf_bytes + 1) * leaf_bytes;
    skip_ = std::min(boundary, end_) - offset;
    if (boundary < end_) leaves_ = core::LeafHasher::starting_at(boundary);
  }
  // Without a leaf hasher (a piece inside one leaf) the piece completes no leaf; first_leaf then
  // names the one after the leaf it lies in, as for any piece whose head is left to the frontier.
  result_.first_leaf = leaves_ ? leaves_->position() / leaf_bytes : (offset + leaf_bytes - 1) / leaf_bytes;
  if (aligned_ && size > leaf_bytes) {
    lanes_ = 2;
    result_.leaves.resize((size + leaf_bytes - 1) / leaf_bytes);  // each lane fills its own entries
  }
}

void PieceHasher::update_lane(std::uint64_t at, std::span<const std::uint8_t> bytes) {
  const std::uint64_t leaf = at / leaf_bytes;
  auto& hasher = lane_leaves_[leaf % 2];
  // A new leaf on this lane (the lane's previous one, two back, is complete: its bytes came first).
  if (!hasher || hasher->position() != at) hasher = core::LeafHasher::starting_at(leaf * leaf_bytes);
  hasher->update(bytes, [this](const core::Leaf& done) { result_.leaves[done.index - result_.first_leaf] = done.digest; });
}

void PieceHasher::update(std::span<const std::uint8_t> bytes) {
  if (lanes_ == 2) {
    // Fed in order on one thread (no write-behind pool): the lanes one after the other.
    while (!bytes.empty()) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(bytes.size(), leaf_bytes - next_at_ % leaf_bytes));
      update_lane(next_at_, bytes.first(n));
      next_at_ += n;
      bytes = bytes.subspan(n);
    }
    return;
  }
  if (!aligned_) bytes_.update(bytes);
  const auto skipped = static_cast<std::size_t>(std::min<std::uint64_t>(skip_, bytes.size()));
  skip_ -= skipped;
  bytes = bytes.subspan(skipped);
  if (!leaves_ || bytes.empty()) return;
  leaves_->update(bytes, [this](const core::Leaf& leaf) { result_.leaves.push_back(leaf.digest); });
}

PieceDigests PieceHasher::finish() {
  if (lanes_ == 2) {
    // Only the file's last, shorter leaf can still be open: it ends here.
    for (auto& hasher : lane_leaves_) {
      if (hasher && hasher->position() % leaf_bytes != 0) {
        hasher->finish([this](const core::Leaf& done) { result_.leaves[done.index - result_.first_leaf] = done.digest; });
      }
    }
    result_.chunk_digest = core::chunk_digest_from_leaves(result_.leaves).value_or(core::Digest{});
    return std::move(result_);
  }
  if (leaves_) {
    if (total_size_ && end_ == *total_size_) {
      // The file's last leaf (or the empty file's one leaf) ends here.
      leaves_->finish([this](const core::Leaf& leaf) { result_.leaves.push_back(leaf.digest); });
    } else if (leaves_->position() % leaf_bytes != 0) {
      result_.tail = std::make_unique<core::LeafHasher>(*leaves_);
    }
  }
  if (aligned_) {
    // An aligned piece starts on a boundary, so its leaves are all its own.
    result_.chunk_digest = core::chunk_digest_from_leaves(result_.leaves).value_or(core::Digest{});
  } else {
    result_.chunk_digest = bytes_.finish();
  }
  return std::move(result_);
}

}  // namespace resumable
