// The tus 1.0.0 protocol (https://tus.io/protocols/resumable-upload; our front-end: docs/protocol.md
// "tus"), as a verified client: OPTIONS once for the server's versions, extensions and checksum
// algorithms; creation (POST with Upload-Length and Upload-Metadata filename/filetype); one PATCH
// per chunk, in order, each with Upload-Checksum (our tree digest's chunk digest, rsm-tree-v1, when
// the server lists it, else sha256, else none); HEAD to learn the offset when resuming; DELETE to
// cancel. The upload URL a creation returns is remembered in the state file (upload_state.h) under
// the endpoint and the file's identifier (the widget's: name, size, modification time, chunk size
// and first chunk), so a later run of the same command resumes it.
//
// Replies: 409 (offset mismatch) -> ChunkOutcome resync; 404/410 -> the URL is forgotten and the
// upload started afresh; 460 (checksum mismatch) and 423 (locked) are retried; everything else is
// read like our endpoint's (describe_failure: the error table's body, else the status list). The
// final result comes from Upload-Token and Upload-File-Digest (our front-end's result headers).
// tus without concatenation is one stream per upload: the uploader sends one chunk at a time.
//
// Contract: as Protocol (protocol.h); `http` must outlive this object. One thread.
#pragma once

#include "protocol.h"
#include "upload_state.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace resumable::cli {

struct TusSettings {
  std::string url;                   // the tus endpoint T, e.g. http://host/files
  std::vector<std::string> headers;  // "Name: value", sent with every request (auth)
  std::string state_file;            // where upload URLs are kept between runs; empty: this run only
  bool create = true;                // a status request creates the upload when none is known
  // Says what went wrong keeping the state file (the upload goes on without it).
  std::function<void(const std::string&)> warn;
};

class TusProtocol final : public Protocol {
 public:
  TusProtocol(HttpClient& http, TusSettings settings);

  HttpClient::RequestId request_status(const UploadDescription& upload,
                                       std::function<void(StatusOutcome)> on_outcome) override;
  HttpClient::RequestId send_chunk(const UploadDescription& upload, const ChunkToSend& chunk,
                                   std::function<void(ChunkOutcome)> on_outcome,
                                   HttpClient::OnProgress on_progress) override;
  HttpClient::RequestId delete_upload(const UploadDescription& upload,
                                      std::function<void(DeleteOutcome)> on_outcome) override;
  void abort(HttpClient::RequestId id) override;
  bool result_matches(const FinalResult& result, const UploadDescription& upload) const override;

  // The Upload-Checksum algorithm in use: "rsm-tree-v1", "sha256" or "" (none); known after the
  // first request.
  const std::string& checksum_algorithm() const { return checksum_; }

 private:
  using RequestId = HttpClient::RequestId;
  using OnReply = std::function<void(HttpResponse)>;
  using OnFailure = std::function<void(const HttpResponse&)>;
  struct Place {
    std::string url;                       // empty: not created (or forgotten)
    std::optional<std::uint64_t> offset;  // the server's, as last heard
  };

  // Requests under one id: `issue` starts the next one of the chain `id`.
  void issue(RequestId id, HttpRequest request, OnReply on_reply, HttpClient::OnProgress on_progress = {});
  void with_capabilities(RequestId id, std::function<void()> next, OnFailure failed);
  void create(RequestId id, const UploadDescription& upload, OnReply created, OnFailure failed);
  void patch(RequestId id, const UploadDescription& upload, const ChunkToSend& chunk,
             std::function<void(ChunkOutcome)> on_outcome, HttpClient::OnProgress on_progress);
  HttpRequest request(const std::string& method, const std::string& url) const;
  Place& place(const UploadDescription& upload);
  void remember(const UploadDescription& upload, const std::string& url);
  void forget(const UploadDescription& upload);
  std::string key(const UploadDescription& upload) const;

  HttpClient& http_;
  TusSettings settings_;
  UploadUrlStore store_;
  bool capabilities_known_ = false;
  std::string checksum_;
  RequestId next_id_ = 1;
  std::map<RequestId, RequestId> current_;  // a chain's id -> its request in flight
  std::map<std::string, Place> places_;     // by key()
};

// The file's media type from /etc/mime.types by its extension, or "" (then no filetype is sent).
std::string media_type_for(const std::string& file_name);

}  // namespace resumable::cli
