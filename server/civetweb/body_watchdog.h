// Ends request bodies that arrive too slowly.
//
// CivetWeb's request_timeout_ms bounds each wait for data, but mg_read returns only once all the
// bytes it was asked for have arrived, so a client that drips one byte per second holds a worker
// thread until its body is complete: days, for one chunk. The watchdog gives every body an
// allowance of `grace` plus the time its bytes take at `min_bytes_per_second`; a body that falls
// behind has the reading side of its socket shut down, so mg_read returns what it has and the
// handler answers 408 body_too_slow. The socket itself stays CivetWeb's (found by its addresses,
// as CivetWeb does not expose it) and is closed by CivetWeb as usual.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

struct mg_connection;

namespace resumable::civetweb {

class BodyWatchdog {
 public:
  // `read_size`: the largest piece one mg_read asks for (progress is seen only between reads).
  BodyWatchdog(std::chrono::milliseconds grace, std::uint64_t min_bytes_per_second, std::size_t read_size);
  ~BodyWatchdog();
  BodyWatchdog(const BodyWatchdog&) = delete;
  BodyWatchdog& operator=(const BodyWatchdog&) = delete;

  // Watches one request's body from now until the Watch is destroyed (before the handler returns).
  class Watch {
   public:
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
    void received(std::uint64_t total_bytes) { received_.store(total_bytes, std::memory_order_relaxed); }
    // The watchdog ended this body: answer body_too_slow.
    bool expired() const { return expired_.load(); }

   private:
    friend class BodyWatchdog;
    Watch(BodyWatchdog& owner, const mg_connection* connection);
    BodyWatchdog* owner_;
    std::string remote_address_;
    int remote_port_ = 0;
    int server_port_ = 0;
    std::chrono::steady_clock::time_point started_;
    std::atomic<std::uint64_t> received_{0};
    std::atomic<bool> expired_{false};
    std::list<Watch*>::iterator position_;
  };

  std::unique_ptr<Watch> watch(const mg_connection* connection);

 private:
  void run();
  bool overdue(const Watch& watch, std::chrono::steady_clock::time_point now) const;

  std::chrono::milliseconds grace_;
  std::uint64_t min_bytes_per_second_;
  std::size_t read_size_;
  std::mutex mutex_;  // guards watches_ and stopping_; held while a socket is shut down
  std::condition_variable wake_;
  std::list<Watch*> watches_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace resumable::civetweb
