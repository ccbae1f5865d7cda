// Browser sessions, kept in the database so they survive a restart (an upload interrupted by one resumes
// under the same principal).
//
// Every browser that opens a form gets a session: a random cookie value, a CSRF token for its forms
// and upload requests, and an upload principal of its own, so an anonymous visitor's uploads and
// tokens are private to that browser. Logging in starts a fresh session (a new cookie value) bound to
// the admin account; logging out ends it.
//
// The database keeps only a BLAKE2b-256 hash of each cookie value. Thread-safety: all methods may be
// called concurrently. Database errors throw DatabaseError.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "account_store.h"
#include "database.h"

namespace resumable::demo {

struct Session {
  std::string cookie_value;  // 64 hex digits; only ever sent in the Set-Cookie header
  std::string csrf_token;    // 64 hex digits; embedded in this session's forms
  std::string principal;     // upload principal: "visitor-<32 hex>" or "admin-<id>"
  std::optional<Admin> admin;
  std::int64_t expires_at = 0;  // Unix seconds
};

class SessionStore {
 public:
  SessionStore(Database& database, std::chrono::seconds visitor_lifetime, std::chrono::seconds admin_lifetime);

  Session start_visitor();
  Session start_admin(const Admin& admin);
  // The unexpired session with this cookie value, or nullopt.
  std::optional<Session> find(std::string_view cookie_value);
  void end(std::string_view cookie_value);
  std::size_t remove_expired();

  std::chrono::seconds visitor_lifetime() const { return visitor_lifetime_; }
  std::chrono::seconds admin_lifetime() const { return admin_lifetime_; }

 private:
  Session start(std::string principal, std::optional<Admin> admin, std::chrono::seconds lifetime);

  Database& database_;
  std::chrono::seconds visitor_lifetime_;
  std::chrono::seconds admin_lifetime_;
};

// Constant-time comparison of a submitted CSRF token with the session's.
bool csrf_token_matches(const Session& session, std::string_view submitted);

}  // namespace resumable::demo
