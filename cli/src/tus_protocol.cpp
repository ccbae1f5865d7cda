#include "tus_protocol.h"

#include "resumable/tree_digest.h"
#include "resumable_protocol.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <span>
#include <sstream>
#include <utility>

namespace resumable::cli {

namespace {

constexpr const char* tus_version = "1.0.0";
constexpr const char* tree_algorithm = "rsm-tree-v1";
constexpr const char* sha256_algorithm = "sha256";

std::string base64(std::span<const std::uint8_t> bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.pop_back();  // the terminating NUL
  return out;
}

std::string base64(const std::string& text) {
  return base64(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

// 1*DIGIT that fits; nullopt for anything else (signs, spaces, overflow).
std::optional<std::uint64_t> number_of(const std::optional<std::string>& text) {
  if (!text || text->empty() || text->size() > 19) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : *text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

// "a, b,c" -> {"a", "b", "c"}
std::vector<std::string> list_of(const std::optional<std::string>& text) {
  std::vector<std::string> items;
  if (!text) return items;
  std::stringstream in(*text);
  for (std::string item; std::getline(in, item, ',');) {
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// As our endpoint's replies, plus tus's own retryable statuses for servers whose bodies say nothing.
Failure tus_failure(const HttpResponse& response) {
  Failure failure = describe_failure(response);
  if (response.status == 460 || response.status == 423) failure.retryable = true;  // checksum mismatch, locked
  return failure;
}

// Hands `on_outcome` a failed Outcome (status, chunk, delete) for the reply.
template <typename Outcome>
auto fail_with(std::function<void(Outcome)> on_outcome) {
  return [on_outcome = std::move(on_outcome)](const HttpResponse& r) {
    Outcome outcome;
    outcome.failure = tus_failure(r);
    outcome.retry_after = retry_after_of(r);
    on_outcome(std::move(outcome));
  };
}

// The final result in our front-end's headers; nullopt while the upload is not finished.
std::optional<FinalResult> final_result_of(const HttpResponse& response, const UploadDescription& upload,
                                           std::uint64_t offset) {
  // A server other than ours says nothing but the offset: complete when it reaches the length.
  const auto token = response.header("upload-token");
  if (!token && (offset != upload.size || response.header("upload-defer-length"))) return std::nullopt;
  FinalResult result;
  result.token = token.value_or("");
  result.identifier = upload.identifier;
  result.file_name = upload.file_name;
  result.size = number_of(response.header("upload-length")).value_or(offset);
  // "rsm-tree-v1 <64 hex digits>"
  const std::string digest = response.header("upload-file-digest").value_or("");
  const auto space = digest.find(' ');
  if (space != std::string::npos) {
    result.digest_algorithm = digest.substr(0, space);
    result.file_digest = digest.substr(space + 1);
    std::transform(result.file_digest.begin(), result.file_digest.end(), result.file_digest.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  return result;
}

// Chunks wholly below the server's offset; its digests are not known (tus reports none).
std::map<std::uint64_t, std::string> held_below(std::uint64_t offset, const UploadDescription& upload) {
  std::map<std::uint64_t, std::string> held;
  const std::uint64_t count = offset >= upload.size ? upload.chunk_count
                                                    : std::min(offset / upload.chunk_size, upload.chunk_count - 1);
  for (std::uint64_t number = 1; number <= count; ++number) held.emplace(number, "");
  return held;
}

// Where `location` points, resolved against `base`, if it is on the same origin (scheme, host and
// port): our --header values (credentials) must not go anywhere a reply names.
std::optional<std::string> resolve_location(const std::string& base, const std::string& location) {
  CURLU* url = curl_url();
  CURLU* origin = curl_url();
  std::optional<std::string> resolved;
  if (url != nullptr && origin != nullptr && curl_url_set(origin, CURLUPART_URL, base.c_str(), 0) == CURLUE_OK &&
      curl_url_set(url, CURLUPART_URL, base.c_str(), 0) == CURLUE_OK &&
      curl_url_set(url, CURLUPART_URL, location.c_str(), 0) == CURLUE_OK) {
    bool same = true;
    for (const CURLUPart part : {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT}) {
      char* a = nullptr;
      char* b = nullptr;
      curl_url_get(url, part, &a, CURLU_DEFAULT_PORT);
      curl_url_get(origin, part, &b, CURLU_DEFAULT_PORT);
      same = same && a != nullptr && b != nullptr && std::string_view(a) == std::string_view(b);
      curl_free(a);
      curl_free(b);
    }
    char* text = nullptr;
    if (same && curl_url_get(url, CURLUPART_URL, &text, 0) == CURLUE_OK) resolved = text;
    curl_free(text);
  }
  curl_url_cleanup(url);
  curl_url_cleanup(origin);
  return resolved;
}

std::vector<std::uint8_t> sha256(std::span<const std::uint8_t> bytes) {
  std::vector<std::uint8_t> digest(EVP_MAX_MD_SIZE);
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) return {};
  digest.resize(length);
  return digest;
}

}  // namespace

std::string media_type_for(const std::string& file_name) {
  const auto dot = file_name.find_last_of('.');
  if (dot == std::string::npos || dot + 1 == file_name.size()) return "";
  std::string extension = file_name.substr(dot + 1);
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::ifstream types("/etc/mime.types");  // Debian's media-types: "type ext ext ..." per line
  for (std::string line; std::getline(types, line);) {
    if (line.empty() || line.front() == '#') continue;
    std::stringstream words(line);
    std::string type;
    words >> type;
    for (std::string word; words >> word;) {
      if (word == extension) return type;
    }
  }
  return "";
}

TusProtocol::TusProtocol(HttpClient& http, TusSettings settings)
    : http_(http), settings_(std::move(settings)), store_(settings_.state_file) {
  while (!settings_.url.empty() && settings_.url.back() == '/') settings_.url.pop_back();
}

std::string TusProtocol::key(const UploadDescription& upload) const { return settings_.url + " " + upload.identifier; }

TusProtocol::Place& TusProtocol::place(const UploadDescription& upload) {
  const std::string k = key(upload);
  auto it = places_.find(k);
  if (it == places_.end()) {
    Place loaded;
    loaded.url = store_.find(k).value_or("");
    it = places_.emplace(k, std::move(loaded)).first;
  }
  return it->second;
}

void TusProtocol::remember(const UploadDescription& upload, const std::string& url) {
  Place& p = place(upload);
  p.url = url;
  p.offset = 0;
  std::string error;
  if (!store_.remember(key(upload), url, &error) && settings_.warn) {
    settings_.warn("cannot keep the upload's URL for a later run: " + error);
  }
}

void TusProtocol::forget(const UploadDescription& upload) {
  places_.erase(key(upload));
  std::string error;
  if (!store_.forget(key(upload), &error) && settings_.warn) settings_.warn("cannot update the upload state: " + error);
}

HttpRequest TusProtocol::request(const std::string& method, const std::string& url) const {
  HttpRequest r;
  r.method = method;
  r.url = url;
  r.headers = settings_.headers;
  r.headers.push_back(std::string("Tus-Resumable: ") + tus_version);
  return r;
}

void TusProtocol::issue(RequestId id, HttpRequest request, OnReply on_reply, HttpClient::OnProgress on_progress) {
  const RequestId inner = http_.start(
      std::move(request),
      [this, id, on_reply = std::move(on_reply)](HttpResponse response) {
        current_.erase(id);  // the reply may start the chain's next request
        on_reply(std::move(response));
      },
      std::move(on_progress));
  current_[id] = inner;
}

void TusProtocol::abort(RequestId id) {
  const auto it = current_.find(id);
  if (it == current_.end()) return;
  http_.abort(it->second);
  current_.erase(it);
}

void TusProtocol::with_capabilities(RequestId id, std::function<void()> next, OnFailure failed) {
  if (capabilities_known_) {
    next();
    return;
  }
  issue(id, request("OPTIONS", settings_.url), [this, next = std::move(next), failed = std::move(failed)](HttpResponse r) {
    if (r.status != 200 && r.status != 204) {
      failed(r);
      return;
    }
    const auto versions = list_of(r.header("tus-version"));
    const auto extensions = list_of(r.header("tus-extension"));
    if (!contains(versions, tus_version) || !contains(extensions, "creation")) {
      HttpResponse refusal = r;
      refusal.status = 412;
      refusal.body = R"({"status": "error", "error": "unsupported_version", "retryable": false, "message": )"
                     R"("the server does not offer tus 1.0.0 with creation"})";
      failed(refusal);
      return;
    }
    const auto algorithms = list_of(r.header("tus-checksum-algorithm"));
    checksum_ = !contains(extensions, "checksum")        ? ""
                : contains(algorithms, tree_algorithm)   ? tree_algorithm
                : contains(algorithms, sha256_algorithm) ? sha256_algorithm
                                                         : "";
    capabilities_known_ = true;
    next();
  });
}

void TusProtocol::create(RequestId id, const UploadDescription& upload, OnReply created, OnFailure failed) {
  HttpRequest r = request("POST", settings_.url);
  r.headers.push_back("Upload-Length: " + std::to_string(upload.size));
  std::string metadata = "filename " + base64(upload.file_name);
  if (const std::string type = media_type_for(upload.file_name); !type.empty()) metadata += ",filetype " + base64(type);
  r.headers.push_back("Upload-Metadata: " + metadata);
  r.headers.emplace_back("Content-Type:");  // no body: not libcurl's form type either
  issue(id, std::move(r), [this, upload, created = std::move(created), failed = std::move(failed)](HttpResponse response) {
    if (response.status != 201) {
      failed(response);
      return;
    }
    const auto location = resolve_location(settings_.url, response.header("location").value_or(""));
    if (!location) {
      HttpResponse refusal = response;
      refusal.status = 502;
      refusal.body = R"({"status": "error", "error": "unexpected_reply", "retryable": false, "message": )"
                     R"("the creation's Location is missing or on another origin than the endpoint"})";
      failed(refusal);
      return;
    }
    remember(upload, *location);
    place(upload).offset = number_of(response.header("upload-offset")).value_or(0);
    created(std::move(response));
  });
}

HttpClient::RequestId TusProtocol::request_status(const UploadDescription& upload,
                                                  std::function<void(StatusOutcome)> on_outcome) {
  const RequestId id = next_id_++;
  const auto on_failure = fail_with(on_outcome);
  // Nothing known on the server: create it, or (the status verb) say so.
  auto absent = [this, id, upload, on_outcome, on_failure] {
    if (!settings_.create) {
      // A request all the same, so that the outcome comes from poll() as the contract says.
      issue(id, request("OPTIONS", settings_.url), [on_outcome](HttpResponse) {
        StatusOutcome outcome;
        outcome.kind = StatusOutcome::Kind::absent;
        on_outcome(std::move(outcome));
      });
      return;
    }
    create(id, upload, [upload, on_outcome](HttpResponse response) {
      StatusOutcome outcome;
      const std::uint64_t offset = number_of(response.header("upload-offset")).value_or(0);
      if (auto result = final_result_of(response, upload, offset)) {  // the empty file
        outcome.kind = StatusOutcome::Kind::complete;
        outcome.result = std::move(*result);
      } else {
        outcome.kind = StatusOutcome::Kind::partial;
        outcome.held_digests = false;
      }
      on_outcome(std::move(outcome));
    }, on_failure);
  };
  with_capabilities(id, [this, id, upload, on_outcome, on_failure, absent] {
    const std::string url = place(upload).url;
    if (url.empty()) {
      absent();
      return;
    }
    issue(id, request("HEAD", url), [this, upload, on_outcome, on_failure, absent](HttpResponse r) {
      if (r.status == 404 || r.status == 410) {
        forget(upload);  // collected, claimed, cancelled, or not this principal's
        absent();
        return;
      }
      const auto offset = number_of(r.header("upload-offset"));
      if (r.status != 200 || !offset) {
        on_failure(r);
        return;
      }
      StatusOutcome outcome;
      const auto length = number_of(r.header("upload-length"));
      if ((length && *length != upload.size) || *offset > upload.size) {
        outcome.kind = StatusOutcome::Kind::differs;
      } else if (auto result = final_result_of(r, upload, *offset)) {
        outcome.kind = StatusOutcome::Kind::complete;
        outcome.result = std::move(*result);
      } else {
        place(upload).offset = *offset;
        outcome.kind = StatusOutcome::Kind::partial;
        outcome.held = held_below(*offset, upload);
        outcome.held_digests = false;
      }
      on_outcome(std::move(outcome));
    });
  }, on_failure);
  return id;
}

HttpClient::RequestId TusProtocol::send_chunk(const UploadDescription& upload, const ChunkToSend& chunk,
                                              std::function<void(ChunkOutcome)> on_outcome,
                                              HttpClient::OnProgress on_progress) {
  const RequestId id = next_id_++;
  const auto on_failure = fail_with(on_outcome);
  with_capabilities(id, [this, id, upload, chunk, on_outcome, on_progress, on_failure] {
    if (!place(upload).url.empty()) {
      patch(id, upload, chunk, on_outcome, on_progress);
      return;
    }
    // Started afresh (the old upload was gone): create it, then send.
    create(id, upload, [this, id, upload, chunk, on_outcome, on_progress](HttpResponse) {
      patch(id, upload, chunk, on_outcome, on_progress);
    }, on_failure);
  }, on_failure);
  return id;
}

void TusProtocol::patch(RequestId id, const UploadDescription& upload, const ChunkToSend& chunk,
                        std::function<void(ChunkOutcome)> on_outcome, HttpClient::OnProgress on_progress) {
  Place& p = place(upload);
  const std::uint64_t start = (chunk.number - 1) * upload.chunk_size;
  const std::uint64_t end = start + chunk.bytes->size();
  // The server may hold part of this chunk (bodies without a checksum are kept piece by piece):
  // send only the rest, with a checksum of the rest.
  const std::uint64_t from = p.offset && *p.offset > start && *p.offset < end ? *p.offset : start;
  std::shared_ptr<const std::vector<std::uint8_t>> body = chunk.bytes;
  if (from != start) {
    body = std::make_shared<const std::vector<std::uint8_t>>(chunk.bytes->begin() + static_cast<std::ptrdiff_t>(from - start),
                                                             chunk.bytes->end());
  }
  HttpRequest r = request("PATCH", p.url);
  r.content_type = "application/offset+octet-stream";
  r.headers.push_back("Upload-Offset: " + std::to_string(from));
  if (checksum_ == tree_algorithm) {
    // The chunk's digest is the tree digest's chunk digest of its byte range: what the server checks.
    const auto digest = from == start ? core::digest_from_hex(chunk.digest) : core::chunk_digest(*body, from, upload.size);
    if (digest) r.headers.push_back(std::string("Upload-Checksum: ") + tree_algorithm + " " + base64(*digest));
  } else if (checksum_ == sha256_algorithm) {
    r.headers.push_back(std::string("Upload-Checksum: ") + sha256_algorithm + " " + base64(sha256(*body)));
  }
  r.body = std::move(body);
  issue(id, std::move(r), [this, upload, end, on_outcome](HttpResponse response) {
    ChunkOutcome outcome;
    const auto offset = number_of(response.header("upload-offset"));
    if (response.status == 204 || response.status == 200) {
      if (!offset) {
        outcome.failure = tus_failure(response);
        outcome.failure.code = "unexpected_reply";
        outcome.failure.retryable = true;
      } else if (auto result = final_result_of(response, upload, *offset)) {
        outcome.kind = ChunkOutcome::Kind::complete;
        outcome.result = std::move(*result);
      } else {
        place(upload).offset = *offset;
        outcome.kind = *offset == end ? ChunkOutcome::Kind::stored : ChunkOutcome::Kind::resync;
      }
    } else if (response.status == 409 && (offset || tus_failure(response).code == "offset_mismatch")) {
      place(upload).offset = offset;  // the HEAD that follows says for sure
      outcome.kind = ChunkOutcome::Kind::resync;
    } else if (response.status == 404 || response.status == 410) {
      forget(upload);
      outcome.kind = ChunkOutcome::Kind::gone;
    } else {
      fail_with(on_outcome)(response);
      return;
    }
    on_outcome(std::move(outcome));
  }, std::move(on_progress));
}

HttpClient::RequestId TusProtocol::delete_upload(const UploadDescription& upload,
                                                 std::function<void(DeleteOutcome)> on_outcome) {
  const RequestId id = next_id_++;
  const std::string url = place(upload).url;
  // Nothing created: nothing to delete (a request all the same, for the contract's poll()).
  issue(id, request(url.empty() ? "OPTIONS" : "DELETE", url.empty() ? settings_.url : url),
        [this, upload, known = !url.empty(), on_outcome](HttpResponse r) {
          DeleteOutcome outcome;
          outcome.deleted = !known || r.status == 204 || r.status == 200 || r.status == 404 || r.status == 410;
          if (outcome.deleted) {
            if (known) forget(upload);
          } else {
            outcome.failure = tus_failure(r);
            outcome.retry_after = retry_after_of(r);
          }
          on_outcome(std::move(outcome));
        });
  return id;
}

// With our server's Upload-File-Digest: it must be the file's. A server that sends none (tusd, say)
// is trusted only if every PATCH carried a checksum it accepted: then each stored byte range was
// checked, and the offsets joined them without a gap.
bool TusProtocol::result_matches(const FinalResult& result, const UploadDescription& upload) const {
  if (result.size != upload.size || !upload.file_digest) return false;
  if (result.digest_algorithm.empty() && result.file_digest.empty()) return !checksum_.empty();
  return result.digest_algorithm == tree_algorithm && result.file_digest == *upload.file_digest;
}

}  // namespace resumable::cli
