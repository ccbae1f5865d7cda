#include "resumable/connection_guard.h"

#include <sys/socket.h>

#include <algorithm>
#include <map>
#include <string>

#include "connection_socket.h"

namespace resumable {

ConnectionGuard::ConnectionGuard(mg_context* context, ConnectionGuardOptions options) : options_(options) {
  mg_server_port ports[8];
  const int count = mg_get_server_ports(context, 8, ports);
  for (int i = 0; i < count; ++i) ports_.push_back(ports[i].port);
  thread_ = std::thread([this] { run(); });
}

ConnectionGuard::~ConnectionGuard() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::size_t ConnectionGuard::refused() const {
  std::lock_guard lock(mutex_);
  return refused_;
}

void ConnectionGuard::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, options_.check_interval, [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    check();
    lock.lock();
  }
}

void ConnectionGuard::check() {
  const auto sockets = civetweb::server_sockets(ports_);  // in descriptor order: older first, mostly
  std::map<std::string, std::size_t> per_address;
  std::size_t total = 0;
  std::size_t refused = 0;
  for (const auto& socket : sockets) {
    const std::size_t mine = ++per_address[socket.peer_address];
    ++total;
    const bool over = (options_.max_per_address > 0 && mine > options_.max_per_address) ||
                      (options_.max_total > 0 && total > options_.max_total);
    if (!over) continue;
    // Not counted any longer: once CivetWeb sees it closed it frees the worker and the descriptor.
    if (civetweb::shut_down_server_socket(socket, ports_, SHUT_RDWR)) ++refused;
    --per_address[socket.peer_address];
    --total;
  }
  std::lock_guard lock(mutex_);
  refused_ += refused;
}

}  // namespace resumable
