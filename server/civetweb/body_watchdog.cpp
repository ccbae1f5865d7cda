#include "body_watchdog.h"

#include <civetweb.h>
#include <sys/socket.h>

#include "connection_socket.h"

namespace resumable::civetweb {

namespace {

constexpr auto check_interval = std::chrono::milliseconds(250);

}  // namespace

BodyWatchdog::BodyWatchdog(std::chrono::milliseconds grace, std::uint64_t min_bytes_per_second, std::size_t read_size)
    : grace_(grace), min_bytes_per_second_(min_bytes_per_second), read_size_(read_size) {
  thread_ = std::thread([this] { run(); });
}

BodyWatchdog::~BodyWatchdog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

BodyWatchdog::Watch::Watch(BodyWatchdog& owner, const mg_connection* connection)
    : owner_(&owner), started_(std::chrono::steady_clock::now()) {
  const mg_request_info* info = mg_get_request_info(connection);
  remote_address_ = info->remote_addr;
  remote_port_ = info->remote_port;
  server_port_ = info->server_port;
}

BodyWatchdog::Watch::~Watch() {
  // After this, the watchdog never touches this request's socket again (CivetWeb may close it).
  std::lock_guard lock(owner_->mutex_);
  owner_->watches_.erase(position_);
}

std::unique_ptr<BodyWatchdog::Watch> BodyWatchdog::watch(const mg_connection* connection) {
  std::unique_ptr<Watch> watch(new Watch(*this, connection));
  std::lock_guard lock(mutex_);
  watch->position_ = watches_.insert(watches_.end(), watch.get());
  return watch;
}

bool BodyWatchdog::overdue(const Watch& watch, std::chrono::steady_clock::time_point now) const {
  // Progress is seen between reads only: allow one more read's worth at the minimum rate.
  const std::uint64_t allowed_bytes = watch.received_.load(std::memory_order_relaxed) + read_size_;
  const auto allowance = grace_ + std::chrono::milliseconds(allowed_bytes * 1000 / min_bytes_per_second_);
  return now - watch.started_ > allowance;
}

void BodyWatchdog::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, check_interval);
    const auto now = std::chrono::steady_clock::now();
    for (Watch* watch : watches_) {
      if (watch->expired_.load() || !overdue(*watch, now)) continue;
      watch->expired_ = true;
      shut_down_socket(watch->remote_address_, watch->remote_port_, watch->server_port_, SHUT_RD);
    }
  }
}

}  // namespace resumable::civetweb
