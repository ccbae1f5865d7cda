// One upload in memory, as the core tracks it (private to the core).
//
// `mutex` guards every field but `data` (a store object, thread-safe as upload_store.h says) and
// the frontier's `partial` and `root` (touched only by the thread that holds `advancing`).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "resumable/digest.h"
#include "piece_digests.h"
#include "resumable/upload_store.h"

namespace resumable {

enum class PieceState : std::uint8_t { writing, present };

struct Piece {
  std::uint64_t size = 0;
  PieceState state = PieceState::writing;
  core::Digest digest{};
  // The leaf digests the piece completed (leaves[0] is leaf number first_leaf) and the state of the
  // leaf it ends inside of: what the digest frontier needs to pass it without reading its bytes.
  // Released once the frontier has passed it.
  std::uint64_t first_leaf = 0;
  std::vector<core::Digest> leaves;
  std::unique_ptr<core::LeafHasher> tail;
  bool continued = false;  // written against the frontier's leaf state (its head leaf is its own)
  // Its bytes went through this process's hasher, or a durable store recorded it after its bytes
  // (PieceRecord, RecordedUpload::pieces_durable); otherwise the frontier reads it back and checks it.
  bool trusted = true;
};

// Where a requested byte range falls among an upload's pieces.
enum class PieceFit : std::uint8_t {
  free,      // overlaps no piece
  same,      // exactly a piece being written or stored
  overlaps,  // part of one or more pieces: a client bug or a hostile request
};

struct Upload {
  std::mutex mutex;
  std::condition_variable changed;
  std::unique_ptr<StoredUpload> data;
  UploadManifest manifest;
  std::map<std::uint64_t, Piece> pieces;  // by offset: being written or present
  std::uint64_t stored_pieces = 0;
  std::uint64_t stored_bytes = 0;
  std::size_t active_writers = 0;
  std::chrono::system_clock::time_point last_activity;

  // Stored pieces tile [0, frontier.offset) and their leaves are folded into the file digest. One
  // thread at a time advances it, writes the next piece against it, or releases: the one that set
  // `advancing`.
  bool advancing = false;
  DigestFrontier frontier;
  // A partial upload (manifest.partial): every leaf the frontier folded, in order (32 bytes a MiB),
  // from which concatenate() computes the final upload's digest. Touched by the `advancing` holder.
  std::vector<core::Digest> kept_leaves;

  std::optional<FinalRecord> final;
  bool removed = false;  // cancelled, collected or claimed: writers and waiters give up

  // Started by a piece that came right after a cancel of the same upload (limits.cancelled_grace).
  // Set before the upload is indexed; cleared under both `mutex` and the index's mutex.
  bool provisional = false;
  bool counts_as_unfinished = false;  // guarded by the UploadIndex's mutex, not by `mutex`

  PieceFit fit(std::uint64_t offset, std::uint64_t size) const {
    auto next = pieces.lower_bound(offset);
    if (next != pieces.end() && next->first == offset) {
      return next->second.size == size ? PieceFit::same : PieceFit::overlaps;
    }
    if (next != pieces.end() && size > 0 && next->first < offset + size) return PieceFit::overlaps;
    if (next != pieces.begin()) {
      const auto previous = std::prev(next);
      if (previous->first + previous->second.size > offset) return PieceFit::overlaps;
    }
    return PieceFit::free;
  }

  // Every byte is stored (and at least one piece: an empty file is one empty piece).
  bool fully_received() const {
    return manifest.total_size && stored_pieces > 0 && stored_bytes == *manifest.total_size;
  }

  // A partial upload with every byte in and passed: it waits for concatenate().
  bool joinable() const {
    return manifest.partial && fully_received() && all_leaves_folded() && kept_leaves.size() == frontier.folded_leaves;
  }

  // Every leaf of the file is folded: the file digest is root's.
  bool all_leaves_folded() const {
    return manifest.total_size && frontier.offset == *manifest.total_size &&
           frontier.folded_leaves == core::leaf_count(frontier.offset);
  }

  // The stored piece the frontier passes next, if any.
  Piece* next_to_pass() {
    if (all_leaves_folded()) return nullptr;
    const auto it = pieces.find(frontier.offset);
    if (it == pieces.end() || it->second.state != PieceState::present) return nullptr;
    if (it->second.size == 0 && frontier.folded_leaves > 0) return nullptr;  // only the empty file's piece is empty
    return &it->second;
  }
};

}  // namespace resumable
