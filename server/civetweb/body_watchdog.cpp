#include "body_watchdog.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdlib>
#include <vector>

namespace resumable::civetweb {

namespace {

constexpr auto check_interval = std::chrono::milliseconds(250);

// "address:port" of a socket's peer or local end, or "" when it is not an IP socket.
std::string endpoint_of(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    ::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(ntohs(v4.sin_port));
  }
  if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(ntohs(v6.sin6_port));
  }
  return "";
}

int local_port_of(int fd) {
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) return -1;
  if (local.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(local).sin_port);
  if (local.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(local).sin6_port);
  return -1;
}

std::vector<int> open_descriptors() {
  std::vector<int> fds;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] != '.') fds.push_back(std::atoi(entry->d_name));
    }
    ::closedir(dir);
    return fds;
  }
  rlimit limit{};
  const rlim_t highest = ::getrlimit(RLIMIT_NOFILE, &limit) == 0 ? std::min<rlim_t>(limit.rlim_cur, 65536) : 1024;
  for (rlim_t fd = 0; fd < highest; ++fd) fds.push_back(static_cast<int>(fd));
  return fds;
}

// Shuts down reading on the server's socket connected to `peer` on local port `server_port`.
bool shut_down_reading(const std::string& peer, int server_port) {
  for (const int fd : open_descriptors()) {
    struct stat info {};
    if (::fstat(fd, &info) != 0 || !S_ISSOCK(info.st_mode)) continue;
    sockaddr_storage remote{};
    socklen_t length = sizeof(remote);
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &length) != 0) continue;
    if (endpoint_of(remote) != peer || local_port_of(fd) != server_port) continue;
    return ::shutdown(fd, SHUT_RD) == 0;
  }
  return false;
}

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
      shut_down_reading(watch->remote_address_ + ":" + std::to_string(watch->remote_port_), watch->server_port_);
    }
  }
}

}  // namespace resumable::civetweb
