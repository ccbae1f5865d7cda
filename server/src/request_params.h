// Parameters of protocol requests, from the query string and multipart fields, with both client
// families' names (resumable*, flow*) and our extensions (chunkDigest, fileDigest). Everything a
// client sends is validated here: 64-bit decimal numbers, bounded valid-UTF-8 strings without
// control characters, 64-hex-digit digests.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "chunk_request.h"
#include "resumable/errors.h"
#include "resumable/limits.h"

namespace resumable {

// Returns a parameter's decoded value, or nullopt when absent. A value too long to hold is reported
// as present with `too_long` set.
struct ParamValue {
  std::string value;
  bool too_long = false;
};
using ParamLookup = std::function<std::optional<ParamValue>(std::string_view name)>;

// Lookup over an URL-encoded query string; values longer than `max_bytes` are `too_long`.
ParamLookup query_lookup(const char* query_string, std::size_t max_bytes);

std::variant<ErrorCode, ChunkRequest> parse_chunk_request(const ParamLookup& lookup, const UploadLimits& limits);

// The identifier of a status or cancel request: `identifier`, `resumableIdentifier` or `flowIdentifier`.
std::variant<ErrorCode, std::string> parse_identifier(const ParamLookup& lookup, const UploadLimits& limits);

bool is_valid_utf8(std::string_view text);

}  // namespace resumable
