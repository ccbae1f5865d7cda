// The `resumable` command's verbs: upload, digest, status, cancel, help. Parses arguments, wires
// the HTTP client, the protocol and the progress display together, prints results and returns the
// exit code (exit_codes.h). main() is a thin wrapper around run_command().
// Contract: writes to stdout (results) and stderr (progress, messages); `interrupted` is set by
// the caller's signal handler and makes a running upload stop promptly.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>

namespace resumable::cli {

int run_command(std::span<const std::string> args, const std::atomic<bool>& interrupted);

// "4MiB", "4M" (binary), "4MB" (decimal), "4194304"; false when malformed.
bool parse_size(const std::string& text, std::uint64_t* bytes);
// "500ms", "30s", "2m", "1h", or seconds as a plain number.
bool parse_duration(const std::string& text, std::chrono::milliseconds* duration);

}  // namespace resumable::cli
