// What the uploader asks of an upload protocol, in terms of uploads and chunks; what goes over the
// wire and what each reply means is the protocol module's business (resumable_protocol.h is our
// endpoint's, tus_protocol.h the tus 1.0 one). The widget's widget/src/protocol.js has the same
// shape, so both clients classify replies alike.
//
// Contract: each request method starts one or more HttpClient requests (tus may ask for the
// server's capabilities or create the upload first) and returns an id to abort them with
// abort(); its callback runs once from HttpClient::poll(), or never after an abort. Methods do not
// throw.
#pragma once

#include "http_client.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace resumable::cli {

// A request that did not succeed. `message` is the server's own when it sent one.
struct Failure {
  std::string code;  // the error table's code (docs/protocol.md), or network_error, timeout, http_NNN
  long status = 0;   // HTTP status, 0 when no reply arrived
  std::string message;
  bool retryable = false;
};

// The server's final result of a finished upload.
struct FinalResult {
  std::string token;
  std::string identifier;
  std::string file_name;
  std::uint64_t size = 0;
  std::string file_digest;       // hex
  std::string digest_algorithm;  // "rsm-tree-v1"
};

// The local file as the protocol needs to describe it.
struct UploadDescription {
  std::string identifier;
  std::string file_name;
  std::uint64_t size = 0;
  std::uint64_t chunk_size = 0;
  std::uint64_t chunk_count = 0;
  std::optional<std::string> file_digest;  // hex, once the whole file is hashed
};

struct ChunkToSend {
  std::uint64_t number = 0;  // 1-based
  std::shared_ptr<const std::vector<std::uint8_t>> bytes;
  std::string digest;  // hex: the chunk's tree digest
};

struct StatusOutcome {
  enum class Kind { complete, partial, absent, differs, failed } kind = Kind::failed;
  FinalResult result;                          // complete
  std::map<std::uint64_t, std::string> held;   // partial: chunk number -> digest (hex)
  // partial: whether `held` carries the server's digests. tus reports only an offset: the chunks
  // below it are taken as this file's (its identifier names the file; the final digest checks it).
  bool held_digests = true;
  std::optional<std::string> file_digest;      // partial: the file digest the server was given
  Failure failure;                             // failed
  std::optional<Milliseconds> retry_after;     // failed: how long the server asked to wait
};

struct ChunkOutcome {
  // resync: the server's offset is not where this chunk starts (tus 409): ask where it stands, go
  // on from there. gone: the server no longer has the upload (tus 404/410): start it afresh.
  enum class Kind { complete, stored, resync, gone, failed } kind = Kind::failed;
  FinalResult result;  // complete
  bool duplicate = false;
  Failure failure;
  std::optional<Milliseconds> retry_after;
};

struct DeleteOutcome {
  bool deleted = false;
  Failure failure;
  std::optional<Milliseconds> retry_after;
};

class Protocol {
 public:
  virtual ~Protocol() = default;
  // Resuming is one request: what does the server hold of this upload?
  virtual HttpClient::RequestId request_status(const UploadDescription& upload,
                                               std::function<void(StatusOutcome)> on_outcome) = 0;
  virtual HttpClient::RequestId send_chunk(const UploadDescription& upload, const ChunkToSend& chunk,
                                           std::function<void(ChunkOutcome)> on_outcome,
                                           HttpClient::OnProgress on_progress) = 0;
  // Deletes the server's part of the upload (partial, or finished and unclaimed).
  virtual HttpClient::RequestId delete_upload(const UploadDescription& upload,
                                              std::function<void(DeleteOutcome)> on_outcome) = 0;
  // Stops what a request method started; its callback is never called. Unknown ids are ignored.
  virtual void abort(HttpClient::RequestId id) = 0;
  // Whether the final result is of exactly this file's bytes (its digest and size).
  virtual bool result_matches(const FinalResult& result, const UploadDescription& upload) const = 0;
};

}  // namespace resumable::cli
