// Records the upload core hands to applications, whatever protocol or store carried the upload:
// a finished upload (on_complete), a claimed one (claim_upload), a collection report, and the
// summary an admin view lists. Plain values; copy them freely.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "resumable/digest.h"

namespace resumable {

// Handed to the completion callback after a file was verified and released: once, and again after
// each restart for as long as it is not claimed (a crash may have come before the callback did its
// work), so the callback must be idempotent (key it by token) and should claim what it takes over.
struct CompletedUpload {
  std::string principal;
  std::string identifier;
  std::string file_name;  // client-supplied: display only, never a path
  std::uint64_t size = 0;
  core::Digest digest{};
  std::string token;
  std::string location;  // where the store put the file (a path for the filesystem store)
  bool redelivered = false;  // handed over again by a restart's load(), not by the release itself
};

// What claim_upload hands the application: the file is now the application's.
struct ClaimedUpload {
  std::string location;
  std::string file_name;
  std::string identifier;
  std::uint64_t size = 0;
  core::Digest digest{};
};

struct CollectionReport {
  std::size_t stale_removed = 0;      // incomplete uploads past stale_after
  std::size_t unclaimed_removed = 0;  // finished, unclaimed uploads past unclaimed_after
  std::size_t damaged_removed = 0;    // uploads whose records were damaged, stale_after after they were found
};

// One upload as an admin view lists it.
struct UploadSummary {
  std::string principal;
  std::string identifier;
  std::string file_name;
  std::optional<std::uint64_t> total_size;  // nullopt while the client has not said
  std::uint64_t received_bytes = 0;
  // Pieces are what the protocol sends one request at a time (resumable.js: chunks).
  std::uint64_t received_pieces = 0;
  std::optional<std::uint64_t> expected_pieces;  // when the protocol fixes the count (resumable.js)
  bool complete = false;
  std::chrono::system_clock::time_point last_activity;
  std::map<std::string, std::string> protocol_fields;  // the front-end's pinned values
};

}  // namespace resumable
