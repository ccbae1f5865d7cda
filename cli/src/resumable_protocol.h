// Our endpoint's protocol (docs/protocol.md): resumable.js parameters plus chunk and file digests,
// the status request, cancel, and the final result with its token. The same requests and the same
// reading of replies as the widget (widget/src/protocol.js): chunks are raw octet POSTs with every
// parameter in the query; a reply's `retryable` decides, and for bodies without one (a proxy's
// error page) the statuses 408, 422, 425, 429 and 5xx are retried.
#pragma once

#include "protocol.h"

#include <span>
#include <string>
#include <vector>

namespace resumable::cli {

struct EndpointSettings {
  std::string url;                   // the endpoint's base URL B, e.g. http://host/upload
  std::vector<std::string> headers;  // "Name: value", sent with every request (auth, CSRF)
};

class ResumableProtocol final : public Protocol {
 public:
  // `http` must outlive this object.
  ResumableProtocol(HttpClient& http, EndpointSettings settings);

  HttpClient::RequestId request_status(const UploadDescription& upload,
                                       std::function<void(StatusOutcome)> on_outcome) override;
  HttpClient::RequestId send_chunk(const UploadDescription& upload, const ChunkToSend& chunk,
                                   std::function<void(ChunkOutcome)> on_outcome,
                                   HttpClient::OnProgress on_progress) override;
  HttpClient::RequestId delete_upload(const UploadDescription& upload,
                                      std::function<void(DeleteOutcome)> on_outcome) override;
  void abort(HttpClient::RequestId id) override { http_.abort(id); }
  bool result_matches(const FinalResult& result, const UploadDescription& upload) const override;

 private:
  std::string url(const std::string& suffix, const std::vector<std::pair<std::string, std::string>>& params) const;

  HttpClient& http_;
  EndpointSettings settings_;
};

// A reply that is not a success, as the error table and the widget read it.
Failure describe_failure(const HttpResponse& response);

// How long the reply's Retry-After asks to wait (against its own Date), if it asks.
std::optional<Milliseconds> retry_after_of(const HttpResponse& response);

// The statuses retried when a reply has no "retryable" of its own (the widget's RETRYABLE_STATUSES).
std::span<const long> retryable_statuses();

}  // namespace resumable::cli
