// Who is uploading: the `authenticate` hook of both upload endpoints (public and staff-only).
//
// A request is accepted only with a valid session cookie AND that session's CSRF token in the
// X-CSRF-Token header (forms.js gives the widget the header). SameSite=Strict already keeps other
// sites' pages from sending the cookie; the header is a second, independent check that a page of
// this demo made the request. Anything else is "not logged in" (401 before any body byte is read).
//
// The principal is the session's own (session_store.h): a visitor's uploads and tokens are private
// to that browser; an admin session is staff, which the staff-only endpoint requires (403 otherwise).
#pragma once

#include <civetweb.h>

#include <functional>
#include <optional>
#include <string>

#include "resumable/upload_endpoint.h"
#include "session_store.h"

namespace resumable::demo {

inline constexpr const char* session_cookie_name = "demo_session";
inline constexpr const char* csrf_header_name = "X-CSRF-Token";

class UploadAccess {
 public:
  UploadAccess(SessionStore& sessions, std::function<void(const std::string&)> log);

  // Never throws (it runs inside the endpoint's request handling): a database failure refuses.
  std::optional<Principal> principal_for(mg_connection* connection) const;

 private:
  SessionStore& sessions_;
  std::function<void(const std::string&)> log_;
};

}  // namespace resumable::demo
