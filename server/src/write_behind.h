// Write-behind for chunk bodies: while a request thread receives and hashes the next piece of a
// body, earlier pieces are written to storage by a small pool of threads, so receiving, hashing
// and writing overlap instead of running one after another on one thread.
//
// WritePool is shared by an endpoint; WriteBehind belongs to one request (one thread uses it) and
// owns a fixed ring of buffers, so memory per request is bounded: buffer_count × buffer_bytes.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "resumable/storage.h"

namespace resumable {

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

class WriteBehind {
 public:
  // pool == nullptr: every write happens synchronously in write().
  WriteBehind(WritePool* pool, std::size_t buffer_bytes, std::size_t buffer_count);
  ~WriteBehind();  // waits for queued writes
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;

  // A free buffer to receive into; waits while all are queued for writing.
  std::span<std::uint8_t> next_buffer();
  // Writes the first `length` bytes of the buffer last returned by next_buffer() at `offset`.
  void write(UploadData& data, std::uint64_t offset, std::size_t length);
  // Waits until every queued write is done; the first failure, if any.
  StorageStatus drain();
  // A queued write already failed (checked without waiting).
  bool failed();

 private:
  WritePool* pool_;
  std::size_t buffer_bytes_;
  std::vector<std::vector<std::uint8_t>> buffers_;
  std::vector<std::size_t> free_;  // indexes of free buffers
  std::size_t current_ = 0;        // buffer handed out by next_buffer()
  std::size_t in_flight_ = 0;
  StorageStatus first_error_;
  std::mutex mutex_;
  std::condition_variable done_;
};

}  // namespace resumable
