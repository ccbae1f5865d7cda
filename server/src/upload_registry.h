// The upload state machine, free of HTTP: which uploads exist for which principal, which chunks
// each holds, the whole-file hash, exactly-once release and one-time claims. The protocol handler
// (upload_endpoint.cpp) translates requests into these calls; tests drive it directly too.
//
// Thread-safety: every public method may be called from many threads at once.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "chunk_request.h"
#include "write_behind.h"
#include "resumable/errors.h"
#include "resumable/limits.h"
#include "resumable/storage.h"
#include "resumable/upload_endpoint.h"

namespace resumable {

struct Upload;  // defined in upload_registry.cpp

// The body every request that observes a finished upload returns (docs/protocol.md, Final result).
struct FinalResult {
  std::string token;
  std::string identifier;
  std::string file_name;
  std::uint64_t size = 0;
  std::uint64_t chunk_count = 0;
  core::Digest digest{};
};

// A chunk reply that is not an error and not a final result.
struct ChunkStored {
  std::uint64_t number = 0;
  std::uint64_t received = 0;
  std::uint64_t chunk_count = 0;
  bool duplicate = false;
};

using ChunkOutcome = std::variant<ErrorCode, ChunkStored, FinalResult>;

// Exclusive right to write one chunk, handed out by UploadRegistry::begin_chunk. Feed the body to
// write(), then call finish(); destroying it unfinished gives the chunk back (nothing is recorded).
class ChunkWriter {
 public:
  ChunkWriter(ChunkWriter&&) noexcept;
  ChunkWriter& operator=(ChunkWriter&&) = delete;
  ~ChunkWriter();

  // Hashes and stores the next bytes of the chunk. False once an error is set (see error()).
  bool write(const std::uint8_t* data, std::size_t length);
  // From now on, write_received() queues writes on `write_behind`, which must outlive this writer.
  void use_write_behind(WriteBehind& write_behind) { write_behind_ = &write_behind; }
  // Hashes bytes just received into write_behind's current buffer and queues them for writing.
  bool write_received(std::span<const std::uint8_t> received);
  std::optional<ErrorCode> error() const { return error_; }
  std::uint64_t expected_size() const { return span_size_; }
  // Verifies size and digest, makes the chunk durable and records it; may release the file.
  // `read_back` reads chunks back for the whole-file hash when they arrived ahead of it.
  ChunkOutcome finish(ReadBack& read_back);

 private:
  friend class UploadRegistry;
  ChunkWriter(class UploadRegistry& registry, std::shared_ptr<Upload> upload, std::uint64_t number,
              std::uint64_t offset, std::uint64_t size, std::optional<core::Digest> expected_digest);
  void abandon();

  UploadRegistry* registry_;
  std::shared_ptr<Upload> upload_;
  std::uint64_t number_;
  std::uint64_t span_offset_;
  std::uint64_t span_size_;
  std::uint64_t written_ = 0;
  std::optional<core::Digest> expected_digest_;
  core::Blake2b256 hash_;
  std::optional<ErrorCode> error_;
  bool done_ = false;
  WriteBehind* write_behind_ = nullptr;
  // This request created the upload: if it fails before any chunk of the upload is stored, the empty
  // upload goes too (a request that arrives after a cancel must not leave an upload behind).
  bool created_upload_ = false;
  // When this chunk is next in line for the whole-file hash, it is folded in while it streams (no
  // read-back later); the state before it is kept to undo that if the chunk fails.
  bool inline_file_hash_ = false;
  crypto_generichash_state file_hash_before_;
};

// What begin_chunk decided before any body byte was read.
using ChunkStart = std::variant<ErrorCode, ChunkStored, FinalResult, ChunkWriter>;

enum class TestResult { absent, present };
using TestOutcome = std::variant<ErrorCode, TestResult, FinalResult>;

struct UploadStatus {
  std::string identifier;
  std::string file_name;
  std::uint64_t total_size = 0;
  std::uint64_t chunk_size = 0;
  std::uint64_t chunk_count = 0;
  std::vector<std::pair<std::uint64_t, core::Digest>> chunks;  // stored chunks, ascending
  std::optional<core::Digest> declared_file_digest;
};
using StatusOutcome = std::variant<ErrorCode, UploadStatus, FinalResult>;

class UploadRegistry {
 public:
  using Clock = std::chrono::system_clock;
  using CompletionCallback = std::function<void(const CompletedUpload&)>;
  using Logger = std::function<void(const std::string&)>;

  UploadRegistry(std::shared_ptr<UploadStorage> storage, UploadLimits limits, CompletionCallback on_complete,
                 Logger log);
  ~UploadRegistry();
  UploadRegistry(const UploadRegistry&) = delete;
  UploadRegistry& operator=(const UploadRegistry&) = delete;

  // Loads every upload the storage holds (after a restart), finishing interrupted releases.
  void load();

  // Validates `request` against the limits and the upload's pinned geometry and decides what to do
  // with the chunk; waits (up to limits.chunk_wait) while another request writes the same chunk.
  ChunkStart begin_chunk(const std::string& principal, const ChunkRequest& request);
  // Validation only, for requests that must be refused before their body is read.
  std::optional<ErrorCode> validate(const ChunkRequest& request) const;

  // After a duplicate chunk of a fully received upload: retries a release that failed before (for
  // example on a full disk). The final result if the upload is (now) finished, else nullopt.
  std::optional<ChunkOutcome> resume_finalization(const std::string& principal, const std::string& identifier,
                                                  ReadBack& read_back);

  TestOutcome test_chunk(const std::string& principal, const ChunkRequest& request);
  StatusOutcome status(const std::string& principal, const std::string& identifier);
  void cancel(const std::string& principal, const std::string& identifier);
  std::variant<ErrorCode, ClaimedUpload> claim(const std::string& token, const std::string& principal);
  CollectionReport collect_stale(Clock::time_point now);
  std::vector<UploadSummary> list_uploads();

 private:
  friend class ChunkWriter;
  using Key = std::pair<std::string, std::string>;  // principal, identifier

  std::shared_ptr<Upload> find(const Key& key);
  std::optional<ErrorCode> check_matches(const Upload& upload, const ChunkRequest& request) const;
  ChunkOutcome chunk_finished(const std::shared_ptr<Upload>& upload, std::uint64_t number, const core::Digest& digest,
                              ReadBack& read_back, bool holds_file_hash);
  // Folds contiguous stored chunks into the whole-file hash and releases the file once all are in.
  // `holds_file_hash`: the caller already owns the hashing role (an inline-hashing writer).
  std::optional<ChunkOutcome> advance_file_hash(const std::shared_ptr<Upload>& upload, ReadBack& read_back,
                                                bool holds_file_hash = false);
  ChunkOutcome release(const std::shared_ptr<Upload>& upload, const core::Digest& digest, ReadBack& read_back);
  void forget(const std::shared_ptr<Upload>& upload, bool remove_released_file);
  FinalResult final_result(const Upload& upload) const;

  std::shared_ptr<UploadStorage> storage_;
  const UploadLimits limits_;
  CompletionCallback on_complete_;
  Logger log_;

  std::mutex mutex_;  // guards the three indexes below
  std::map<Key, std::shared_ptr<Upload>> by_key_;
  std::map<std::string, std::shared_ptr<Upload>> by_token_;
  std::map<std::string, std::size_t> unfinished_per_principal_;
};

}  // namespace resumable
