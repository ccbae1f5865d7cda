// Scopes for anonymous clients of a mount that allows them: each browser gets an unguessable
// scope (128 random bits) in an HttpOnly cookie set by the mount, and its uploads, status, tests,
// cancels and claims are confined to it exactly as an authenticated principal's are.
//
// Threat model: whoever holds the cookie is the scope. Page scripts cannot read it (HttpOnly),
// other sites cannot send it (SameSite=Lax; None only for a mount that allows credentialed
// cross-origin pages, then Secure), and it cannot be guessed. A browser's first requests race
// before it has the cookie (resumable.js sends three chunks at once): requests without a cookie
// from the same address and User-Agent within `join_window` of a scope being issued join that
// scope, also after another request has come back with it (a request sent before the cookie
// arrived may reach a busy server after one sent with it). Another client behind the same address with the
// same User-Agent, sending an upload's identifier within that window, could join too: that is the
// residual risk, and mounts with logins have none of it.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>

struct mg_connection;

namespace resumable::civetweb {

struct AnonymousScopeOptions {
  std::string cookie_name = "rsm_scope";
  std::chrono::seconds join_window{10};
  std::chrono::seconds cookie_lifetime{std::chrono::hours(24 * 8)};  // outlives an unclaimed upload
  bool cross_site = false;  // SameSite=None; Secure (credentialed cross-origin pages)
};

// Principals of anonymous scopes start with this; an authenticated id never may.
inline constexpr const char* anonymous_principal_prefix = "anonymous/";

class AnonymousScopes {
 public:
  explicit AnonymousScopes(AnonymousScopeOptions options) : options_(std::move(options)) {}

  struct Scope {
    std::string principal;
    std::optional<std::string> set_cookie;  // a header line to send when the scope is new to the client
  };
  // The request's scope, issuing one when it brings none.
  Scope resolve(const mg_connection* connection);
  // The request's scope if it brings a valid cookie; never issues one.
  std::optional<std::string> existing(const mg_connection* connection) const;

 private:
  std::optional<std::string> cookie_value(const mg_connection* connection) const;
  std::string set_cookie_header(const std::string& value, bool secure) const;

  AnonymousScopeOptions options_;
  struct Pending {
    std::string value;
    std::chrono::steady_clock::time_point issued;
  };
  std::mutex mutex_;
  std::map<std::string, Pending> pending_;  // by address and User-Agent: scopes not yet seen back
};

}  // namespace resumable::civetweb
