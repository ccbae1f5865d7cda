// HTML that is safe by construction. An Html value holds only markup written in this program as
// string literals ("<p>"_html) and text that was escaped on the way in:
//
//   Html page;
//   page << "<h1 class=\"title\">"_html << document.title << "</h1>"_html;   // title is escaped
//
// Anything that is not an Html (std::string, string_view, C string, number) is text and is escaped,
// so a user's string can never become markup. Escaping covers & < > " ' and is valid both in
// element content and in double-quoted attribute values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace resumable::demo {

class Html;
Html operator""_html(const char* markup, std::size_t length);

class Html {
 public:
  Html() = default;

  Html& operator<<(const Html& fragment) {
    markup_ += fragment.markup_;
    return *this;
  }
  Html& operator<<(std::string_view text);
  Html& operator<<(const char* text) { return *this << std::string_view(text); }
  Html& operator<<(const std::string& text) { return *this << std::string_view(text); }
  Html& operator<<(std::int64_t number) { return *this << std::to_string(number); }
  Html& operator<<(std::uint64_t number) { return *this << std::to_string(number); }
  Html& operator<<(int number) { return *this << std::to_string(number); }

  const std::string& str() const { return markup_; }

 private:
  friend Html operator""_html(const char* markup, std::size_t length);
  std::string markup_;
};

// The only way to make markup from characters: a literal in this program's source.
inline Html operator""_html(const char* markup, std::size_t length) {
  Html html;
  html.markup_.assign(markup, length);
  return html;
}

std::string escape_html(std::string_view text);

}  // namespace resumable::demo
