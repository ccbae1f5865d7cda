// Checks of the text a client sends (names, metadata), shared by every front-end.
#pragma once

#include <string_view>

namespace resumable::http {

bool has_control_characters(std::string_view text);  // C0 controls or DEL
bool is_valid_utf8(std::string_view text);            // no overlongs, surrogates or values past U+10FFFF

}  // namespace resumable::http
