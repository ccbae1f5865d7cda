#include "xml_tree.h"

#include <expat.h>

#include <memory>

namespace resumable::xml {

const Element* Element::child(std::string_view child_name) const {
  for (const auto& c : children) {
    if (c.name == child_name) return &c;
  }
  return nullptr;
}

std::string Element::child_text(std::string_view child_name) const {
  const Element* c = child(child_name);
  return c != nullptr ? c->text : std::string();
}

std::vector<const Element*> Element::all(std::string_view child_name) const {
  std::vector<const Element*> found;
  for (const auto& c : children) {
    if (c.name == child_name) found.push_back(&c);
  }
  return found;
}

namespace {

struct Builder {
  Element root;
  std::vector<Element*> open;  // the path from the document element to the current one
  bool has_root = false;
};

void on_start(void* user, const XML_Char* name, const XML_Char**) {
  auto* b = static_cast<Builder*>(user);
  if (b->open.empty()) {
    b->root.name = name;
    b->has_root = true;
    b->open.push_back(&b->root);
    return;
  }
  auto& children = b->open.back()->children;
  children.push_back(Element{name, {}, {}});
  b->open.push_back(&children.back());  // stays valid: only the innermost open element grows
}

void on_end(void* user, const XML_Char*) {
  auto* b = static_cast<Builder*>(user);
  if (!b->open.empty()) b->open.pop_back();
}

void on_text(void* user, const XML_Char* text, int length) {
  auto* b = static_cast<Builder*>(user);
  if (!b->open.empty()) b->open.back()->text.append(text, static_cast<std::size_t>(length));
}

struct ParserFree {
  void operator()(XML_Parser parser) const { XML_ParserFree(parser); }
};

}  // namespace

std::optional<Element> parse(std::string_view document) {
  std::unique_ptr<std::remove_pointer_t<XML_Parser>, ParserFree> parser(XML_ParserCreate("UTF-8"));
  if (!parser) return std::nullopt;
  Builder builder;
  XML_SetUserData(parser.get(), &builder);
  XML_SetElementHandler(parser.get(), on_start, on_end);
  XML_SetCharacterDataHandler(parser.get(), on_text);
  if (document.size() > static_cast<std::size_t>(INT32_MAX)) return std::nullopt;
  if (XML_Parse(parser.get(), document.data(), static_cast<int>(document.size()), XML_TRUE) != XML_STATUS_OK) {
    return std::nullopt;
  }
  if (!builder.has_root) return std::nullopt;
  return std::move(builder.root);
}

}  // namespace resumable::xml
