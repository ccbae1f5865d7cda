#include "buffer_pool.h"

#include <sys/mman.h>

#include <new>
#include <utility>

namespace resumable {

PageBuffer::PageBuffer(std::size_t bytes) {
  void* mapped = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) return;
  data_ = static_cast<std::uint8_t*>(mapped);
  size_ = bytes;
}

PageBuffer::~PageBuffer() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

PageBuffer::PageBuffer(PageBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

PageBuffer& PageBuffer::operator=(PageBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

BufferPool::BufferPool(std::size_t buffer_bytes, std::size_t keep_idle)
    : buffer_bytes_(buffer_bytes), keep_idle_(keep_idle) {}

PageBuffer BufferPool::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      PageBuffer buffer = std::move(idle_.back());
      idle_.pop_back();
      return buffer;
    }
  }
  PageBuffer buffer(buffer_bytes_);
  if (!buffer) throw std::bad_alloc();
  return buffer;
}

void BufferPool::give_back(PageBuffer buffer) {
  if (!buffer || buffer.size() != buffer_bytes_) return;
  std::lock_guard lock(mutex_);
  if (idle_.size() < keep_idle_) idle_.push_back(std::move(buffer));
}

}  // namespace resumable
