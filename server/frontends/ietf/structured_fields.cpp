#include "structured_fields.h"

#include "append_headers.h"

namespace resumable::ietf {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lcalpha(char c) { return c >= 'a' && c <= 'z'; }

}  // namespace

std::optional<bool> parse_boolean(std::string_view text) {
  if (text == "?1") return true;
  if (text == "?0") return false;
  return std::nullopt;
}

std::optional<std::uint64_t> parse_integer(std::string_view text) {
  if (text.empty() || text.size() > 15) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');  // 15 digits cannot overflow
  }
  return value;
}

std::optional<ByteDictionary> parse_byte_dictionary(std::string_view text) {
  ByteDictionary members;
  std::size_t at = 0;
  const auto skip_ows = [&] {
    while (at < text.size() && (text[at] == ' ' || text[at] == '\t')) ++at;
  };
  while (true) {
    // sf-key: ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )
    const std::size_t key_start = at;
    if (at >= text.size() || !(is_lcalpha(text[at]) || text[at] == '*')) return std::nullopt;
    while (at < text.size() && (is_lcalpha(text[at]) || is_digit(text[at]) || text[at] == '_' || text[at] == '-' ||
                                text[at] == '.' || text[at] == '*')) {
      ++at;
    }
    const std::string_view key = text.substr(key_start, at - key_start);
    if (at >= text.size() || text[at] != '=') return std::nullopt;  // a bare key is boolean true: not a byte sequence
    ++at;
    if (at >= text.size() || text[at] != ':') return std::nullopt;
    const auto close = text.find(':', at + 1);
    if (close == std::string_view::npos) return std::nullopt;
    const auto decoded = append::base64_decode(text.substr(at + 1, close - at - 1));
    if (!decoded) return std::nullopt;
    if (members.find(key) != members.end()) return std::nullopt;  // the same algorithm twice: which one was meant?
    members.emplace(std::string(key), std::vector<std::uint8_t>(decoded->begin(), decoded->end()));
    at = close + 1;
    if (at == text.size()) return members;
    skip_ows();
    if (at >= text.size() || text[at] != ',') return std::nullopt;  // parameters (";") and anything else
    ++at;
    skip_ows();
    if (at == text.size()) return std::nullopt;  // a trailing comma
  }
}

std::string byte_sequence(const std::vector<std::uint8_t>& bytes) { return ":" + append::base64_encode(bytes) + ":"; }

}  // namespace resumable::ietf
