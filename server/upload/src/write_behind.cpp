#include "write_behind.h"

#include <algorithm>

namespace resumable {

#if RESUMABLE_WITH_WRITE_BEHIND
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
#endif

WriteBehind::WriteBehind(WritePool* pool, BufferPool& buffers, std::size_t buffer_count, RingBudget* budget)
    : budget_(budget),
      pool_(pool),
      buffer_pool_(&buffers),
      buffers_(pool != nullptr ? buffer_count : 1),
      pending_(buffers_.size(), 0),
      read_piece_(buffers_.size(), 0),
      read_done_(buffers_.size(), 0),
      read_status_(buffers_.size()) {
  for (std::size_t i = buffers_.size(); i > 0; --i) free_.push_back(i - 1);
  if (budget_ != nullptr) {
    budget_->rings.fetch_add(1, std::memory_order_relaxed);
    budget_->buffers.fetch_add(buffers_.size(), std::memory_order_relaxed);
  }
}

WriteBehind::~WriteBehind() {
  drain();
  for (auto& buffer : buffers_) buffer_pool_->give_back(std::move(buffer));
  if (budget_ != nullptr) {
    budget_->buffers.fetch_sub(buffers_.size(), std::memory_order_relaxed);
    budget_->rings.fetch_sub(1, std::memory_order_relaxed);
  }
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

void WriteBehind::write(StoredUpload& data, std::uint64_t offset, std::size_t length, PieceHasher* hasher) {
  const std::size_t index = current_;
  const std::uint8_t* bytes = buffers_[index].data();
  if (pool_ == nullptr) {
    if (hasher != nullptr) hasher->update(std::span(bytes, length));
    if (StorageStatus status = data.write_at(offset, bytes, length); !status) {
      std::lock_guard lock(mutex_);
      if (first_error_) first_error_ = std::move(status);
    }
    return;
  }
#if RESUMABLE_WITH_WRITE_BEHIND
  bool start_lane[2] = {false, false};
  {
    std::lock_guard lock(mutex_);
    std::erase(free_, index);  // busy until written (and hashed)
    ++in_flight_;
    pending_[index] = 1;
    if (hasher != nullptr) {
      // With two lanes, the buffer is cut at leaf boundaries and each part goes to its leaf's lane.
      const std::uint64_t leaf = hasher->lanes() == 2 ? core::leaf_bytes : std::uint64_t{0};
      for (std::size_t start = 0; start < length;) {
        const std::uint64_t at = offset + start;
        const std::size_t n = leaf == 0 ? length - start
                                        : static_cast<std::size_t>(std::min<std::uint64_t>(length - start, leaf - at % leaf));
        const std::size_t lane = leaf == 0 ? 0 : static_cast<std::size_t>((at / leaf) % 2);
        hash_queue_[lane].push_back({index, start, n, at, hasher});
        ++pending_[index];
        if (!hashing_[lane]) start_lane[lane] = hashing_[lane] = true;
        start += n;
      }
    }
  }
  // Writes need no order (disjoint ranges) and mostly wait for the device: any pool thread may
  // take them, several at once. Hashing needs order within a lane: one runner per lane and request
  // works through its queue.
  pool_->post([this, &data, index, offset, length] {
    StorageStatus status = data.write_at(offset, buffers_[index].data(), length);
    std::lock_guard lock(mutex_);
    if (!status && first_error_) first_error_ = std::move(status);
    piece_done(index);
  });
  for (std::size_t lane = 0; lane < 2; ++lane) {
    if (start_lane[lane]) pool_->post([this, lane] { run_hasher(lane); });
  }
#endif
}

void WriteBehind::piece_done(std::size_t index) {
  // Called with mutex_ held.
  if (--pending_[index] > 0) return;
  free_.push_back(index);
  --in_flight_;
  done_.notify_all();
}

void WriteBehind::run_hasher(std::size_t lane) {
  std::unique_lock lock(mutex_);
  auto& queue = hash_queue_[lane];
  while (!queue.empty()) {
    const HashPiece piece = queue.front();
    queue.pop_front();
    lock.unlock();
    const std::span<const std::uint8_t> bytes(buffers_[piece.buffer].data() + piece.start, piece.length);
    if (piece.hasher->lanes() == 2) {
      piece.hasher->update_lane(piece.at, bytes);
    } else {
      piece.hasher->update(bytes);
    }
    lock.lock();
    piece_done(piece.buffer);
  }
  // Cleared under the lock that drain() waits on: once it sees the lane idle, this task touches
  // nothing of *this any more.
  hashing_[lane] = false;
  done_.notify_all();
}

StorageStatus WriteBehind::drain() {
  std::unique_lock lock(mutex_);
  done_.wait(lock, [&] { return in_flight_ == 0 && !hashing_[0] && !hashing_[1]; });
  return first_error_;
}

StorageStatus WriteBehind::read_in_order(ReadBack& source, std::uint64_t offset, std::uint64_t length,
                                        const std::function<void(std::span<const std::uint8_t>)>& consume) {
  drain();
  const std::uint64_t piece_bytes = buffer_pool_->buffer_bytes();
  const std::uint64_t pieces = (length + piece_bytes - 1) / piece_bytes;
  auto piece_length = [&](std::uint64_t piece) {
    return static_cast<std::size_t>(std::min(piece_bytes, length - piece * piece_bytes));
  };
  if (pool_ == nullptr) {
    auto buffer = next_buffer();
    for (std::uint64_t piece = 0; piece < pieces; ++piece) {
      const std::size_t n = piece_length(piece);
      if (auto status = source.read_at(offset + piece * piece_bytes, buffer.data(), n); !status) return status;
      consume(buffer.first(n));
    }
    return StorageStatus::success();
  }
  StorageStatus result;
#if RESUMABLE_WITH_WRITE_BEHIND
  std::uint64_t posted = 0;
  std::unique_lock lock(mutex_);
  for (std::uint64_t next = 0; next < pieces && result;) {
    // Keep every free buffer busy reading ahead.
    while (posted < pieces && !free_.empty()) {
      const std::size_t index = free_.back();
      free_.pop_back();
      if (!buffers_[index]) buffers_[index] = buffer_pool_->acquire();
      read_piece_[index] = posted;
      read_done_[index] = 0;
      ++in_flight_;
      const std::uint64_t at = offset + posted * piece_bytes;
      const std::size_t n = piece_length(posted);
      pool_->post([this, &source, index, at, n] {
        StorageStatus status = source.read_at(at, buffers_[index].data(), n);
        std::lock_guard guard(mutex_);
        read_status_[index] = std::move(status);
        read_done_[index] = 1;
        --in_flight_;
        done_.notify_all();
      });
      ++posted;
    }
    std::size_t index = 0;
    while (read_piece_[index] != next || std::find(free_.begin(), free_.end(), index) != free_.end()) ++index;
    done_.wait(lock, [&] { return read_done_[index] != 0; });
    if (!read_status_[index]) {
      result = read_status_[index];
    } else {
      lock.unlock();
      consume(std::span<const std::uint8_t>(buffers_[index].data(), piece_length(next)));
      lock.lock();
      ++next;
    }
    free_.push_back(index);
  }
  // Reads posted beyond a failure still use the ring: wait for them.
  done_.wait(lock, [&] { return in_flight_ == 0; });
  for (std::size_t index = 0; index < buffers_.size(); ++index) {
    if (std::find(free_.begin(), free_.end(), index) == free_.end()) free_.push_back(index);
  }
#endif
  return result;
}

StorageStatus OrderedReader::read(ReadBack& source, std::uint64_t offset, std::uint64_t length,
                                  const std::function<void(std::span<const std::uint8_t>)>& consume) {
  if (ring_ != nullptr) return ring_->read_in_order(source, offset, length, consume);
  for (std::uint64_t done = 0; done < length;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer_.size(), length - done));
    if (auto status = source.read_at(offset + done, buffer_.data(), n); !status) return status;
    consume(std::span<const std::uint8_t>(buffer_.data(), n));
    done += n;
  }
  return StorageStatus::success();
}

bool WriteBehind::failed() {
  std::lock_guard lock(mutex_);
  return !first_error_;
}

}  // namespace resumable
