// Write-behind for piece bodies: while a request thread receives a part of a body, earlier parts
// are hashed into the piece's digests (PieceHasher: its leaves, one pass; alternate leaves on two
// pool threads for leaf-aligned pieces) and written to the store by pool threads. Receiving,
// hashing and writing thus overlap on all cores instead of running one after another on the
// request thread.
//
// WritePool is shared by a core; WriteBehind belongs to one request (one thread uses it) and
// leases a fixed ring of buffers from the core's BufferPool, so memory per request is bounded by
// buffer_count × buffer_bytes. Writes run in any order, several at once; each hashing lane takes
// its parts strictly in order (one task at a time per lane and request).
//
// Built without RESUMABLE_WITH_WRITE_BEHIND there is no WritePool: the ring is one buffer and
// every part is hashed and written on the request thread (the synchronous path).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "resumable/buffer_pool.h"
#include "piece_digests.h"
#include "resumable/upload_store.h"

namespace resumable {

#if RESUMABLE_WITH_WRITE_BEHIND
class WritePool {
 public:
  explicit WritePool(std::size_t threads);
  ~WritePool();  // finishes queued tasks, then joins
  WritePool(const WritePool&) = delete;
  WritePool& operator=(const WritePool&) = delete;
  void post(std::function<void()> task);

 private:
  void run();
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};
#else
class WritePool final {};  // not built: never made, every WriteBehind is synchronous
#endif

// The rings in use and the buffers they may hold, shared by all requests of one core: a ring's
// depth is chosen from them when it is made (UploadCore::Impl::make_ring) and counted until it
// is destroyed. Relaxed atomics: the depth is a sizing heuristic, not a lock.
struct RingBudget {
  std::atomic<std::size_t> rings{0};
  std::atomic<std::size_t> buffers{0};
};

class WriteBehind {
 public:
  // pool == nullptr: every piece is hashed and written synchronously in write(), with one buffer.
  // `budget`, when given, counts this ring and its buffers from construction to destruction.
  WriteBehind(WritePool* pool, BufferPool& buffers, std::size_t buffer_count, RingBudget* budget = nullptr);
  ~WriteBehind();  // waits for queued writes, then gives the buffers back
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;

  // A free buffer to receive into; waits while all are queued for writing.
  std::span<std::uint8_t> next_buffer();
  // The buffer the last next_buffer() returned.
  std::span<std::uint8_t> current_buffer() const { return buffers_[current_].span(); }
  // Feeds the first `length` bytes of the buffer last returned by next_buffer() to `hasher`
  // (unless null) and writes them at `offset`. The caller must not touch `hasher` again before
  // drain().
  void write(StoredUpload& data, std::uint64_t offset, std::size_t length, PieceHasher* hasher);
  // Waits until every queued piece is done; the first failure, if any.
  StorageStatus drain();
  // After drain(): reads [offset, offset + length) of `data` back in pieces of one buffer, up to
  // every buffer of the ring ahead on the pool, and hands them to `consume` in order on this
  // thread. Stops at the first failed read and returns it.
  StorageStatus read_in_order(ReadBack& source, std::uint64_t offset, std::uint64_t length,
                              const std::function<void(std::span<const std::uint8_t>)>& consume);
  // A queued write already failed (checked without waiting).
  bool failed();

 private:
  // Bytes [start, start + length) of a buffer, at file offset `at`, for one hashing lane.
  struct HashPiece {
    std::size_t buffer;
    std::size_t start;
    std::size_t length;
    std::uint64_t at;
    PieceHasher* hasher;
  };
  void piece_done(std::size_t index);
  void run_hasher(std::size_t lane);

  RingBudget* budget_;
  WritePool* pool_;
  BufferPool* buffer_pool_;
  std::vector<PageBuffer> buffers_;  // leased on first use
  std::vector<std::size_t> free_;    // indexes of free buffers
  std::size_t current_ = 0;          // buffer handed out by next_buffer()
  std::vector<int> pending_;          // per buffer: write and hash jobs not yet done
  std::vector<std::uint64_t> read_piece_;   // per buffer: which piece a read-ahead fills
  std::vector<char> read_done_;             // per buffer: that read has finished
  std::vector<StorageStatus> read_status_;  // per buffer: and its outcome
  // Per hashing lane (PieceHasher::lanes(): leaf-aligned pieces hash alternate leaves on two).
  std::deque<HashPiece> hash_queue_[2];
  bool hashing_[2] = {false, false};  // a pool task is working through that lane's queue
  std::size_t in_flight_ = 0;        // buffers queued or being processed
  StorageStatus first_error_;
  std::mutex mutex_;
  std::condition_variable done_;
};

// Stored bytes read back in order, for the digest frontier (pieces that arrived ahead of it):
// through one buffer, one part after the other, or through a request's WriteBehind ring with
// reads running ahead on the pool while the caller hashes.
class OrderedReader {
 public:
  explicit OrderedReader(std::span<std::uint8_t> buffer) : buffer_(buffer) {}
  explicit OrderedReader(WriteBehind& ring) : ring_(&ring) {}
  StorageStatus read(ReadBack& source, std::uint64_t offset, std::uint64_t length,
                     const std::function<void(std::span<const std::uint8_t>)>& consume);

 private:
  std::span<std::uint8_t> buffer_;
  WriteBehind* ring_ = nullptr;
};

}  // namespace resumable
