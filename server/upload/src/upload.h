// One upload in memory, as the core tracks it (private to the core).
//
// `mutex` guards every field but `data` (a store object, thread-safe as upload_store.h says) and
// `file_hash` (touched only by the thread that holds `hashing`).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "resumable/digest.h"
#include "resumable/upload_store.h"

namespace resumable {

enum class PieceState : std::uint8_t { writing, present };

struct Piece {
  std::uint64_t size = 0;
  PieceState state = PieceState::writing;
  core::Digest digest{};
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

  bool hashing = false;  // a thread is advancing the whole-file hash or releasing
  bool hash_loaded = false;
  std::uint64_t hashed_bytes = 0;  // bytes [0, hashed_bytes) are folded into file_hash
  core::Blake2b256 file_hash;
  std::uint64_t checkpointed_bytes = 0;  // hashed_bytes as of the last checkpoint save (or load)

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

  // The stored piece that starts where the file hash stands, if any.
  const Piece* next_to_hash() const {
    const auto it = pieces.find(hashed_bytes);
    if (it == pieces.end() || it->second.state != PieceState::present || it->second.size == 0) return nullptr;
    return &it->second;
  }
};

}  // namespace resumable
