#include "tus_front_end.h"

#include <ctime>

#include "append_headers.h"
#include "append_upload.h"
#include "immediate_exchange.h"
#include "json_error.h"
#include "resumable/tree_digest.h"
#include "text_checks.h"

namespace resumable::tus {

namespace {

constexpr const char* version = "1.0.0";
constexpr const char* resumable_header = "Tus-Resumable: 1.0.0";
// Not concatenation-unfinished: a final upload names finished partials only.
constexpr const char* extensions =
    "creation,creation-with-upload,creation-defer-length,termination,expiration,checksum,concatenation";
constexpr const char* octet_stream = "application/offset+octet-stream";

bool is_octet_stream(std::optional<std::string_view> type) {
  if (!type) return false;
  std::string_view t = *type;
  if (const auto semicolon = t.find(';'); semicolon != std::string_view::npos) t = t.substr(0, semicolon);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  if (t.size() != std::string_view(octet_stream).size()) return false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i] >= 'A' && t[i] <= 'Z' ? static_cast<char>(t[i] - 'A' + 'a') : t[i];
    if (c != octet_stream[i]) return false;
  }
  return true;
}

std::string http_date(std::chrono::system_clock::time_point when) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[40];
  std::strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return text;
}

http::Reply with_tus(http::Reply reply) {
  reply.headers.emplace_back(resumable_header);
  return reply;
}

http::Reply tus_error(ErrorCode code, bool close, bool head = false) {
  auto reply = with_tus(http::json_error(code, tus_status(code), close));
  if (code == ErrorCode::unsupported_version) reply.headers.push_back(std::string("Tus-Version: ") + version);
  if (head) {  // a reply to HEAD has no body
    reply.content_type.clear();
    reply.body.clear();
  }
  return reply;
}

http::Reply empty(int status) {
  http::Reply reply;
  reply.status = status;
  return with_tus(std::move(reply));
}

// The upload's Upload-Concat value, if it is a partial or a final upload.
std::optional<std::string> concat_of(const std::map<std::string, std::string>& fields) {
  const auto it = fields.find("concat");
  if (it == fields.end()) return std::nullopt;
  return it->second;
}

bool is_final_upload(const append::OffsetState& state) {
  const auto concat = concat_of(state.protocol_fields);
  return concat && concat->starts_with("final;");
}

// Where an upload stands, in tus headers (HEAD, and the replies that move the offset).
void add_state(http::Reply& reply, const append::OffsetState& state, bool describe) {
  // A final upload has no offset until its concatenation is done (then it is its length).
  if (!is_final_upload(state) || state.final) reply.headers.push_back("Upload-Offset: " + std::to_string(state.offset));
  if (describe) {
    if (const auto concat = concat_of(state.protocol_fields)) reply.headers.push_back("Upload-Concat: " + *concat);
    if (state.length) {
      reply.headers.push_back("Upload-Length: " + std::to_string(*state.length));
    } else {
      reply.headers.emplace_back("Upload-Defer-Length: 1");
    }
    if (const auto it = state.protocol_fields.find("metadata"); it != state.protocol_fields.end()) {
      reply.headers.push_back("Upload-Metadata: " + it->second);
    }
  }
  if (state.final) {
    reply.headers.push_back("Upload-Token: " + state.final->token);
    reply.headers.push_back(std::string("Upload-File-Digest: ") + core::tree_digest_name + " " +
                            core::to_hex(state.final->digest));
  } else {
    reply.headers.push_back("Upload-Expires: " + http_date(state.expires));
  }
}

std::optional<std::uint64_t> header_number(const http::RequestView& request, std::string_view name, bool& malformed) {
  const auto value = request.header(name);
  if (!value) return std::nullopt;
  auto number = append::parse_offset(*value);
  if (!number) malformed = true;
  return number;
}

}  // namespace

