#include "connection_socket.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

namespace resumable::civetweb {

namespace {

// The address and port of a socket's peer, or nullopt-like "" when it is not an IP socket.
std::pair<std::string, int> peer_of(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    ::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof(text));
    return {text, ntohs(v4.sin_port)};
  }
  if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof(text));
    return {text, ntohs(v6.sin6_port)};
  }
  return {"", -1};
}

int local_port_of(int fd) {
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) return -1;
  return peer_of(local).second;
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

}  // namespace

bool shut_down_connection(const mg_connection* connection, int how) {
  const mg_request_info* info = mg_get_request_info(connection);
  return shut_down_socket(info->remote_addr, info->remote_port, info->server_port, how);
}

bool shut_down_socket(const std::string& peer_address, int peer_port, int server_port, int how) {
  for (const int fd : open_descriptors()) {
    struct stat status {};
    if (::fstat(fd, &status) != 0 || !S_ISSOCK(status.st_mode)) continue;
    sockaddr_storage remote{};
    socklen_t length = sizeof(remote);
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &length) != 0) continue;
    const auto [address, port] = peer_of(remote);
    if (address != peer_address || port != peer_port || local_port_of(fd) != server_port) continue;
    return ::shutdown(fd, how) == 0;
  }
  return false;
}

bool shut_down_server_socket(const ServerSocket& socket, const std::vector<int>& server_ports, int how) {
  sockaddr_storage remote{};
  socklen_t length = sizeof(remote);
  if (::getpeername(socket.fd, reinterpret_cast<sockaddr*>(&remote), &length) != 0) return false;
  if (peer_of(remote).first != socket.peer_address) return false;
  const int local = local_port_of(socket.fd);
  if (std::find(server_ports.begin(), server_ports.end(), local) == server_ports.end()) return false;
  return ::shutdown(socket.fd, how) == 0;
}

std::vector<ServerSocket> server_sockets(const std::vector<int>& server_ports) {
  std::vector<ServerSocket> sockets;
  auto fds = open_descriptors();
  std::sort(fds.begin(), fds.end());
  for (const int fd : fds) {
    struct stat status {};
    if (::fstat(fd, &status) != 0 || !S_ISSOCK(status.st_mode)) continue;
    sockaddr_storage remote{};
    socklen_t length = sizeof(remote);
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &length) != 0) continue;  // listening, or not IP
    const int local = local_port_of(fd);
    if (std::find(server_ports.begin(), server_ports.end(), local) == server_ports.end()) continue;
    auto peer = peer_of(remote);
    if (peer.first.empty()) continue;
    sockets.push_back({fd, std::move(peer.first)});
  }
  return sockets;
}

}  // namespace resumable::civetweb
