// What the protocols that create an upload first and then append to it at offsets share (tus 1.0;
// the IETF draft's Resumable Uploads next): the upload URL scheme, an upload's current offset, and
// the exchange that streams one append's body into the upload core.
//
// An append's body [offset, offset + length) becomes pieces of limits.append_piece_bytes, cut at
// multiples of it, each committed as soon as it is complete: a body that breaks off keeps every
// piece it completed (its offset moves by that much), and one that takes over a stalled request
// loses at most one piece. A body with a checksum over the whole of it is one piece, committed only
// when the checksum matches (sha1 / sha256 hashed here as the bytes pass; the tree digest by the
// core's own hash pass), so a mismatch records nothing and the offset does not move.
//
// Threads: as http::Exchange. Nothing throws but std::bad_alloc.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <condition_variable>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "append_headers.h"
#include "front_end.h"
#include "resumable/upload_core.h"

namespace resumable::append {

// Upload URLs are <mount>/<id>, the id 32 lower-case hex digits from the system's CSPRNG; the id is
// the core's identifier, scoped by the principal, so a guessed or leaked URL is still no one else's.
std::string new_upload_id();
bool is_upload_id(std::string_view text);

// An upload as an appending client sees it.
struct OffsetState {
  std::uint64_t offset = 0;                // the bytes stored from 0 without a gap
  std::optional<std::uint64_t> length;     // nullopt: deferred
  std::uint64_t stored_pieces = 0;
  std::map<std::string, std::string> protocol_fields;
  std::string file_name;
  std::chrono::system_clock::time_point expires;  // collected then if nothing more arrives
  std::optional<FinalResult> final;        // every byte is in and released
  bool partial = false;                    // a part of a later concatenation (UploadDeclaration::partial)
};

// The upload `id` of `principal`, if it exists and carries `protocol` in its "protocol" field (an
// upload another front-end made is not found). Errors: upload_not_found, or what the core says.
std::variant<ErrorCode, OffsetState> offset_state(UploadCore& core, const std::string& principal, const std::string& id,
                                                  std::string_view protocol);

// Creates the upload an appending client asked for, after the mount's limits (size, type, counts);
// an empty file (total size 0) is complete at once: its one, empty piece. The refusal, if any.
std::optional<ErrorCode> create_upload(UploadCore& core, const std::string& principal, const UploadDeclaration& upload);

// The declaration every piece of an existing upload repeats (the core compares it).
UploadDeclaration declaration_of(const OffsetState& state, const std::string& id);

// One append at a time per upload. A newcomer ends the request holding the upload (a stalled PATCH
// whose client gave up and resumed: tusd's lock release) and waits up to `wait` for it to let go;
// what that request committed stays, its unfinished piece goes back. The last to arrive wins.
class AppendLocks {
 public:
  // A hold, released when the last copy goes; null when the holder did not let go in time.
  std::shared_ptr<void> take(const std::string& principal, const std::string& id, std::function<void()> interrupt,
                             std::chrono::milliseconds wait);

 private:
  struct Holder {
    std::uint64_t serial = 0;
    std::function<void()> interrupt;
  };
  std::mutex mutex_;
  std::condition_variable released_;
  std::map<std::pair<std::string, std::string>, Holder> holders_;
  std::uint64_t next_serial_ = 0;
};

struct AppendRequest {
  std::string principal;
  UploadDeclaration upload;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;  // the body's, from Content-Length
  std::optional<BodyChecksum> checksum;
  std::shared_ptr<void> hold;  // from AppendLocks: kept until the exchange ends
  std::optional<http::Reply> interim;  // sent before the body is read (Exchange::interim)
};

struct AppendResult {
  std::optional<ErrorCode> error;  // nothing after the last committed piece was recorded
  std::optional<FinalResult> final;
};

// Streams one append. `render` turns the result into the protocol's reply (it asks the core for
// the offset itself); error replies close the connection when the body was not read to its end.
std::unique_ptr<http::Exchange> make_append_exchange(UploadCore& core, AppendRequest request,
                                                     std::function<http::Reply(const AppendResult&)> render);

}  // namespace resumable::append
