// The command's exit codes (documented in `resumable --help` and docs/cli.md). With several files,
// the command exits with the code of the first file that failed.
#pragma once

namespace resumable::cli {

enum class ExitCode : int {
  ok = 0,
  local_error = 1,    // a file could not be read, or output could not be written
  usage = 2,          // bad arguments
  network = 3,        // gave up retrying: network errors, timeouts, or the server's retryable errors
  refused = 4,        // the server refused (e.g. 401, 403, 413, 415): its message is printed
  verification = 5,   // the server's copy does not match the file (digests differ), or the file kept changing
  interrupted = 130,  // SIGINT or SIGTERM: run the same command again to resume
};

inline int to_int(ExitCode code) { return static_cast<int>(code); }

}  // namespace resumable::cli
