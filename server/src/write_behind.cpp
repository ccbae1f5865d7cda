#include "write_behind.h"

namespace resumable {

WritePool::WritePool(std::size_t threads) {
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

WritePool::~WritePool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& thread : threads_) thread.join();
}

void WritePool::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
}

void WritePool::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, and nothing left to do
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

WriteBehind::WriteBehind(WritePool* pool, BufferPool& buffers, std::size_t buffer_count)
    : pool_(pool), buffer_pool_(&buffers), buffers_(pool != nullptr ? buffer_count : 1), pending_(buffers_.size(), 0) {
  for (std::size_t i = buffers_.size(); i > 0; --i) free_.push_back(i - 1);
}

WriteBehind::~WriteBehind() {
  drain();
  for (auto& buffer : buffers_) buffer_pool_->give_back(std::move(buffer));
}

std::span<std::uint8_t> WriteBehind::next_buffer() {
  std::unique_lock lock(mutex_);
  done_.wait(lock, [&] { return !free_.empty(); });
  current_ = free_.back();
  auto& buffer = buffers_[current_];
  if (!buffer) buffer = buffer_pool_->acquire();  // leased on first use only; may throw bad_alloc
  // Stays on the free list until write() queues it; the caller uses exactly one buffer at a time.
  return buffer.span();
}

void WriteBehind::write(UploadData& data, std::uint64_t offset, std::size_t length, crypto_generichash_state* file_hash) {
  const std::size_t index = current_;
  const std::uint8_t* bytes = buffers_[index].data();
  if (pool_ == nullptr) {
    if (file_hash != nullptr) crypto_generichash_update(file_hash, bytes, length);
    if (StorageStatus status = data.write_at(offset, bytes, length); !status) {
      std::lock_guard lock(mutex_);
      if (first_error_) first_error_ = std::move(status);
    }
    return;
  }
  bool start_hasher = false;
  {
    std::lock_guard lock(mutex_);
    std::erase(free_, index);  // busy until written (and hashed)
    ++in_flight_;
    pending_[index] = file_hash != nullptr ? 2 : 1;
    if (file_hash != nullptr) {
      hash_queue_.push_back({index, length, file_hash});
      start_hasher = !hashing_;
      hashing_ = true;
    }
  }
  // Writes need no order (disjoint ranges) and mostly wait for the device: any pool thread may
  // take them, several at once. The file hash needs order: one runner per request works through
  // hash_queue_.
  pool_->post([this, &data, index, offset, length] {
    StorageStatus status = data.write_at(offset, buffers_[index].data(), length);
    std::lock_guard lock(mutex_);
    if (!status && first_error_) first_error_ = std::move(status);
    piece_done(index);
  });
  if (start_hasher) pool_->post([this] { run_hasher(); });
}

void WriteBehind::piece_done(std::size_t index) {
  // Called with mutex_ held.
  if (--pending_[index] > 0) return;
  free_.push_back(index);
  --in_flight_;
  done_.notify_all();
}

void WriteBehind::run_hasher() {
  std::unique_lock lock(mutex_);
  while (!hash_queue_.empty()) {
    const HashPiece piece = hash_queue_.front();
    hash_queue_.pop_front();
    lock.unlock();
    crypto_generichash_update(piece.file_hash, buffers_[piece.buffer].data(), piece.length);
    lock.lock();
    piece_done(piece.buffer);
  }
  // Cleared under the lock that drain() waits on: once it sees !hashing_, this task touches
  // nothing of *this any more.
  hashing_ = false;
  done_.notify_all();
}

StorageStatus WriteBehind::drain() {
  std::unique_lock lock(mutex_);
  done_.wait(lock, [&] { return in_flight_ == 0 && !hashing_; });
  return first_error_;
}

bool WriteBehind::failed() {
  std::lock_guard lock(mutex_);
  return !first_error_;
}

}  // namespace resumable
