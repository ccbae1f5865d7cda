// Path matching shared by the demo's route files (app.cpp, admin_routes.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace resumable::demo {

// Matches `path` against `pattern` segment by segment; a "{id}" segment matches a record id and
// stores it in `id`. "/documents/12/download" matches "/documents/{id}/download".
bool match_path(std::string_view path, std::string_view pattern, std::int64_t* id = nullptr);

// A record id: 1 to 18 decimal digits without a leading zero.
std::optional<std::int64_t> parse_record_id(std::string_view text);

}  // namespace resumable::demo
