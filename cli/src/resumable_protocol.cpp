#include "resumable_protocol.h"

#include "retry.h"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <utility>

namespace resumable::cli {

namespace {

using Json = nlohmann::json;

// Statuses worth retrying when a reply carries no "retryable" verdict of its own (the widget's list).
constexpr long retryable_statuses_list[] = {408, 422, 425, 429, 500, 502, 503, 504, 507};

Json parse_json(const std::string& text) {
  if (text.empty()) return Json();
  Json parsed = Json::parse(text, nullptr, false);
  return parsed.is_discarded() ? Json() : parsed;
}

std::string escape(const std::string& text) {
  char* escaped = curl_easy_escape(nullptr, text.c_str(), static_cast<int>(text.size()));
  std::string out = escaped != nullptr ? escaped : "";
  curl_free(escaped);
  return out;
}

template <typename T>
T value_or(const Json& body, const char* key, T fallback) {
  const auto it = body.find(key);
  if (it == body.end()) return fallback;
  if constexpr (std::is_same_v<T, std::string>) {
    return it->is_string() ? it->template get<std::string>() : fallback;
  } else {
    return it->is_number_unsigned() ? it->template get<T>() : fallback;
  }
}

FinalResult final_result(const Json& body) {
  FinalResult result;
  result.token = value_or<std::string>(body, "token", "");
  result.identifier = value_or<std::string>(body, "identifier", "");
  result.file_name = value_or<std::string>(body, "fileName", "");
  result.size = value_or<std::uint64_t>(body, "size", 0);
  result.file_digest = value_or<std::string>(body, "fileDigest", "");
  result.digest_algorithm = value_or<std::string>(body, "digestAlgorithm", "");
  return result;
}

bool is_status(const Json& body, const char* status) {
  return body.is_object() && body.contains("status") && body["status"] == status;
}

}  // namespace

std::span<const long> retryable_statuses() { return retryable_statuses_list; }

std::optional<Milliseconds> retry_after_of(const HttpResponse& response) {
  return parse_retry_after(response.retry_after ? std::optional<std::string_view>(*response.retry_after) : std::nullopt,
                           response.date ? std::optional<std::string_view>(*response.date) : std::nullopt,
                           std::chrono::system_clock::now());
}

Failure describe_failure(const HttpResponse& response) {
  if (response.timed_out) return {"timeout", 0, "no progress within the timeout", true};
  if (response.status == 0) return {"network_error", 0, response.transport_error, !response.transport_final};
  const bool status_retryable =
      std::find(std::begin(retryable_statuses_list), std::end(retryable_statuses_list), response.status) !=
      std::end(retryable_statuses_list);
  const Json body = parse_json(response.body);
  const std::string fallback_message = "the server answered HTTP " + std::to_string(response.status);
  if (is_status(body, "error")) {
    Failure failure;
    failure.code = value_or<std::string>(body, "error", "http_" + std::to_string(response.status));
    failure.status = response.status;
    failure.message = value_or<std::string>(body, "message", "");
    if (failure.message.empty()) failure.message = fallback_message;
    const auto retryable = body.find("retryable");
    failure.retryable = retryable != body.end() && retryable->is_boolean() ? retryable->get<bool>() : status_retryable;
    return failure;
  }
  if (response.status >= 200 && response.status < 300) {
    return {"unexpected_reply", response.status, "the server's reply was not understood", true};
  }
  return {"http_" + std::to_string(response.status), response.status, fallback_message, status_retryable};
}

ResumableProtocol::ResumableProtocol(HttpClient& http, EndpointSettings settings)
    : http_(http), settings_(std::move(settings)) {
  while (!settings_.url.empty() && settings_.url.back() == '/') settings_.url.pop_back();
}

std::string ResumableProtocol::url(const std::string& suffix,
                                   const std::vector<std::pair<std::string, std::string>>& params) const {
  std::string out = settings_.url + suffix;
  char separator = out.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [name, value] : params) {
    out += separator;
    out += name + "=" + escape(value);
    separator = '&';
  }
  return out;
}