int tus_status(ErrorCode code) {
  switch (code) {  // no default: a new code fails the build until it has a status here
    case ErrorCode::unauthenticated: return 401;
    case ErrorCode::forbidden: return 403;
    case ErrorCode::not_found: return 404;
    case ErrorCode::method_not_allowed: return 405;
    case ErrorCode::unsupported_version: return 412;
    case ErrorCode::malformed_request: return 400;
    case ErrorCode::invalid_parameter: return 400;
    case ErrorCode::invalid_geometry: return 413;  // bytes past the upload's length
    case ErrorCode::chunk_size_not_allowed: return 400;
    case ErrorCode::invalid_body: return 400;
    case ErrorCode::upload_conflict: return 400;  // a changed length: not retried by tus clients
    case ErrorCode::chunk_conflict: return 409;
    case ErrorCode::offset_mismatch: return 409;
    case ErrorCode::file_digest_mismatch: return 409;
    case ErrorCode::file_too_large: return 413;
    case ErrorCode::too_many_chunks: return 413;
    case ErrorCode::type_not_allowed: return 415;
    case ErrorCode::unsupported_content_type: return 415;
    case ErrorCode::chunk_digest_mismatch: return 460;  // tus checksum extension: "Checksum Mismatch"
    case ErrorCode::incomplete_body: return 400;
    case ErrorCode::body_too_slow: return 408;
    case ErrorCode::too_many_uploads: return 429;
    case ErrorCode::upload_not_found: return 404;
    case ErrorCode::not_a_partial_upload: return 400;
    case ErrorCode::partial_upload_unfinished: return 400;  // tusd's ERR_UPLOAD_NOT_FINISHED
    case ErrorCode::final_upload_immutable: return 403;  // the concatenation extension: PATCH to a final upload
    // 403, not 409: tus-js-client retries a 409 (an offset mismatch), and these do not pass.
    case ErrorCode::update_pending: return 403;
    case ErrorCode::slot_busy: return 403;
    case ErrorCode::slot_active: return 403;
    case ErrorCode::image_rejected: return 422;
    case ErrorCode::chunk_busy: return 423;  // tus clients retry 423 Locked
    case ErrorCode::out_of_order: return 503;
    case ErrorCode::server_busy: return 503;
    case ErrorCode::insufficient_storage: return 507;
    case ErrorCode::internal_error: return 500;
  }
  return 500;
}

std::optional<std::map<std::string, std::string>> parse_metadata(std::string_view header) {
  std::map<std::string, std::string> pairs;
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view pair = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    if (comma != std::string_view::npos && header.empty()) return std::nullopt;  // a trailing comma
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    while (!pair.empty() && pair.back() == ' ') pair.remove_suffix(1);
    const auto space = pair.find(' ');
    const std::string_view key = pair.substr(0, space);
    if (key.empty()) return std::nullopt;
    for (unsigned char c : key) {
      if (c <= 0x20 || c >= 0x7f) return std::nullopt;
    }
    std::string value;
    if (space != std::string_view::npos) {
      auto decoded = append::base64_decode(pair.substr(space + 1));
      if (!decoded) return std::nullopt;
      value = std::move(*decoded);
    }
    if (!pairs.emplace(std::string(key), std::move(value)).second) return std::nullopt;  // keys are unique
  }
  return pairs;
}

std::optional<Concat> parse_concat(std::string_view header, std::string_view base) {
  if (header == "partial") return Concat{true, {}};
  constexpr std::string_view final_prefix = "final;";
  if (!header.starts_with(final_prefix)) return std::nullopt;
  header.remove_prefix(final_prefix.size());
  Concat concat;
  while (!header.empty()) {
    const auto space = header.find(' ');
    std::string_view url = header.substr(0, space);
    header = space == std::string_view::npos ? std::string_view() : header.substr(space + 1);
    if (url.empty()) continue;  // runs of spaces
    for (std::string_view scheme : {"http://", "https://"}) {
      if (!url.starts_with(scheme)) continue;
      url.remove_prefix(scheme.size());
      const auto slash = url.find('/');
      if (slash == 0 || slash == std::string_view::npos) return std::nullopt;  // no authority, or no path
      url.remove_prefix(slash);
      break;
    }
    if (!url.starts_with(base) || url.size() != base.size() + 33 || url[base.size()] != '/') return std::nullopt;
    const std::string_view id = url.substr(base.size() + 1);
    if (!append::is_upload_id(id)) return std::nullopt;
    concat.parts.emplace_back(id);
  }
  if (concat.parts.empty()) return std::nullopt;
  return concat;
}

std::optional<std::string> TusFrontEnd::allowed_methods(std::string_view path) const {
  if (path.empty()) return "POST, OPTIONS";
  if (path.size() > 1 && path.front() == '/' && append::is_upload_id(path.substr(1))) return "HEAD, PATCH, DELETE, OPTIONS";
  return std::nullopt;
}

std::string TusFrontEnd::exposed_headers() const {
  // Everything a browser client (tus-js-client, Uppy) reads from our replies.
  return "Retry-After, Location, Upload-Offset, Upload-Length, Upload-Defer-Length, Upload-Metadata, Upload-Expires, "
         "Upload-Concat, Upload-Token, Upload-File-Digest, Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, "
         "Tus-Checksum-Algorithm";
}

http::Reply TusFrontEnd::error_reply(ErrorCode code, bool close) const { return tus_error(code, close); }

