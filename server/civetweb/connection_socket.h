// Finding the socket of a CivetWeb connection, which CivetWeb does not expose: the process's
// descriptors are scanned for the socket with the connection's peer address and local port.
#pragma once

#include <string>
#include <vector>

struct mg_connection;

namespace resumable::civetweb {

// shutdown(2) `how` (SHUT_RD, SHUT_RDWR) on the connection's socket; false if it was not found.
// The socket stays CivetWeb's: it is closed by CivetWeb as usual.
bool shut_down_connection(const mg_connection* connection, int how);
// The same for the socket connected to `peer_address`:`peer_port` on local port `server_port`.
bool shut_down_socket(const std::string& peer_address, int peer_port, int server_port, int how);

// The process's TCP sockets accepted on one of `server_ports`, in descriptor order.
struct ServerSocket {
  int fd;
  std::string peer_address;
};
std::vector<ServerSocket> server_sockets(const std::vector<int>& server_ports);
// shutdown(2) on `socket` if its descriptor still is that socket (CivetWeb may have closed it and
// the number may have been reused since it was listed).
bool shut_down_server_socket(const ServerSocket& socket, const std::vector<int>& server_ports, int how);

}  // namespace resumable::civetweb
