#include "request_params.h"

#include <charconv>

#include "text_checks.h"

namespace resumable::resumablejs {

using http::has_control_characters;

namespace {

constexpr const char* prefixes[] = {"resumable", "flow"};

std::optional<ParamValue> find_param(const ParamLookup& lookup, std::string_view suffix) {
  for (const char* prefix : prefixes) {
    if (auto value = lookup(std::string(prefix) + std::string(suffix))) return value;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_u64(const std::string& text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// A display string: required or optional, bounded, valid UTF-8, no control characters.
std::optional<ErrorCode> read_text(const std::optional<ParamValue>& param, bool required, std::size_t max_bytes,
                                   std::string& out) {
  if (!param) return required ? std::optional(ErrorCode::invalid_parameter) : std::nullopt;
  if (param->too_long || param->conflicting || param->value.size() > max_bytes || (required && param->value.empty()) ||
      has_control_characters(param->value) || !is_valid_utf8(param->value)) {
    return ErrorCode::invalid_parameter;
  }
  out = param->value;
  return std::nullopt;
}

std::optional<ErrorCode> read_number(const std::optional<ParamValue>& param, std::uint64_t& out) {
  if (!param || param->too_long || param->conflicting) return ErrorCode::invalid_parameter;
  const auto value = parse_u64(param->value);
  if (!value) return ErrorCode::invalid_parameter;
  out = *value;
  return std::nullopt;
}

std::optional<ErrorCode> read_digest(const std::optional<ParamValue>& param, std::optional<core::Digest>& out) {
  if (!param) return std::nullopt;
  if (param->too_long || param->conflicting) return ErrorCode::invalid_parameter;
  out = core::digest_from_hex(param->value);
  if (!out) return ErrorCode::invalid_parameter;
  return std::nullopt;
}

}  // namespace

std::variant<ErrorCode, ChunkRequest> parse_chunk_request(const ParamLookup& lookup, const UploadLimits& limits) {
  ChunkRequest request;
  std::optional<ErrorCode> error;
  auto check = [&](std::optional<ErrorCode> e) {
    if (e && !error) error = e;
  };
  check(read_number(find_param(lookup, "ChunkNumber"), request.number));
  check(read_number(find_param(lookup, "ChunkSize"), request.chunk_size));
  check(read_number(find_param(lookup, "CurrentChunkSize"), request.current_size));
  check(read_number(find_param(lookup, "TotalSize"), request.total_size));
  check(read_number(find_param(lookup, "TotalChunks"), request.chunk_count));
  check(read_text(find_param(lookup, "Identifier"), true, limits.max_name_bytes, request.identifier));
  check(read_text(find_param(lookup, "Filename"), true, limits.max_name_bytes, request.file_name));
  check(read_text(find_param(lookup, "RelativePath"), false, limits.max_relative_path_bytes, request.relative_path));
  check(read_text(find_param(lookup, "Type"), false, limits.max_name_bytes, request.mime_type));
  check(read_digest(lookup("chunkDigest"), request.chunk_digest));
  check(read_digest(lookup("fileDigest"), request.file_digest));
  if (error) return *error;
  return request;
}

std::variant<ErrorCode, std::string> parse_identifier(const ParamLookup& lookup, const UploadLimits& limits) {
  auto param = lookup("identifier");
  if (!param) param = find_param(lookup, "Identifier");
  std::string identifier;
  if (auto error = read_text(param, true, limits.max_name_bytes, identifier)) return *error;
  return identifier;
}

}  // namespace resumable::resumablejs
