// Query-string parameters decoded by CivetWeb's own decoder (mg_get_var2), as front-ends see them.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "front_end.h"

namespace resumable::civetweb {

// The first `name` parameter of `query` (URL-encoded), decoded; nullopt when absent, too_long
// when its value has more than `max_bytes` bytes, conflicting when the key is repeated with another
// value.
std::optional<http::ParamValue> query_param(std::string_view query, std::string_view name, std::size_t max_bytes);

}  // namespace resumable::civetweb
