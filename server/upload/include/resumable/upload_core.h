// The upload core: protocol-neutral uploads over an UploadStore. An upload belongs to a principal
// and is named by the client's identifier; it has a size (possibly not known yet) and receives
// pieces, byte ranges written at their offsets and verified against the digests their senders
// declare (tree digests, docs/digest.md: each byte hashed once into 1 MiB leaves). The core computes
// the file digest from the leaf digests recorded with each piece, releases the file exactly once
// when every byte is in (verified against a declared file digest), hands it over by a
// one-time claim, and collects what clients abandon. It knows no HTTP, no chunk numbers and no
// particular store: protocol front-ends (frontends/) translate requests into these calls.
//
// Threads: every UploadCore method may be called from many threads at once. A PieceWriter belongs
// to the one thread that feeds it. Nothing throws except std::bad_alloc.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "resumable/buffer_pool.h"
#include "resumable/digest.h"
#include "resumable/errors.h"
#include "resumable/limits.h"
#include "resumable/upload_records.h"
#include "resumable/upload_store.h"

namespace resumable {

// What a front-end says of an upload with every piece: the first piece creates the upload from it,
// later ones must agree with it (else upload_conflict).
struct UploadDeclaration {
  std::string identifier;  // the client's key, scoped by the principal
  std::string file_name;   // display only
  std::string relative_path;
  std::string mime_type;
  std::optional<std::uint64_t> total_size;  // nullopt: not known yet
  std::optional<core::Digest> file_digest;  // may be declared late; then pinned
  std::map<std::string, std::string> protocol_fields;  // pinned by the first piece, compared after
  // A part of a later concatenation (UploadManifest::partial): when every byte is in, it waits for
  // concatenate() instead of being released.
  bool partial = false;
};

struct PieceRequest {
  UploadDeclaration upload;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::optional<core::Digest> digest;  // verified while the bytes arrive when given
};

// The body every request that observes a finished upload gets.
struct FinalResult {
  std::string token;
  std::string identifier;
  std::string file_name;
  std::uint64_t size = 0;
  std::map<std::string, std::string> protocol_fields;
  core::Digest digest{};
};

struct PieceStored {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::uint64_t stored_pieces = 0;  // of the upload, this one included
  std::uint64_t stored_bytes = 0;
  bool duplicate = false;  // the piece was already stored with the same bytes (a retry)
};

using PieceOutcome = std::variant<ErrorCode, PieceStored, FinalResult>;

struct StoredPiece {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  core::Digest digest{};
};

// What status() reports of an unfinished upload.
struct UploadState {
  std::string identifier;
  std::string file_name;
  std::optional<std::uint64_t> total_size;
  std::map<std::string, std::string> protocol_fields;
  std::optional<core::Digest> declared_file_digest;
  std::vector<StoredPiece> pieces;  // ascending offsets (within the window asked for)
  std::uint64_t stored_bytes = 0;
  std::uint64_t stored_pieces = 0;  // all of them, not only the window's
  // The stored bytes from offset 0 on without a gap: where a client that appends (tus) resumes.
  // Set in the first window only (from_offset 0): later pages of a long status document skip the walk.
  std::uint64_t contiguous_bytes = 0;
  std::chrono::system_clock::time_point last_activity;  // collected stale_after later
  bool more = false;  // stored pieces follow the window
  bool partial = false;
  // A partial upload with every byte: it waits for its concatenation, collected unclaimed_after
  // after its last activity (like a finished file waiting for its claim), not stale_after.
  bool awaiting_concatenation = false;
};
using StatusOutcome = std::variant<ErrorCode, UploadState, FinalResult>;

enum class PiecePresence { absent, present };
using PieceQuery = std::variant<ErrorCode, PiecePresence, FinalResult>;

class UploadCore;

// Exclusive right to write one piece, from UploadCore::begin_piece. Feed it the piece's bytes, then
// call finish(); destroying it unfinished gives the piece back (nothing is recorded).
class PieceWriter {
 public:
  PieceWriter(PieceWriter&&) noexcept;
  PieceWriter& operator=(PieceWriter&&) noexcept;
  ~PieceWriter();

  // A buffer to receive the next bytes into (zero copy); then say how many arrived.
  std::span<std::uint8_t> next_buffer();
  bool received(std::size_t length);
  // For bytes that arrive in someone else's buffer: copied through next_buffer().
  bool write(std::span<const std::uint8_t> bytes);
  // False from the first failure on; error() says which.
  std::optional<ErrorCode> error() const;
  std::uint64_t size() const;
  std::uint64_t written() const;
  // Verifies size and digest, commits the piece and, when it was the last, releases the file.
  PieceOutcome finish();

  struct State;  // defined in piece_writer.cpp

