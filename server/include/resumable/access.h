// Who may use an upload mount: a request is mapped to a Principal by the application's hook, and
// the mount's Access rule decides. Uploads, status and tokens are scoped to Principal::id: one
// principal never sees another's.
#pragma once

#include <civetweb.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace resumable {

struct Principal {
  std::string id;
  bool is_staff = false;
};

enum class Access {
  anonymous_allowed,  // unauthenticated clients upload too, each in a scope of its own (a cookie)
  login_required,     // login_required: an authenticated principal (else 401)
  staff_required,     // staff_member_required: an authenticated staff principal (else 401 / 403)
};

// A mount's rule as EndpointOptions sets it (the fields are documented there).
struct AccessPolicy {
  Access access = Access::login_required;
  std::function<std::optional<Principal>(mg_connection*)> authenticate;
  std::function<bool(mg_connection*)> verify_request;
};

// Which other origins' pages may call a mount (CORS). Requests from any other origin get no CORS
// headers, so browsers keep their replies from the page; same-origin pages need nothing here.
struct CrossOriginPolicy {
  // Exact origins ("https://www.example.com"), or "*" for any origin (then never with credentials).
  std::vector<std::string> allowed_origins;
  // Let those pages send cookies or HTTP authentication (Access-Control-Allow-Credentials).
  bool allow_credentials = false;
  // Seconds a browser may cache a preflight's answer.
  int preflight_max_age = 600;
};

}  // namespace resumable
