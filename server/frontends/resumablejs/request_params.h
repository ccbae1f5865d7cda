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
#include "front_end.h"
#include "resumable/errors.h"
#include "resumable/limits.h"
#include "text_checks.h"

namespace resumable::resumablejs {

using http::ParamLookup;
using http::ParamValue;

std::variant<ErrorCode, ChunkRequest> parse_chunk_request(const ParamLookup& lookup, const UploadLimits& limits);

// The identifier of a status or cancel request: `identifier`, `resumableIdentifier` or `flowIdentifier`.
std::variant<ErrorCode, std::string> parse_identifier(const ParamLookup& lookup, const UploadLimits& limits);

using http::is_valid_utf8;

}  // namespace resumable::resumablejs
