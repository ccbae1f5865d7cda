#include "upload_access.h"

#include <cstring>

namespace resumable::demo {

UploadAccess::UploadAccess(SessionStore& sessions, std::function<void(const std::string&)> log)
    : sessions_(sessions), log_(std::move(log)) {}

std::optional<Principal> UploadAccess::principal_for(mg_connection* connection) const {
  const char* cookies = mg_get_header(connection, "Cookie");
  const char* csrf = mg_get_header(connection, csrf_header_name);
  if (cookies == nullptr || csrf == nullptr) return std::nullopt;
  char cookie_value[128];
  if (mg_get_cookie(cookies, session_cookie_name, cookie_value, sizeof cookie_value) < 0) return std::nullopt;
  try {
    const auto session = sessions_.find(cookie_value);
    if (!session || !csrf_token_matches(*session, csrf)) return std::nullopt;
    return Principal{session->principal, session->admin.has_value()};
  } catch (const std::exception& e) {
    log_(std::string("upload authentication failed: ") + e.what());
    return std::nullopt;
  }
}

}  // namespace resumable::demo
