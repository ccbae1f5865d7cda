#include "form_data.h"

#include <civetweb.h>

#include <algorithm>
#include <cstdint>

namespace resumable::demo {

namespace {

std::string url_decode(std::string_view encoded) {
  // Decoding never makes text longer; one more byte for CivetWeb's terminating zero.
  std::string decoded(encoded.size() + 1, '\0');
  const int length = mg_url_decode(encoded.data(), static_cast<int>(encoded.size()), decoded.data(),
                                   static_cast<int>(decoded.size()), 1);
  decoded.resize(length > 0 ? static_cast<std::size_t>(length) : 0);
  return decoded;
}

}  // namespace

FormFields FormFields::parse(std::string_view body) {
  FormFields form;
  while (!body.empty()) {
    const std::size_t end = std::min(body.find('&'), body.size());
    const std::string_view pair = body.substr(0, end);
    body.remove_prefix(std::min(end + 1, body.size()));
    if (pair.empty()) continue;
    const std::size_t equals = pair.find('=');
    const std::string_view name = pair.substr(0, equals);
    const std::string_view value = equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1);
    form.fields_.emplace_back(url_decode(name), url_decode(value));
  }
  return form;
}

std::optional<std::string> FormFields::single(std::string_view name, bool* repeated) const {
  std::optional<std::string> found;
  std::size_t count = 0;
  for (const auto& [field, value] : fields_) {
    if (field != name) continue;
    if (count++ == 0) found = value;
  }
  if (repeated != nullptr) *repeated = count > 1;
  return count == 1 ? found : std::nullopt;
}

bool FormFields::has(std::string_view name) const {
  return std::any_of(fields_.begin(), fields_.end(), [&](const auto& field) { return field.first == name; });
}

bool is_valid_utf8(std::string_view text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t size = text.size();
  for (std::size_t i = 0; i < size;) {
    const unsigned char lead = bytes[i];
    std::size_t length = 0;
    std::uint32_t code_point = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
      code_point = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      code_point = lead & 0x0F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      code_point = lead & 0x07;
    } else {
      return false;
    }
    if (i + length > size) return false;
    for (std::size_t k = 1; k < length; ++k) {
      if ((bytes[i + k] & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (bytes[i + k] & 0x3F);
    }
    const bool overlong = (length == 3 && code_point < 0x800) || (length == 4 && code_point < 0x10000);
    const bool surrogate = code_point >= 0xD800 && code_point <= 0xDFFF;
    if (overlong || surrogate || code_point > 0x10FFFF) return false;
    i += length;
  }
  return true;
}

std::size_t count_characters(std::string_view text) {
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

bool has_control_characters(std::string_view text, bool allow_line_breaks) {
  return std::any_of(text.begin(), text.end(), [&](char c) {
    const auto byte = static_cast<unsigned char>(c);
    if (allow_line_breaks && (c == '\n' || c == '\r' || c == '\t')) return false;
    return byte < 0x20 || byte == 0x7F;
  });
}

}  // namespace resumable::demo
