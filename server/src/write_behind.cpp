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
    : pool_(pool), buffer_pool_(&buffers), buffers_(pool != nullptr ? buffer_count : 1) {
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

void WriteBehind::process(const Piece& piece, UploadData& data) {
  const std::uint8_t* bytes = buffers_[piece.buffer].data();
  if (piece.file_hash != nullptr) crypto_generichash_update(piece.file_hash, bytes, piece.length);
  StorageStatus status = data.write_at(piece.offset, bytes, piece.length);
  if (!status) {
    std::lock_guard lock(mutex_);
    if (first_error_) first_error_ = std::move(status);
  }
}

void WriteBehind::write(UploadData& data, std::uint64_t offset, std::size_t length, crypto_generichash_state* file_hash) {
  const Piece piece{current_, offset, length, file_hash};
  if (pool_ == nullptr) {
    process(piece, data);
    return;
  }
  bool start_runner = false;
  {
    std::lock_guard lock(mutex_);
    std::erase(free_, piece.buffer);  // busy until the runner has written it
    queue_.push_back(piece);
    ++in_flight_;
    start_runner = !running_;
    running_ = true;
  }
  if (start_runner) pool_->post([this, &data] { run_queue(data); });
}

void WriteBehind::run_queue(UploadData& data) {
  std::unique_lock lock(mutex_);
  while (!queue_.empty()) {
    const Piece piece = queue_.front();
    queue_.pop_front();
    lock.unlock();
    process(piece, data);
    lock.lock();
    free_.push_back(piece.buffer);
    --in_flight_;
    done_.notify_all();
  }
  // Cleared under the lock that drain() waits on: once it sees !running_, this task touches
  // nothing of *this any more.
  running_ = false;
  done_.notify_all();
}

StorageStatus WriteBehind::drain() {
  std::unique_lock lock(mutex_);
  done_.wait(lock, [&] { return in_flight_ == 0 && !running_; });
  return first_error_;
}

bool WriteBehind::failed() {
  std::lock_guard lock(mutex_);
  return !first_error_;
}

}  // namespace resumable
