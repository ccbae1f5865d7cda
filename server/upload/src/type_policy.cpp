#include "type_policy.h"

#include <algorithm>

namespace resumable {

namespace {

std::string lower(std::string s) {
  for (auto& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool extension_allowed(const UploadLimits& limits, const std::string& file_name) {
  if (limits.allowed_extensions.empty()) return true;
  const auto dot = file_name.rfind('.');
  const std::string ext = dot == std::string::npos ? "" : lower(file_name.substr(dot + 1));
  return std::any_of(limits.allowed_extensions.begin(), limits.allowed_extensions.end(),
                     [&](const std::string& allowed) { return lower(allowed) == ext; });
}

bool mime_type_allowed(const UploadLimits& limits, const std::string& mime_type) {
  if (limits.allowed_types.empty() || mime_type.empty()) return true;
  const std::string type = lower(mime_type);
  return std::any_of(limits.allowed_types.begin(), limits.allowed_types.end(), [&](const std::string& a) {
    const std::string allowed = lower(a);
    if (allowed.size() >= 2 && allowed.compare(allowed.size() - 2, 2, "/*") == 0) {
      return type.compare(0, allowed.size() - 1, allowed, 0, allowed.size() - 1) == 0;
    }
    return type == allowed;
  });
}

}  // namespace

bool file_type_allowed(const UploadLimits& limits, const std::string& file_name, const std::string& mime_type) {
  return extension_allowed(limits, file_name) && mime_type_allowed(limits, mime_type);
}

}  // namespace resumable
