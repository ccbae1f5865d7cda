// S3's XML responses as a small element tree, parsed by expat (never by hand). Only what S3 sends:
// elements and their text; attributes and namespaces are ignored. Documents larger than the
// caller's limit or malformed ones give nullopt.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace resumable::xml {

struct Element {
  std::string name;
  std::string text;  // character data directly inside this element
  std::vector<Element> children;

  const Element* child(std::string_view child_name) const;
  // The text of the named child, or "" when there is none.
  std::string child_text(std::string_view child_name) const;
  std::vector<const Element*> all(std::string_view child_name) const;
};

std::optional<Element> parse(std::string_view document);

}  // namespace resumable::xml