std::unique_ptr<http::Exchange> TusFrontEnd::exchange(const http::RequestView& request, const std::string& principal) {
  const auto& limits = core_.limits();
  const std::string_view method = request.method();
  const bool head = method == "HEAD";
  const auto refuse = [&](ErrorCode code) { return http::immediate(tus_error(code, true, head)); };
  if (method == "OPTIONS") {
    auto reply = empty(204);
    reply.headers.push_back(std::string("Tus-Version: ") + version);
    reply.headers.push_back(std::string("Tus-Extension: ") + extensions);
    reply.headers.push_back("Tus-Max-Size: " + std::to_string(limits.max_file_size));
    reply.headers.push_back("Tus-Checksum-Algorithm: " + std::string(append::checksum_algorithm_list()));
    return http::immediate(std::move(reply));
  }
  if (request.header("Tus-Resumable") != std::optional<std::string_view>(version)) {
    return refuse(ErrorCode::unsupported_version);
  }
  bool malformed = false;
  const auto upload_length = header_number(request, "Upload-Length", malformed);
  const auto upload_offset = header_number(request, "Upload-Offset", malformed);
  const auto defer = request.header("Upload-Defer-Length");
  if (malformed || (defer && *defer != "1")) return refuse(ErrorCode::invalid_parameter);
  std::optional<append::BodyChecksum> checksum;
  if (const auto text = request.header("Upload-Checksum")) {
    checksum.emplace();
    if (append::parse_checksum(*text, *checksum) != append::ChecksumParse::ok) return refuse(ErrorCode::invalid_parameter);
  }
  const auto content_length = request.content_length();

  if (method == "POST") {
    std::optional<Concat> concat;
    if (const auto header = request.header("Upload-Concat")) {
      concat = parse_concat(*header, request.base());
      if (!concat) return refuse(ErrorCode::invalid_parameter);
    }
    UploadDeclaration upload;
    upload.identifier = append::new_upload_id();
    upload.protocol_fields["protocol"] = protocol_name;
    if (const auto metadata = request.header("Upload-Metadata")) {
      if (metadata->size() > limits.max_metadata_bytes) return refuse(ErrorCode::invalid_parameter);
      const auto pairs = parse_metadata(*metadata);
      if (!pairs) return refuse(ErrorCode::invalid_parameter);
      for (const char* key : {"filename", "filetype"}) {
        const auto it = pairs->find(key);
        if (it == pairs->end()) continue;
        if (it->second.size() > limits.max_name_bytes || http::has_control_characters(it->second) ||
            !http::is_valid_utf8(it->second)) {
          return refuse(ErrorCode::invalid_parameter);
        }
      }
      if (const auto it = pairs->find("filename"); it != pairs->end()) upload.file_name = it->second;
      if (const auto it = pairs->find("filetype"); it != pairs->end()) {
        upload.mime_type = it->second;
        upload.protocol_fields["filetype"] = it->second;
      }
      upload.protocol_fields["metadata"] = std::string(*metadata);
    }
    if (concat && !concat->partial) return concatenate(request, principal, std::move(upload), concat->parts, checksum.has_value());
    if (concat) {
      upload.partial = true;
      upload.protocol_fields["concat"] = "partial";
    }
    if (upload_length.has_value() == defer.has_value()) return refuse(ErrorCode::invalid_parameter);
    const std::uint64_t body = content_length.value_or(0);
    if (body > 0 && !is_octet_stream(request.header("Content-Type"))) return refuse(ErrorCode::unsupported_content_type);
    if (!content_length && request.header("Transfer-Encoding")) return refuse(ErrorCode::invalid_body);  // length required
    upload.total_size = upload_length;
    if (upload_length && body > *upload_length) return refuse(ErrorCode::invalid_geometry);
    if (auto error = append::create_upload(core_, principal, upload)) return refuse(*error);
    const std::string location = "Location: " + std::string(request.base()) + "/" + upload.identifier;
    const std::string id = upload.identifier;
    append::AppendRequest append{principal, std::move(upload), 0, body, std::move(checksum), nullptr, {}};
    return append::make_append_exchange(core_, std::move(append), [this, principal, id, location](const append::AppendResult& result) {
      auto state = append::offset_state(core_, principal, id, protocol_name);
      if (auto* error = std::get_if<ErrorCode>(&state)) return tus_error(*error, true);
      // The upload exists whatever its first bytes met: the client resumes it from its offset.
      auto reply = empty(201);
      reply.headers.push_back(location);
      add_state(reply, std::get<append::OffsetState>(state), false);
      (void)result;
      return reply;
    });
  }

  const std::string id(request.path().substr(1));
  std::shared_ptr<void> hold;
  if (method == "PATCH") {
    // Before the offset is read: a PATCH still holding the upload is ended first, and what it
    // committed counts.
    hold = locks_.take(principal, id, request.interrupter(), limits.chunk_wait);
    if (!hold) return refuse(ErrorCode::chunk_busy);
  }
  auto found = append::offset_state(core_, principal, id, protocol_name);
  if (auto* error = std::get_if<ErrorCode>(&found)) return refuse(*error);
  auto& state = std::get<append::OffsetState>(found);
  if (head) {
    auto reply = empty(200);
    add_state(reply, state, true);
    return http::immediate(std::move(reply));
  }
  if (method == "DELETE") {
    core_.cancel(principal, id);
    return http::immediate(empty(204));
  }
  // PATCH
  if (is_final_upload(state)) return refuse(ErrorCode::final_upload_immutable);  // its bytes are its partials'
  if (!is_octet_stream(request.header("Content-Type"))) return refuse(ErrorCode::unsupported_content_type);
  if (!upload_offset) return refuse(ErrorCode::invalid_parameter);
  if (!content_length) return refuse(ErrorCode::invalid_body);  // chunked bodies: the length is needed up front
  if (upload_length) {
    if (state.length && *state.length != *upload_length) return refuse(ErrorCode::upload_conflict);
    if (*upload_length < state.offset) return refuse(ErrorCode::upload_conflict);
    if (auto error = core_.check_size(upload_length)) return refuse(*error);
    state.length = upload_length;
  }
  if (*upload_offset != state.offset) {
    auto reply = tus_error(ErrorCode::offset_mismatch, true);
    reply.headers.push_back("Upload-Offset: " + std::to_string(state.offset));
    return http::immediate(std::move(reply));
  }
  const std::uint64_t end_limit = state.length.value_or(limits.max_file_size);
  if (*content_length > end_limit - state.offset) return refuse(ErrorCode::invalid_geometry);
  if (*content_length == 0 || state.final) {
    auto reply = empty(204);
    add_state(reply, state, false);
    return http::immediate(std::move(reply));
  }
  // Each request adds at most this many pieces; the upload holds at most max_chunks.
  const std::uint64_t step = std::max<std::uint64_t>(limits.append_piece_bytes, core::leaf_bytes);
  const std::uint64_t pieces = checksum ? 1 : (state.offset + *content_length - 1) / step - state.offset / step + 1;
  if (state.stored_pieces + pieces > limits.max_chunks) return refuse(ErrorCode::too_many_chunks);
  append::AppendRequest append{principal, append::declaration_of(state, id), state.offset, *content_length,
                               std::move(checksum), std::move(hold), {}};
  return append::make_append_exchange(core_, std::move(append), [this, principal, id](const append::AppendResult& result) {
    if (result.error) return tus_error(*result.error, true);
    auto now = append::offset_state(core_, principal, id, protocol_name);
    if (auto* error = std::get_if<ErrorCode>(&now)) return tus_error(*error, true);
    auto reply = empty(204);
    add_state(reply, std::get<append::OffsetState>(now), false);
    return reply;
  });
}

