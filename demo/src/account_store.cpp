#include "account_store.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <semaphore>
#include <stdexcept>

namespace resumable::demo {

namespace {

constexpr std::size_t max_name_bytes = 64;
constexpr std::size_t min_password_bytes = 8;
constexpr std::size_t max_password_bytes = 1024;

// Each hash or verification takes crypto_pwhash_MEMLIMIT_INTERACTIVE (64 MiB) for ~0.1 s: bound how
// many run at once, so a burst of login attempts cannot exhaust the demo's memory.
std::counting_semaphore<2> password_hashing_slots(2);

class HashingSlot {
 public:
  HashingSlot() { password_hashing_slots.acquire(); }
  ~HashingSlot() { password_hashing_slots.release(); }
  HashingSlot(const HashingSlot&) = delete;
  HashingSlot& operator=(const HashingSlot&) = delete;
};

std::string hash_password(std::string_view password) {
  std::array<char, crypto_pwhash_STRBYTES> hashed{};
  HashingSlot slot;
  if (crypto_pwhash_str(hashed.data(), password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    throw std::runtime_error("password hashing ran out of memory");
  }
  return std::string(hashed.data());
}

bool password_matches(const std::string& hashed, std::string_view password) {
  HashingSlot slot;
  return crypto_pwhash_str_verify(hashed.c_str(), password.data(), password.size()) == 0;
}

// Verified against when the name is unknown, so that case costs the same as a wrong password.
const std::string& stand_in_hash() {
  static const std::string hashed = hash_password("no account has this password");
  return hashed;
}

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::optional<std::string> check_admin_name(std::string_view name) {
  const bool allowed = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-' || c == '@';
  });
  if (name.empty() || name.size() > max_name_bytes || !allowed) {
    return "An admin name has 1 to 64 characters: letters, digits and . _ - @.";
  }
  return std::nullopt;
}

std::optional<std::string> check_new_password(std::string_view password) {
  if (password.size() < min_password_bytes) return "The password must have at least 8 characters.";
  if (password.size() > max_password_bytes) return "The password must have at most 1024 characters.";
  return std::nullopt;
}

AccountStore::AccountStore(Database& database) : database_(database) {
  auto guard = database_.lock();
  database_.create_schema(std::string("CREATE TABLE IF NOT EXISTS admins (") +
                          "  id " + database_.generated_id_column() + ","
                          "  name TEXT NOT NULL UNIQUE,"
                          "  password_hash TEXT NOT NULL,"
                          "  created_at BIGINT NOT NULL)");
}

AccountStore::Saved AccountStore::save(std::string_view name, std::string_view password) {
  const std::string hashed = hash_password(password);  // slow: not under the database lock
  auto guard = database_.lock();
  Transaction transaction(database_);
  const auto set_password = [&] {
    return database_.prepare("UPDATE admins SET password_hash = $1 WHERE name = $2").bind(1, hashed).bind(2, name).run();
  };
  Saved saved = Saved::password_changed;
  if (set_password() == 0) {
    // Another instance may create the same name between the two statements: then set it again.
    const auto inserted =
        database_.prepare("INSERT INTO admins (name, password_hash, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(1, name)
            .bind(2, hashed)
            .bind(3, now_unix())
            .run();
    if (inserted > 0) {
      saved = Saved::created;
    } else {
      set_password();
    }
  }
  transaction.commit();
  return saved;
}

bool AccountStore::create_if_absent(std::string_view name, std::string_view password) {
  {
    auto guard = database_.lock();
    auto query = database_.prepare("SELECT 1 FROM admins WHERE name = $1");
    query.bind(1, name);
    if (query.step()) return false;
  }
  const std::string hashed = hash_password(password);
  auto guard = database_.lock();
  return database_.prepare("INSERT INTO admins (name, password_hash, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
             .bind(1, name)
             .bind(2, hashed)
             .bind(3, now_unix())
             .run() > 0;
}

std::optional<Admin> AccountStore::verify(std::string_view name, std::string_view password) {
  std::optional<Admin> candidate;
  std::string hashed;
  {
    auto guard = database_.lock();
    auto query = database_.prepare("SELECT id, name, password_hash FROM admins WHERE name = $1");
    query.bind(1, name);
    if (query.step()) {
      candidate = Admin{query.integer(0), query.text(1)};
      hashed = query.text(2);
    }
  }
  if (!candidate) {
    password_matches(stand_in_hash(), password);
    return std::nullopt;
  }
  if (!password_matches(hashed, password)) return std::nullopt;
  return candidate;
}

std::optional<Admin> AccountStore::find(std::int64_t id) {
  auto guard = database_.lock();
  auto query = database_.prepare("SELECT id, name FROM admins WHERE id = $1");
  query.bind(1, id);
  if (!query.step()) return std::nullopt;
  return Admin{query.integer(0), query.text(1)};
}

bool AccountStore::any() {
  auto guard = database_.lock();
  return database_.prepare("SELECT 1 FROM admins LIMIT 1").step();
}

}  // namespace resumable::demo
