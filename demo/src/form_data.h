// Form posts (application/x-www-form-urlencoded) and the checks every text field gets.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace resumable::demo {

class FormFields {
 public:
  // Splits and decodes a urlencoded body ("a=1&b=x+y"); CivetWeb's mg_url_decode does the decoding.
  static FormFields parse(std::string_view body);

  // The field's value if it was sent exactly once; nullopt if absent. `repeated` tells a field
  // sent several times (never legitimate for the demo's forms) from an absent one.
  std::optional<std::string> single(std::string_view name, bool* repeated = nullptr) const;
  bool has(std::string_view name) const;

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// True for well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF).
bool is_valid_utf8(std::string_view text);
// Code points in well-formed UTF-8 text.
std::size_t count_characters(std::string_view text);
// Control characters other than tab, line feed and carriage return (which multi-line fields allow).
bool has_control_characters(std::string_view text, bool allow_line_breaks);

}  // namespace resumable::demo