HttpClient::RequestId ResumableProtocol::request_status(const UploadDescription& upload,
                                                        std::function<void(StatusOutcome)> on_outcome) {
  HttpRequest request;
  request.url = url("/status", {{"identifier", upload.identifier}});
  request.headers = settings_.headers;
  return http_.start(std::move(request), [upload, on_outcome = std::move(on_outcome)](HttpResponse response) {
    StatusOutcome outcome;
    const Json body = parse_json(response.body);
    if (response.status == 200 && is_status(body, "complete")) {
      outcome.kind = StatusOutcome::Kind::complete;
      outcome.result = final_result(body);
    } else if (response.status == 200 && is_status(body, "partial")) {
      // The server pinned the geometry at the first chunk; another one is not this file's upload.
      if (value_or<std::uint64_t>(body, "totalSize", 0) != upload.size ||
          value_or<std::uint64_t>(body, "chunkSize", 0) != upload.chunk_size ||
          value_or<std::uint64_t>(body, "chunkCount", 0) != upload.chunk_count) {
        outcome.kind = StatusOutcome::Kind::differs;
      } else {
        outcome.kind = StatusOutcome::Kind::partial;
        // `received` lists inclusive ranges; `digests` has one digest per received chunk, in order.
        const Json& ranges = body.contains("received") ? body["received"] : Json::array();
        const Json& digests = body.contains("digests") ? body["digests"] : Json::array();
        std::size_t next = 0;
        for (const auto& range : ranges) {
          if (!range.is_array() || range.size() != 2 || !range[0].is_number_unsigned() || !range[1].is_number_unsigned()) continue;
          for (auto number = range[0].get<std::uint64_t>(); number <= range[1].get<std::uint64_t>() && number <= upload.chunk_count; ++number) {
            outcome.held[number] = next < digests.size() && digests[next].is_string() ? digests[next].get<std::string>() : "";
            ++next;
          }
        }
        const std::string declared = value_or<std::string>(body, "fileDigest", "");
        if (!declared.empty()) outcome.file_digest = declared;
      }
    } else if (response.status == 404 && body.is_object() && body.value("error", "") == "upload_not_found") {
      outcome.kind = StatusOutcome::Kind::absent;
    } else {
      outcome.failure = describe_failure(response);
      outcome.retry_after = retry_after_of(response);
    }
    on_outcome(std::move(outcome));
  });
}

HttpClient::RequestId ResumableProtocol::send_chunk(const UploadDescription& upload, const ChunkToSend& chunk,
                                                    std::function<void(ChunkOutcome)> on_outcome,
                                                    HttpClient::OnProgress on_progress) {
  std::vector<std::pair<std::string, std::string>> params = {
      {"resumableChunkNumber", std::to_string(chunk.number)},
      {"resumableChunkSize", std::to_string(upload.chunk_size)},
      {"resumableCurrentChunkSize", std::to_string(chunk.bytes->size())},
      {"resumableTotalSize", std::to_string(upload.size)},
      {"resumableTotalChunks", std::to_string(upload.chunk_count)},
      {"resumableIdentifier", upload.identifier},
      {"resumableFilename", upload.file_name},
      {"resumableRelativePath", upload.file_name},
      {"chunkDigest", chunk.digest}};
  if (upload.file_digest) params.emplace_back("fileDigest", *upload.file_digest);
  HttpRequest request;
  request.method = "POST";
  request.url = url("", params);
  request.headers = settings_.headers;
  request.body = chunk.bytes;
  request.content_type = "application/octet-stream";
  return http_.start(
      std::move(request),
      [on_outcome = std::move(on_outcome)](HttpResponse response) {
        ChunkOutcome outcome;
        const Json body = parse_json(response.body);
        if (response.status == 200 && is_status(body, "complete")) {
          outcome.kind = ChunkOutcome::Kind::complete;
          outcome.result = final_result(body);
        } else if (response.status == 200 && is_status(body, "chunk_stored")) {
          outcome.kind = ChunkOutcome::Kind::stored;
          outcome.duplicate = body.value("duplicate", false);
        } else {
          outcome.failure = describe_failure(response);
          outcome.retry_after = retry_after_of(response);
        }
        on_outcome(std::move(outcome));
      },
      std::move(on_progress));
}

HttpClient::RequestId ResumableProtocol::delete_upload(const UploadDescription& upload,
                                                       std::function<void(DeleteOutcome)> on_outcome) {
  HttpRequest request;
  request.method = "DELETE";
  request.url = url("", {{"identifier", upload.identifier}});
  request.headers = settings_.headers;
  return http_.start(std::move(request), [on_outcome = std::move(on_outcome)](HttpResponse response) {
    DeleteOutcome outcome;
    outcome.deleted = response.status == 204 || response.status == 200;
    if (!outcome.deleted) {
      outcome.failure = describe_failure(response);
      outcome.retry_after = retry_after_of(response);
    }
    on_outcome(std::move(outcome));
  });
}

// fileDigest is the tree digest ("digestAlgorithm": "rsm-tree-v1"); a server that sends only the
// plain BLAKE2b-256 of older versions has none, so it never matches.
bool ResumableProtocol::result_matches(const FinalResult& result, const UploadDescription& upload) const {
  return upload.file_digest && result.file_digest == *upload.file_digest && result.size == upload.size;
}

}  // namespace resumable::cli
