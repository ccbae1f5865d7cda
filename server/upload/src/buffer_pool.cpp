#include "resumable/buffer_pool.h"

#if RESUMABLE_WITH_BUFFER_POOL
#include <sys/mman.h>
#endif

#include <new>
#include <utility>

namespace resumable {

namespace {

constexpr std::size_t page_bytes = 4096;

std::uint8_t* allocate(std::size_t bytes) {
#if RESUMABLE_WITH_BUFFER_POOL
  void* mapped = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return mapped == MAP_FAILED ? nullptr : static_cast<std::uint8_t*>(mapped);
#else
  return static_cast<std::uint8_t*>(::operator new(bytes, std::align_val_t(page_bytes), std::nothrow));
#endif
}

void release(std::uint8_t* data, [[maybe_unused]] std::size_t bytes) {
  if (data == nullptr) return;
#if RESUMABLE_WITH_BUFFER_POOL
  ::munmap(data, bytes);
#else
  ::operator delete(data, std::align_val_t(page_bytes));
#endif
}

}  // namespace

PageBuffer::PageBuffer(std::size_t bytes) {
  data_ = allocate(bytes);
  if (data_ != nullptr) size_ = bytes;
}

PageBuffer::~PageBuffer() { release(data_, size_); }

PageBuffer::PageBuffer(PageBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

PageBuffer& PageBuffer::operator=(PageBuffer&& other) noexcept {
  if (this != &other) {
    release(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

BufferPool::BufferPool(std::size_t buffer_bytes, [[maybe_unused]] std::size_t keep_idle)
    : buffer_bytes_(buffer_bytes),
#if RESUMABLE_WITH_BUFFER_POOL
      keep_idle_(keep_idle) {
}
#else
      keep_idle_(0) {  // the heap keeps freed memory itself
}
#endif

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
