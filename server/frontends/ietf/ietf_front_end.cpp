#include "ietf_front_end.h"

#include <algorithm>

#include "immediate_exchange.h"
#include "json_error.h"
#include "resumable/tree_digest.h"
#include "structured_fields.h"
#include "text_checks.h"

namespace resumable::ietf {

namespace {

constexpr std::string_view partial_upload = "application/partial-upload";
constexpr std::uint64_t newest_interop = 8;

// The media type of a Content-Type value, without parameters, lower-cased.
std::string media_type(std::optional<std::string_view> value) {
  if (!value) return {};
  std::string_view t = value->substr(0, value->find(';'));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  std::string out(t);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string completeness(const Dialect& dialect, bool complete) {
  if (dialect.incomplete_field) return std::string("Upload-Incomplete: ") + (complete ? "?0" : "?1");
  return std::string("Upload-Complete: ") + (complete ? "?1" : "?0");
}

// Upload-Limit (a Dictionary): the mount's maximum size, and how long an unfinished upload lives
// without activity (its collection, stale_after).
std::string upload_limit(const UploadLimits& limits, std::optional<std::chrono::system_clock::time_point> expires) {
  std::string value = "Upload-Limit: max-size=" + std::to_string(std::min<std::uint64_t>(limits.max_file_size, 999999999999999));
  if (expires) {
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(*expires - std::chrono::system_clock::now()).count();
    value += ", max-age=" + std::to_string(std::max<std::int64_t>(left, 0));
  }
  return value;
}

http::Reply with_version(http::Reply reply, const Dialect& dialect) {
  if (dialect.interop != 0) reply.headers.push_back("Upload-Draft-Interop-Version: " + std::to_string(dialect.interop));
  return reply;
}

http::Reply ietf_error(ErrorCode code, bool close, bool head = false) {
  auto reply = http::json_error(code, ietf_status(code), close);
  if (head) {  // a reply to HEAD has no body
    reply.content_type.clear();
    reply.body.clear();
  }
  return reply;
}

// The limits an upload got refused by travel with the 413 (the draft requires it).
http::Reply refusal(ErrorCode code, const UploadLimits& limits, bool head = false) {
  auto reply = ietf_error(code, true, head);
  if (ietf_status(code) == 413) reply.headers.push_back(upload_limit(limits, std::nullopt));
  return reply;
}

// Where an upload stands: the reply to HEAD, and to a creation or append once its body is in. A
// finished upload also gets the final result, in headers (kept by HEAD until it is claimed) and, on
// the reply that completed it, as its JSON body.
http::Reply state_reply(const append::OffsetState& state, const Dialect& dialect, const UploadLimits& limits,
                        const std::string& id, int incomplete_status, bool head) {
  http::Reply reply;
  reply.status = incomplete_status;
  reply.headers.push_back(completeness(dialect, state.final.has_value()));
  reply.headers.push_back("Upload-Offset: " + std::to_string(state.offset));
  if (state.length) reply.headers.push_back("Upload-Length: " + std::to_string(*state.length));
  if (!state.final) {
    reply.headers.push_back(upload_limit(limits, state.expires));
    return with_version(std::move(reply), dialect);
  }
  const auto& final = *state.final;
  const std::string digest = core::to_hex(final.digest);
  reply.headers.push_back("Upload-Token: " + final.token);
  reply.headers.push_back(std::string("Upload-File-Digest: ") + core::tree_digest_name + " " + digest);
  if (!head) {
    auto body = http::json_reply(200, {{"status", "complete"},
                                       {"token", final.token},
                                       {"identifier", id},
                                       {"fileName", final.file_name},
                                       {"size", final.size},
                                       {"fileDigest", digest},
                                       {"digestAlgorithm", core::tree_digest_name}});
    body.headers = std::move(reply.headers);
    reply = std::move(body);
  } else {
    reply.status = 204;
  }
  return with_version(std::move(reply), dialect);
}

// The request's Upload-* fields and digests, parsed strictly: a malformed one refuses the request.
struct Fields {
  std::optional<bool> complete;
  std::optional<std::uint64_t> offset;
  std::optional<std::uint64_t> length;
  std::optional<append::BodyChecksum> content_digest;
  std::optional<append::BodyChecksum> repr_digest;
};

// The digest of a Content-Digest or Repr-Digest value to verify: sha-256 when given, else sha-512;
// none when it names neither (RFC 9530 lets a recipient ignore algorithms it does not support).
bool pick_digest(std::optional<std::string_view> header, std::optional<append::BodyChecksum>& out) {
  if (!header) return true;
  const auto members = parse_byte_dictionary(*header);
  if (!members) return false;
  for (const auto& [name, algorithm, length] :
       {std::tuple{"sha-256", append::ChecksumAlgorithm::sha256, std::size_t{32}},
        std::tuple{"sha-512", append::ChecksumAlgorithm::sha512, std::size_t{64}}}) {
    const auto it = members->find(std::string_view(name));
    if (it == members->end()) continue;
    if (it->second.size() != length) return false;
    out = append::BodyChecksum{algorithm, it->second};
    return true;
  }
  return true;
}

std::optional<Fields> parse_fields(const http::RequestView& request, const Dialect& dialect) {
  Fields fields;
  const char* complete_name = dialect.incomplete_field ? "Upload-Incomplete" : "Upload-Complete";
  if (const auto text = request.header(complete_name)) {
    fields.complete = parse_boolean(*text);
    if (!fields.complete) return std::nullopt;
    if (dialect.incomplete_field) fields.complete = !*fields.complete;
  }
  for (auto [name, target] : {std::pair{"Upload-Offset", &fields.offset}, std::pair{"Upload-Length", &fields.length}}) {
    if (const auto text = request.header(name)) {
      *target = parse_integer(*text);
      if (!*target) return std::nullopt;
    }
  }
  if (!pick_digest(request.header("Content-Digest"), fields.content_digest)) return std::nullopt;
  if (!pick_digest(request.header("Repr-Digest"), fields.repr_digest)) return std::nullopt;
  return fields;
}

// The one digest a body is verified against. Repr-Digest covers the whole representation, so it is
// checked only on a request that carries all of it (from offset 0, completing): elsewhere it would
// take a SHA-256 state kept across requests, and a digest the server cannot check is refused rather
// than accepted unchecked. With both fields they must agree (one hash pass per body).
std::optional<ErrorCode> body_checksum(Fields& fields, bool whole_representation,
                                       std::optional<append::BodyChecksum>& out) {
  out = std::move(fields.content_digest);
  if (!fields.repr_digest) return std::nullopt;
  if (!whole_representation) return ErrorCode::invalid_parameter;
  if (out && out->algorithm != fields.repr_digest->algorithm) return ErrorCode::invalid_parameter;
  if (out && out->expected != fields.repr_digest->expected) return ErrorCode::chunk_digest_mismatch;
  out = std::move(fields.repr_digest);
  return std::nullopt;
}

}  // namespace

int ietf_status(ErrorCode code) {
  switch (code) {  // no default: a new code fails the build until it has a status here
    case ErrorCode::unauthenticated: return 401;
    case ErrorCode::forbidden: return 403;
    case ErrorCode::not_found: return 404;
    case ErrorCode::method_not_allowed: return 405;
    case ErrorCode::unsupported_version: return 400;
    case ErrorCode::malformed_request: return 400;
    case ErrorCode::invalid_parameter: return 400;
    case ErrorCode::invalid_geometry: return 400;  // bytes past the length: the draft's inconsistent length
    case ErrorCode::chunk_size_not_allowed: return 400;
    case ErrorCode::invalid_body: return 400;
    case ErrorCode::upload_conflict: return 400;  // inconsistent length, or an append to a completed upload
    case ErrorCode::chunk_conflict: return 409;
    case ErrorCode::offset_mismatch: return 409;
    case ErrorCode::file_digest_mismatch: return 409;
    case ErrorCode::file_too_large: return 413;
    case ErrorCode::too_many_chunks: return 413;
    case ErrorCode::type_not_allowed: return 415;
    case ErrorCode::unsupported_content_type: return 415;
    case ErrorCode::chunk_digest_mismatch: return 400;  // nothing recorded; retryable says the client may resend
    case ErrorCode::incomplete_body: return 400;
    case ErrorCode::body_too_slow: return 408;
    case ErrorCode::too_many_uploads: return 429;
    case ErrorCode::upload_not_found: return 404;
    // tus concatenation only; the draft has none, so these never reach its clients.
    case ErrorCode::not_a_partial_upload: return 400;
    case ErrorCode::partial_upload_unfinished: return 400;
    case ErrorCode::final_upload_immutable: return 403;
    case ErrorCode::update_pending: return 409;
    case ErrorCode::slot_busy: return 409;
    case ErrorCode::slot_active: return 409;
    case ErrorCode::image_rejected: return 422;
    case ErrorCode::chunk_busy: return 503;  // draft clients resume after a 5xx, never after a 4xx
    case ErrorCode::out_of_order: return 503;
    case ErrorCode::server_busy: return 503;
    case ErrorCode::insufficient_storage: return 507;
    case ErrorCode::internal_error: return 500;
  }
  return 500;
}

std::optional<Dialect> dialect_of(std::optional<std::string_view> interop_version) {
  Dialect dialect;
  if (!interop_version) return dialect;
  const auto version = parse_integer(*interop_version);
  if (!version || *version < 3 || *version > newest_interop) return std::nullopt;
  dialect.interop = *version;
  dialect.incomplete_field = *version == 3;
  dialect.partial_upload_type = *version >= 6;
  return dialect;
}

std::optional<std::string> disposition_file_name(std::string_view header) {
  // Parameters after the disposition type: `; name=value` with a token or a quoted-string value.
  std::size_t at = header.find(';');
  while (at != std::string_view::npos && at < header.size()) {
    ++at;
    while (at < header.size() && (header[at] == ' ' || header[at] == '\t')) ++at;
    const auto equals = header.find('=', at);
    if (equals == std::string_view::npos) return std::nullopt;
    std::string name(header.substr(at, equals - at));
    for (auto& c : name) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    at = equals + 1;
    std::string value;
    if (at < header.size() && header[at] == '"') {
      for (++at;; ++at) {
        if (at >= header.size()) return std::nullopt;  // unterminated
        if (header[at] == '"') break;
        if (header[at] == '\\' && ++at >= header.size()) return std::nullopt;
        value += header[at];
      }
      ++at;
      while (at < header.size() && (header[at] == ' ' || header[at] == '\t')) ++at;
      if (at < header.size() && header[at] != ';') return std::nullopt;
    } else {
      const auto end = header.find(';', at);
      std::string_view token = header.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
      if (token.empty() || token.find_first_of(" \t\"") != std::string_view::npos) return std::nullopt;
      value = std::string(token);
      at = end;
    }
    if (name == "filename") return value;  // filename* (RFC 8187) is not read: the plain form suffices
  }
  return std::string();
}

std::optional<std::string> IetfFrontEnd::allowed_methods(std::string_view path) const {
  if (path.empty()) return "POST, PUT, OPTIONS";
  if (path.size() > 1 && path.front() == '/' && append::is_upload_id(path.substr(1))) return "HEAD, PATCH, DELETE, OPTIONS";
  return std::nullopt;
}

std::string IetfFrontEnd::exposed_headers() const {
  return "Retry-After, Location, Upload-Offset, Upload-Complete, Upload-Incomplete, Upload-Length, Upload-Limit, "
         "Upload-Draft-Interop-Version, Upload-Token, Upload-File-Digest, Accept-Patch";
}

http::Reply IetfFrontEnd::error_reply(ErrorCode code, bool close) const { return ietf_error(code, close); }

std::unique_ptr<http::Exchange> IetfFrontEnd::exchange(const http::RequestView& request, const std::string& principal) {
  const std::string_view method = request.method();
  const bool head = method == "HEAD";
  const auto dialect = dialect_of(request.header("Upload-Draft-Interop-Version"));
  if (!dialect) return http::immediate(ietf_error(ErrorCode::unsupported_version, true, head));
  if (method == "OPTIONS") {
    http::Reply reply;
    reply.status = 204;
    reply.headers.push_back("Accept-Patch: " + std::string(partial_upload));
    reply.headers.push_back(upload_limit(core_.limits(), std::nullopt));
    return http::immediate(with_version(std::move(reply), *dialect));
  }
  if (method == "POST" || method == "PUT") return create(request, principal, *dialect);
  if (method == "PATCH") return append(request, principal, *dialect);

  const std::string id(request.path().substr(1));
  // The draft's recommended handling of concurrency: an offset retrieval or a cancellation first ends
  // a request still appending to the upload (a stalled one, whose client gave up), so the offset it
  // reports is one the next append can use.
  const auto hold = locks_.take(principal, id, request.interrupter(), core_.limits().chunk_wait);
  if (!hold) return http::immediate(ietf_error(ErrorCode::chunk_busy, true, head));
  auto found = append::offset_state(core_, principal, id, protocol_name);
  if (auto* error = std::get_if<ErrorCode>(&found)) return http::immediate(ietf_error(*error, true, head));
  if (head) {
    return http::immediate(state_reply(std::get<append::OffsetState>(found), *dialect, core_.limits(), id, 204, true));
  }
  core_.cancel(principal, id);  // DELETE
  http::Reply gone;
  gone.status = 204;
  return http::immediate(with_version(std::move(gone), *dialect));
}

std::unique_ptr<http::Exchange> IetfFrontEnd::create(const http::RequestView& request, const std::string& principal,
                                                     const Dialect& dialect) {
  const auto& limits = core_.limits();
  const auto refuse = [&](ErrorCode code) { return http::immediate(refusal(code, limits)); };
  auto fields = parse_fields(request, dialect);
  if (!fields) return refuse(ErrorCode::invalid_parameter);
  // This mount serves resumable uploads only: a request that does not ask for one is not understood.
  if (!fields->complete) return refuse(ErrorCode::invalid_parameter);
  if (fields->offset && *fields->offset != 0) return refuse(ErrorCode::invalid_parameter);
  const auto content_length = request.content_length();
  if (!content_length && request.header("Transfer-Encoding")) return refuse(ErrorCode::invalid_body);  // length required
  const std::uint64_t body = content_length.value_or(0);
  // The length: the body's when it completes the upload, else Upload-Length if given; both must agree.
  std::optional<std::uint64_t> length = fields->length;
  if (*fields->complete) {
    if (length && *length != body) return refuse(ErrorCode::upload_conflict);
    length = body;
  }
  if (length && body > *length) return refuse(ErrorCode::invalid_geometry);
  if (!length && body > limits.max_file_size) return refuse(ErrorCode::file_too_large);
  std::optional<append::BodyChecksum> checksum;
  if (auto error = body_checksum(*fields, *fields->complete, checksum)) return refuse(*error);

  UploadDeclaration upload;
  upload.identifier = append::new_upload_id();
  upload.total_size = length;
  upload.protocol_fields["protocol"] = protocol_name;
  if (const auto disposition = request.header("Content-Disposition")) {
    auto name = disposition_file_name(*disposition);
    if (!name || name->size() > limits.max_name_bytes || http::has_control_characters(*name) || !http::is_valid_utf8(*name)) {
      return refuse(ErrorCode::invalid_parameter);
    }
    upload.file_name = std::move(*name);
  }
  // The representation's type, unless the client labels the creation's content as a part of it.
  if (auto type = media_type(request.header("Content-Type")); !type.empty() && type != partial_upload) {
    if (type.size() > limits.max_name_bytes || http::has_control_characters(type)) return refuse(ErrorCode::invalid_parameter);
    upload.mime_type = type;
    upload.protocol_fields["filetype"] = std::move(type);
  }
  if (auto error = append::create_upload(core_, principal, upload)) return refuse(*error);
  const std::string location = "Location: " + std::string(request.base()) + "/" + upload.identifier;
  std::optional<http::Reply> interim;
  if (dialect.interop != 0 && body > 0) {
    // 104 only to a client that named the interop version it speaks (the draft requires that).
    interim.emplace();
    interim->status = 104;
    interim->headers = {location, upload_limit(limits, std::chrono::system_clock::now() + limits.stale_after)};
    *interim = with_version(std::move(*interim), dialect);
  }
  const std::string id = upload.identifier;
  // Held from the start, so that a resumption (HEAD or PATCH at the Location) ends this request
  // first when it stalls. A fresh upload: nobody else holds it.
  auto hold = locks_.take(principal, id, request.interrupter(), limits.chunk_wait);
  append::AppendRequest append{principal, std::move(upload), 0, body, std::move(checksum), std::move(hold),
                               std::move(interim)};
  return append::make_append_exchange(core_, std::move(append), [this, principal, id, location, dialect](const append::AppendResult& result) {
    auto state = append::offset_state(core_, principal, id, protocol_name);
    if (auto* error = std::get_if<ErrorCode>(&state)) return refusal(*error, core_.limits());
    // The upload exists whatever its first bytes met: the Location lets the client resume it.
    auto reply = result.error ? refusal(*result.error, core_.limits())
                              : state_reply(std::get<append::OffsetState>(state), dialect, core_.limits(), id, 201, false);
    reply.headers.push_back(location);
    return reply;
  });
}

std::unique_ptr<http::Exchange> IetfFrontEnd::append(const http::RequestView& request, const std::string& principal,
                                                     const Dialect& dialect) {
  const auto& limits = core_.limits();
  const auto refuse = [&](ErrorCode code) { return http::immediate(refusal(code, limits)); };
  const std::string id(request.path().substr(1));
  // Before the offset is read: a PATCH still holding the upload is ended first, and what it
  // committed counts (the draft's recommended handling of concurrent appends).
  auto hold = locks_.take(principal, id, request.interrupter(), limits.chunk_wait);
  if (!hold) return refuse(ErrorCode::chunk_busy);
  auto found = append::offset_state(core_, principal, id, protocol_name);
  if (auto* error = std::get_if<ErrorCode>(&found)) return refuse(*error);
  auto& state = std::get<append::OffsetState>(found);
  if (dialect.partial_upload_type && media_type(request.header("Content-Type")) != partial_upload) {
    return refuse(ErrorCode::unsupported_content_type);
  }
  auto fields = parse_fields(request, dialect);
  if (!fields || !fields->complete || !fields->offset) return refuse(ErrorCode::invalid_parameter);
  const auto content_length = request.content_length();
  if (!content_length) return refuse(ErrorCode::invalid_body);  // chunked bodies: the length is needed up front
  if (state.final) return refuse(ErrorCode::upload_conflict);  // a completed upload takes nothing more
  if (*fields->offset != state.offset) {
    auto reply = refusal(ErrorCode::offset_mismatch, limits);
    reply.headers.push_back("Upload-Offset: " + std::to_string(state.offset));
    reply.headers.push_back(completeness(dialect, false));
    return http::immediate(std::move(reply));
  }
  // Every length this request implies must agree with what the upload knows.
  std::optional<std::uint64_t> length = state.length;
  for (const auto implied : {fields->length, *fields->complete ? std::optional(state.offset + *content_length) : std::nullopt}) {
    if (!implied) continue;
    if (length && *length != *implied) return refuse(ErrorCode::upload_conflict);
    if (*implied < state.offset) return refuse(ErrorCode::upload_conflict);
    length = implied;
  }
  if (auto error = core_.check_size(length)) return refuse(*error);
  if (!length && *content_length > limits.max_file_size - std::min(state.offset, limits.max_file_size)) {
    return refuse(ErrorCode::file_too_large);
  }
  if (length && *content_length > *length - state.offset) return refuse(ErrorCode::invalid_geometry);
  std::optional<append::BodyChecksum> checksum;
  if (auto error = body_checksum(*fields, state.offset == 0 && *fields->complete, checksum)) return refuse(*error);
  if (*content_length == 0) {
    // No bytes: the request may still pin the length, or say "that was all" (its offset is then the
    // length). An upload whose every byte of a known length is in is complete.
    std::optional<PieceOutcome> outcome;
    if (length && !state.length) {
      if (*length == 0) {
        PieceRequest piece;  // the empty file: its one, empty piece
        piece.upload = append::declaration_of(state, id);
        piece.upload.total_size = 0;
        auto start = core_.begin_piece(principal, piece);
        if (auto* writer = std::get_if<PieceWriter>(&start)) outcome = writer->finish();
        if (auto* error = std::get_if<ErrorCode>(&start)) outcome = *error;
      } else if (auto error = core_.declare_size(principal, id, *length)) {
        outcome = *error;
      }
    }
    if (!outcome && length && *length == state.offset && *length != 0) outcome = core_.resume_finalization(principal, id);
    if (outcome) {
      if (auto* error = std::get_if<ErrorCode>(&*outcome)) return refuse(*error);
    }
    auto now = append::offset_state(core_, principal, id, protocol_name);
    if (auto* error = std::get_if<ErrorCode>(&now)) return refuse(*error);
    const auto& current = std::get<append::OffsetState>(now);
    if (*fields->complete && !current.final) return refuse(ErrorCode::chunk_busy);  // still being released
    return http::immediate(state_reply(current, dialect, limits, id, 204, false));
  }
  state.length = length;
  // Each request adds at most this many pieces; the upload holds at most max_chunks.
  const std::uint64_t step = std::max<std::uint64_t>(limits.append_piece_bytes, core::leaf_bytes);
  const std::uint64_t pieces = checksum ? 1 : (state.offset + *content_length - 1) / step - state.offset / step + 1;
  if (state.stored_pieces + pieces > limits.max_chunks) return refuse(ErrorCode::too_many_chunks);
  append::AppendRequest append{principal, append::declaration_of(state, id), state.offset, *content_length,
                               std::move(checksum), std::move(hold), std::nullopt};
  return append::make_append_exchange(core_, std::move(append), [this, principal, id, dialect](const append::AppendResult& result) {
    if (result.error) return refusal(*result.error, core_.limits());
    auto now = append::offset_state(core_, principal, id, protocol_name);
    if (auto* error = std::get_if<ErrorCode>(&now)) return refusal(*error, core_.limits());
    return state_reply(std::get<append::OffsetState>(now), dialect, core_.limits(), id, 204, false);
  });
}

}  // namespace resumable::ietf
