#include "query_params.h"

#include <civetweb.h>

#include <string>
#include <vector>

namespace resumable::civetweb {

std::optional<http::ParamValue> query_param(std::string_view query, std::string_view name, std::size_t max_bytes) {
  std::vector<char> buffer(max_bytes + 1);
  const std::string key(name);
  const int length = mg_get_var2(query.data(), query.size(), key.c_str(), buffer.data(), buffer.size(), 0);
  if (length == -1) return std::nullopt;
  if (length < 0) return http::ParamValue{{}, true};
  return http::ParamValue{std::string(buffer.data(), static_cast<std::size_t>(length)), false};
}

}  // namespace resumable::civetweb
