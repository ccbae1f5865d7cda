// Uploads one file: reads and hashes it chunk by chunk (each byte once), asks the server what it
// holds (one status request), sends the missing chunks with up to `parallel` requests at once,
// retries with backoff, and checks the final result against its own digest. Behaves like the
// widget's Uploader (widget/src/uploader.js): the same identifier, chunks the server holds with the
// same digest are skipped, and a file whose bytes differ from what the server holds under its
// identifier is detected by the digests, deleted on the server and uploaded afresh, once, never mixed.
//
// Contract: one thread; everything runs inside upload_files(), which returns when every file is
// done or failed, or `interrupted` became true. Memory: at most `parallel` chunk buffers per file
// being uploaded. No exceptions.
#pragma once

#include "exit_codes.h"
#include "progress.h"
#include "protocol.h"
#include "retry.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace resumable::cli {

struct UploadSettings {
  std::uint64_t chunk_size = std::uint64_t{4} << 20;  // the widget's default
  int parallel = 3;       // chunk requests of one file at once
  int files_at_once = 1;  // files uploaded at once (tus: one stream per file, so files in parallel)
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

// Each file gets its own progress sink; on_report(index into paths, report) runs as each file ends.
// After an interrupt the files in progress end as interrupted and no further one starts.
using ProgressFactory = std::function<std::unique_ptr<ProgressSink>()>;
using OnReport = std::function<void(std::size_t, const FileReport&)>;
void upload_files(const std::vector<std::string>& paths, const UploadSettings& settings, HttpClient& http,
                  Protocol& protocol, const ProgressFactory& make_sink, const std::atomic<bool>& interrupted,
                  const OnReport& on_report);

}  // namespace resumable::cli
