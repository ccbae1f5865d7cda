#include "anonymous_scopes.h"

#include <civetweb.h>

#include <algorithm>

#include "resumable/secure_random.h"

namespace resumable::civetweb {

namespace {

constexpr std::size_t scope_hex_chars = 32;
constexpr std::size_t max_pending = 4096;  // bounds memory whatever the number of cookieless clients

bool well_formed(const std::string& value) {
  return value.size() == scope_hex_chars &&
         std::all_of(value.begin(), value.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string client_key(const mg_connection* connection) {
  const mg_request_info* info = mg_get_request_info(connection);
  const char* agent = mg_get_header(connection, "User-Agent");
  return std::string(info->remote_addr) + '\n' + (agent != nullptr ? agent : "");
}

}  // namespace

std::optional<std::string> AnonymousScopes::cookie_value(const mg_connection* connection) const {
  const char* cookies = mg_get_header(connection, "Cookie");
  if (cookies == nullptr) return std::nullopt;
  char value[scope_hex_chars + 2] = {};
  if (mg_get_cookie(cookies, options_.cookie_name.c_str(), value, sizeof(value)) != static_cast<int>(scope_hex_chars)) {
    return std::nullopt;
  }
  std::string text(value);
  if (!well_formed(text)) return std::nullopt;
  return text;
}

std::optional<std::string> AnonymousScopes::existing(const mg_connection* connection) const {
  auto value = cookie_value(connection);
  if (!value) return std::nullopt;
  return anonymous_principal_prefix + *value;
}

std::string AnonymousScopes::set_cookie_header(const std::string& value, bool secure) const {
  std::string header = "Set-Cookie: " + options_.cookie_name + "=" + value + "; Path=/; HttpOnly; Max-Age=" +
                       std::to_string(options_.cookie_lifetime.count());
  if (options_.cross_site) return header + "; SameSite=None; Secure";
  return header + "; SameSite=Lax" + (secure ? "; Secure" : "");
}

AnonymousScopes::Scope AnonymousScopes::resolve(const mg_connection* connection) {
  const auto now = std::chrono::steady_clock::now();
  const std::string key = client_key(connection);
  // The pending scope outlives the first request that brings its cookie back: a request the browser
  // sent before it had the cookie can arrive after that one (a busy server), and must still join.
  if (auto value = cookie_value(connection)) return {anonymous_principal_prefix + *value, std::nullopt};
  std::string value;
  {
    std::lock_guard lock(mutex_);
    if (auto it = pending_.find(key); it != pending_.end() && now - it->second.issued < options_.join_window) {
      value = it->second.value;
    } else {
      if (pending_.size() >= max_pending) {
        for (auto p = pending_.begin(); p != pending_.end();) {
          p = now - p->second.issued >= options_.join_window ? pending_.erase(p) : std::next(p);
        }
        if (pending_.size() >= max_pending) pending_.erase(pending_.begin());
      }
      value = core::random_hex(scope_hex_chars / 2);
      pending_[key] = {value, now};
    }
  }
  return {anonymous_principal_prefix + value, set_cookie_header(value, mg_get_request_info(connection)->is_ssl != 0)};
}

}  // namespace resumable::civetweb
