// Bounds the connections one client address (and all clients together) may hold on a CivetWeb
// server, so that a client opening many slow connections (heads sent a byte at a time, bodies
// stalled halfway) cannot take every worker thread: CivetWeb gives a connection a worker from the
// moment it is accepted, and bounds a slow head only by request_timeout_ms.
//
//   mg_context* context = mg_start(&callbacks, nullptr, options);
//   auto guard = std::make_unique<resumable::ConnectionGuard>(context, resumable::ConnectionGuardOptions{8});
//   ...                                                                  // 8: keep it below num_threads
//   guard.reset();                                                       // before mg_stop
//   mg_stop(context);
//
// A thread looks at the server's connections every `check_interval` (they are found among the
// process's descriptors: CivetWeb does not expose its sockets) and shuts down the most recent of
// an address's connections beyond its limit: the client sees them closed, other clients find a
// worker. Thread-safe; it never closes a descriptor itself (CivetWeb does). Destroy it before
// mg_stop: afterwards the server's descriptor numbers may be reused by anything.
#pragma once

#include <civetweb.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

namespace resumable {

struct ConnectionGuardOptions {
  // Connections one client address may have open at once (0: no limit).
  std::size_t max_per_address = 16;
  // Connections all clients together may have open at once (0: no limit).
  std::size_t max_total = 0;
  std::chrono::milliseconds check_interval{100};
};

class ConnectionGuard {
 public:
  ConnectionGuard(mg_context* context, ConnectionGuardOptions options);
  ~ConnectionGuard();
  ConnectionGuard(const ConnectionGuard&) = delete;
  ConnectionGuard& operator=(const ConnectionGuard&) = delete;

  // Connections shut down so far.
  std::size_t refused() const;

 private:
  void run();
  void check();

  ConnectionGuardOptions options_;
  std::vector<int> ports_;  // the server's listening ports
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::size_t refused_ = 0;
  std::thread thread_;
};

}  // namespace resumable