std::unique_ptr<http::Exchange> TusFrontEnd::concatenate(const http::RequestView& request, const std::string& principal,
                                                         UploadDeclaration upload, const std::vector<std::string>& parts,
                                                         bool has_checksum) {
  const auto refuse = [](ErrorCode code) { return http::immediate(tus_error(code, true)); };
  // Its length is its partials' summed, and it takes no bytes of its own.
  if (request.header("Upload-Length") || request.header("Upload-Defer-Length") || has_checksum ||
      request.content_length().value_or(0) > 0 || request.header("Transfer-Encoding")) {
    return refuse(ErrorCode::invalid_parameter);
  }
  // Echoed by HEAD as the spec asks, with the URLs as this mount names them.
  std::string concat = "final;";
  for (const auto& part : parts) concat += (concat.size() > 6 ? " " : "") + std::string(request.base()) + "/" + part;
  upload.protocol_fields["concat"] = std::move(concat);
  const std::string id = upload.identifier;
  auto joined = core_.concatenate(principal, std::move(upload), parts);
  if (auto* error = std::get_if<ErrorCode>(&joined)) return refuse(*error);
  auto& final = std::get<FinalResult>(joined);
  append::OffsetState state;
  state.offset = final.size;
  state.length = final.size;
  state.protocol_fields = final.protocol_fields;
  state.final = std::move(final);
  auto reply = empty(201);
  reply.headers.push_back("Location: " + std::string(request.base()) + "/" + id);
  add_state(reply, state, false);
  return http::immediate(std::move(reply));
}

}  // namespace resumable::tus
