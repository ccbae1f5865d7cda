#include "session_store.h"

#include <sodium.h>

#include <algorithm>
#include <array>

#include "resumable/digest.h"

namespace resumable::demo {

namespace {

constexpr std::size_t secret_bytes = 32;

std::string random_hex(std::size_t bytes) {
  std::array<unsigned char, secret_bytes> random{};
  bytes = std::min(bytes, random.size());
  randombytes_buf(random.data(), bytes);
  std::array<char, 2 * secret_bytes + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), random.data(), bytes);
  return std::string(hex.data(), 2 * bytes);
}

bool is_hex_secret(std::string_view value) {
  return value.size() == 2 * secret_bytes &&
         std::all_of(value.begin(), value.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The database never holds a usable cookie value: reading it does not let anyone in.
std::string cookie_hash(std::string_view cookie_value) {
  return core::to_hex(core::blake2b256(cookie_value.data(), cookie_value.size()));
}

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

SessionStore::SessionStore(Database& database, std::chrono::seconds visitor_lifetime,
                           std::chrono::seconds admin_lifetime)
    : database_(database), visitor_lifetime_(visitor_lifetime), admin_lifetime_(admin_lifetime) {
  auto guard = database_.lock();
  database_.create_schema(
      "CREATE TABLE IF NOT EXISTS sessions ("
      "  cookie_hash TEXT PRIMARY KEY,"
      "  csrf_token TEXT NOT NULL,"
      "  principal TEXT NOT NULL,"
      "  admin_id BIGINT REFERENCES admins(id) ON DELETE CASCADE,"
      "  expires_at BIGINT NOT NULL)");
}

Session SessionStore::start(std::string principal, std::optional<Admin> admin, std::chrono::seconds lifetime) {
  Session session;
  session.cookie_value = random_hex(secret_bytes);
  session.csrf_token = random_hex(secret_bytes);
  session.principal = std::move(principal);
  session.admin = std::move(admin);
  session.expires_at = now_unix() + lifetime.count();
  auto guard = database_.lock();
  database_.prepare("INSERT INTO sessions (cookie_hash, csrf_token, principal, admin_id, expires_at) VALUES ($1, $2, $3, $4, $5)")
      .bind(1, cookie_hash(session.cookie_value))
      .bind(2, session.csrf_token)
      .bind(3, session.principal)
      .bind(4, session.admin ? std::optional<std::int64_t>(session.admin->id) : std::nullopt)
      .bind(5, session.expires_at)
      .run();
  return session;
}

Session SessionStore::start_visitor() { return start("visitor-" + random_hex(16), std::nullopt, visitor_lifetime_); }

Session SessionStore::start_admin(const Admin& admin) {
  // One principal per account: an admin's unfinished uploads outlive a logout and a new login.
  return start("admin-" + std::to_string(admin.id), admin, admin_lifetime_);
}

std::optional<Session> SessionStore::find(std::string_view cookie_value) {
  if (!is_hex_secret(cookie_value)) return std::nullopt;
  auto guard = database_.lock();
  auto query = database_.prepare(
      "SELECT s.csrf_token, s.principal, s.expires_at, a.id, a.name FROM sessions s "
      "LEFT JOIN admins a ON a.id = s.admin_id WHERE s.cookie_hash = $1 AND s.expires_at > $2");
  query.bind(1, cookie_hash(cookie_value)).bind(2, now_unix());
  if (!query.step()) return std::nullopt;
  Session session;
  session.cookie_value = std::string(cookie_value);
  session.csrf_token = query.text(0);
  session.principal = query.text(1);
  session.expires_at = query.integer(2);
  if (!query.is_null(3)) session.admin = Admin{query.integer(3), query.text(4)};
  return session;
}

void SessionStore::end(std::string_view cookie_value) {
  auto guard = database_.lock();
  database_.prepare("DELETE FROM sessions WHERE cookie_hash = $1").bind(1, cookie_hash(cookie_value)).run();
}

std::size_t SessionStore::remove_expired() {
  auto guard = database_.lock();
  return static_cast<std::size_t>(
      database_.prepare("DELETE FROM sessions WHERE expires_at <= $1").bind(1, now_unix()).run());
}

bool csrf_token_matches(const Session& session, std::string_view submitted) {
  return submitted.size() == session.csrf_token.size() &&
         sodium_memcmp(submitted.data(), session.csrf_token.data(), submitted.size()) == 0;
}

}  // namespace resumable::demo
