// What the uploader shows while it works: one line per file with bytes, percent, speed and time
// left, rewritten in place on a terminal; plain lines at an interval otherwise (logs, CI); nothing
// with --quiet. Notes (resuming, file changed, retries given up) go on lines of their own.
// Contract: one thread; writes only to the stream it was given.
#pragma once

#include "http_client.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace resumable::cli {

struct ProgressSnapshot {
  std::uint64_t done_bytes = 0;   // held by the server or sent in this run
  std::uint64_t total_bytes = 0;
  double bytes_per_second = 0;    // sending speed over the last seconds; 0 when unknown
  std::string state;              // "hashing", "uploading", "retrying", "verifying"
};

class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  virtual void begin(const std::string& name, std::uint64_t size) = 0;
  virtual void update(const ProgressSnapshot& snapshot) = 0;
  virtual void note(const std::string& message) = 0;
  // The file's last line: "done", "failed", "interrupted".
  virtual void end(const ProgressSnapshot& snapshot, const std::string& outcome) = 0;
};

enum class ProgressMode { terminal, plain, quiet };

std::unique_ptr<ProgressSink> make_progress(ProgressMode mode, std::FILE* out, Milliseconds plain_interval);

// "512.0 MiB", "3 B"; "1:02:03", "4:05".
std::string format_bytes(double bytes);
std::string format_duration(double seconds);
// One progress line: "name  12.0 MiB / 512.0 MiB  2%  85.3 MiB/s  0:05 left".
std::string progress_line(const std::string& name, const ProgressSnapshot& snapshot);

}  // namespace resumable::cli
