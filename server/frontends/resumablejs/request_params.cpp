#include "request_params.h"

#include <charconv>

namespace resumable::resumablejs {

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

bool has_control_characters(std::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
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

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t code_point = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      length = 2;
      code_point = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      length = 3;
      code_point = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      length = 4;
      code_point = c & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto continuation = static_cast<unsigned char>(text[i + k]);
      if ((continuation & 0xc0) != 0x80) return false;
      code_point = (code_point << 6) | (continuation & 0x3f);
    }
    // Reject overlong encodings, surrogates and values beyond Unicode.
    static constexpr std::uint32_t minimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < minimum[length] || code_point > 0x10ffff || (code_point >= 0xd800 && code_point <= 0xdfff)) {
      return false;
    }
    i += length;
  }
  return true;
}

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
