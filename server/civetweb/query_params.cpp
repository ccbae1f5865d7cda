#include "query_params.h"

#include <civetweb.h>

#include <string>
#include <vector>

namespace resumable::civetweb {

std::optional<http::ParamValue> query_param(std::string_view query, std::string_view name, std::size_t max_bytes) {
  std::vector<char> buffer(max_bytes + 1);
  const std::string key(name);
  const auto occurrence = [&](int index) -> std::optional<http::ParamValue> {
    const int length = mg_get_var2(query.data(), query.size(), key.c_str(), buffer.data(), buffer.size(), index);
    if (length == -1) return std::nullopt;
    if (length < 0) return http::ParamValue{{}, true, false};
    return http::ParamValue{std::string(buffer.data(), static_cast<std::size_t>(length)), false, false};
  };
  auto first = occurrence(0);
  if (!first) return first;
  // A repeated key is fine as long as every occurrence says the same.
  for (int index = 1;; ++index) {
    const auto next = occurrence(index);
    if (!next) break;
    if (next->too_long || next->value != first->value) {
      first->conflicting = true;
      break;
    }
  }
  return first;
}

}  // namespace resumable::civetweb