 private:
  friend class UploadCore;
  explicit PieceWriter(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// What begin_piece decided before a byte of the piece was read.
using PieceStart = std::variant<ErrorCode, PieceStored, FinalResult, PieceWriter>;

class UploadCore {
 public:
  using Clock = std::chrono::system_clock;
  struct Hooks {
    // Once per released file, on the thread that released it, without locks held; again from
    // load() after a restart for each released file not yet claimed (CompletedUpload::redelivered).
    std::function<void(const CompletedUpload&)> on_complete;
    // Diagnostics; never null after construction (stderr by default).
    std::function<void(const std::string&)> log;
  };

  UploadCore(std::shared_ptr<UploadStore> store, UploadLimits limits, Hooks hooks);
  ~UploadCore();
  UploadCore(const UploadCore&) = delete;
  UploadCore& operator=(const UploadCore&) = delete;

  // Loads every upload the store holds (after a restart), finishes interrupted releases, then
  // hands every released, unclaimed upload to on_complete again.
  void load();

  // The mount's policy for a new upload: check_size (file_too_large), then check_type
  // (type_not_allowed; not for a partial upload, whose type is its final upload's). The error, or
  // nullopt when acceptable.
  std::optional<ErrorCode> check_declaration(const UploadDeclaration& upload) const;
  std::optional<ErrorCode> check_size(std::optional<std::uint64_t> total_size) const;
  std::optional<ErrorCode> check_type(const std::string& file_name, const std::string& mime_type) const;

  // Creates an upload before any of its pieces (protocols that name an upload first, like tus's
  // creation), checked like a first piece: check_declaration, then the per-principal and mount
  // counts. Errors: those, upload_conflict when the identifier is taken, storage errors.
  std::optional<ErrorCode> create_upload(const std::string& principal, const UploadDeclaration& upload);

  // Decides what to do with a piece: write it (a PieceWriter), or answer at once (a duplicate, the
  // final result, an error). Waits up to limits.chunk_wait while another request writes it.
  PieceStart begin_piece(const std::string& principal, const PieceRequest& request);
  // After a duplicate piece of a fully received upload: retries a release that failed before (for
  // example on a full disk) or that a crash interrupted. The final result if the upload is (now)
  // finished, else nullopt. find_piece and status do the same for a fully received upload, so a
  // client that finds every piece held gets the final result instead of waiting for it forever.
  std::optional<PieceOutcome> resume_finalization(const std::string& principal, const std::string& identifier);
  // Pins the size of an upload whose size was not known, without a piece (a client that says "that
  // was all" in a request without bytes: the IETF draft's empty completing append); then
  // resume_finalization releases it. Errors: upload_not_found, file_too_large, upload_conflict (another
  // size was pinned, or bytes are stored past this one), storage errors.
  std::optional<ErrorCode> declare_size(const std::string& principal, const std::string& identifier, std::uint64_t size);

  PieceQuery find_piece(const std::string& principal, const PieceRequest& request);
  // What is stored of an upload. `from_offset` and `max_pieces` take a window of its pieces (those
  // at or after the offset, at most that many; UploadState::more says whether any follow), so that a
  // large upload's status is read a page at a time instead of copied whole.
  StatusOutcome status(const std::string& principal, const std::string& identifier, std::uint64_t from_offset = 0,
                       std::size_t max_pieces = static_cast<std::size_t>(-1));
  // Joins finished partial uploads of `principal` (`partials`: their identifiers, in file order)
  // into the new upload `final` (its total size is theirs summed; it is given none) and releases it
  // as any finished upload, its digest from the partials' recorded leaves where they start on leaf
  // boundaries (their bytes are read back only where a leaf spans two of them). Their bytes move
  // through the store's Splice where it has one, else are copied through read-back. The partials
  // are held meanwhile (not collected, not cancelled under it) and removed once the final is
  // released; a failure leaves them as they were. Errors: invalid_parameter (no partials, or one
  // named twice), upload_not_found (unknown or another principal's), not_a_partial_upload,
  // partial_upload_unfinished, chunk_busy (a partial still held after chunk_wait), then
  // create_upload's errors and storage errors.
  std::variant<ErrorCode, FinalResult> concatenate(const std::string& principal, UploadDeclaration final,
                                                   const std::vector<std::string>& partials);
  // Idempotent; an unclaimed finished file goes too.
  void cancel(const std::string& principal, const std::string& identifier);
  // Errors: upload_not_found for an unknown, foreign or already claimed token.
  std::variant<ErrorCode, ClaimedUpload> claim(const std::string& token, const std::string& principal);
  CollectionReport collect_stale(Clock::time_point now);
  std::vector<UploadSummary> list_uploads();

  // Collection every `interval` (zero: never on its own): on a background thread when the build
  // has one (RESUMABLE_COLLECTOR_THREAD), otherwise from collect_if_due(), which front-ends call
  // on every request (cheap when nothing is due).
  void schedule_collection(std::chrono::seconds interval);
  void collect_if_due();

  // A body buffer for bytes that are read but not stored (a duplicate's body); memory per request
  // is per_request_buffer_bytes() at most.
  BufferLease lease_buffer();
  std::size_t per_request_buffer_bytes() const;

  const UploadLimits& limits() const;

  struct Impl;  // defined in upload_core_impl.h

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace resumable
