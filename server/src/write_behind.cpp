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

WriteBehind::WriteBehind(WritePool* pool, std::size_t buffer_bytes, std::size_t buffer_count)
    : pool_(pool), buffer_bytes_(buffer_bytes), buffers_(pool != nullptr ? buffer_count : 1) {
  for (std::size_t i = buffers_.size(); i > 0; --i) free_.push_back(i - 1);
}

WriteBehind::~WriteBehind() { drain(); }

std::span<std::uint8_t> WriteBehind::next_buffer() {
  std::unique_lock lock(mutex_);
  done_.wait(lock, [&] { return !free_.empty(); });
  current_ = free_.back();
  free_.pop_back();
  auto& buffer = buffers_[current_];
  if (buffer.empty()) buffer.resize(buffer_bytes_);  // allocated on first use only
  // Handed back to the free list by write(); the caller uses exactly one buffer at a time.
  free_.push_back(current_);
  return buffer;
}

void WriteBehind::write(UploadData& data, std::uint64_t offset, std::size_t length) {
  const std::size_t index = current_;
  if (pool_ == nullptr) {
    if (auto status = data.write_at(offset, buffers_[index].data(), length); !status) {
      std::lock_guard lock(mutex_);
      if (first_error_) first_error_ = status;
    }
    return;
  }
  {
    std::lock_guard lock(mutex_);
    std::erase(free_, index);  // busy until the pool has written it
    ++in_flight_;
  }
  pool_->post([this, &data, index, offset, length] {
    StorageStatus status = data.write_at(offset, buffers_[index].data(), length);
    std::lock_guard lock(mutex_);
    if (!status && first_error_) first_error_ = std::move(status);
    free_.push_back(index);
    --in_flight_;
    done_.notify_all();
  });
}

StorageStatus WriteBehind::drain() {
  std::unique_lock lock(mutex_);
  done_.wait(lock, [&] { return in_flight_ == 0; });
  return first_error_;
}

bool WriteBehind::failed() {
  std::lock_guard lock(mutex_);
  return !first_error_;
}

}  // namespace resumable
