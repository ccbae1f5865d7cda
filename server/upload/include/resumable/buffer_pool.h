// Page-aligned I/O buffers shared by all requests of an upload core.
//
// Why a pool: a request's body buffers would otherwise come from the malloc arena of whichever
// server thread served it, and glibc keeps those pages resident per thread, so peak RSS grew with
// the thread count instead of with the number of requests actually receiving at once. The pool
// hands buffers from request to request, keeps at most `keep_idle` of them, and unmaps the rest.
// Page alignment lets a store write them with O_DIRECT.
//
// Built without RESUMABLE_WITH_BUFFER_POOL (small devices, no mmap), buffers come from the heap
// (page-aligned operator new) and none are kept between requests. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

namespace resumable {

// One page-aligned buffer (mmap'ed, or from the heap without the pool); freed on destruction.
// Empty (data() == nullptr) when memory could not be had.
class PageBuffer {
 public:
  PageBuffer() = default;
  explicit PageBuffer(std::size_t bytes);
  ~PageBuffer();
  PageBuffer(PageBuffer&& other) noexcept;
  PageBuffer& operator=(PageBuffer&& other) noexcept;
  PageBuffer(const PageBuffer&) = delete;
  PageBuffer& operator=(const PageBuffer&) = delete;

  std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::span<std::uint8_t> span() const { return {data_, size_}; }
  explicit operator bool() const { return data_ != nullptr; }

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

class BufferPool {
 public:
  BufferPool(std::size_t buffer_bytes, std::size_t keep_idle);
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // An idle buffer, or a new one; throws std::bad_alloc when memory cannot be mapped.
  PageBuffer acquire();
  // Keeps the buffer for the next request, or unmaps it when `keep_idle` are already kept.
  void give_back(PageBuffer buffer);

  std::size_t buffer_bytes() const { return buffer_bytes_; }

 private:
  std::size_t buffer_bytes_;
  std::size_t keep_idle_;
  std::mutex mutex_;
  std::vector<PageBuffer> idle_;
};

// A buffer leased from a pool for one scope.
class BufferLease {
 public:
  explicit BufferLease(BufferPool& pool) : pool_(&pool), buffer_(pool.acquire()) {}
  ~BufferLease() {
    if (pool_ != nullptr) pool_->give_back(std::move(buffer_));
  }
  BufferLease(BufferLease&& other) noexcept : pool_(std::exchange(other.pool_, nullptr)), buffer_(std::move(other.buffer_)) {}
  BufferLease& operator=(BufferLease&&) = delete;
  BufferLease(const BufferLease&) = delete;
  BufferLease& operator=(const BufferLease&) = delete;
  std::span<std::uint8_t> span() const { return buffer_.span(); }

 private:
  BufferPool* pool_;
  PageBuffer buffer_;
};

}  // namespace resumable
