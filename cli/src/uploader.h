// Uploads one file: reads and hashes it chunk by chunk (each byte once), asks the server what it
// holds (one status request), sends the missing chunks with up to `parallel` requests at once,
// retries with backoff, and checks the final result against its own digest. Behaves like the
// widget's Uploader (widget/src/uploader.js): the same identifier, chunks the server holds with the
// same digest are skipped, and a file whose bytes differ from what the server holds under its
// identifier is detected by the digests, deleted on the server and uploaded afresh, once, never mixed.
//
// Contract: one thread; everything runs inside upload_file(), which returns when the file is done,
// failed, or `interrupted` became true. Memory: at most `parallel` chunk buffers. No exceptions.
#pragma once

#include "exit_codes.h"
#include "progress.h"
#include "protocol.h"
#include "retry.h"

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

namespace resumable::cli {

struct UploadSettings {
  std::uint64_t chunk_size = std::uint64_t{4} << 20;  // the widget's default
  int parallel = 3;
  RetryPolicy retry;
};

struct FileReport {
  std::string path;
  ExitCode code = ExitCode::ok;
  std::string identifier;
  std::uint64_t size = 0;
  std::optional<std::string> file_digest;  // ours (hex), once the file was read to the end
  std::optional<FinalResult> result;       // the server's, when it finished
  std::optional<Failure> failure;          // why not
  std::uint64_t chunk_count = 0;
  std::uint64_t chunks_sent = 0;           // chunk requests the server stored in this run
  std::uint64_t chunks_held = 0;           // chunks the server already had (skipped)
  bool restarted = false;                  // the server's copy was of other bytes: started afresh
};

FileReport upload_file(const std::string& path, const UploadSettings& settings, HttpClient& http, Protocol& protocol,
                       ProgressSink& progress, const std::atomic<bool>& interrupted);

}  // namespace resumable::cli
