// Admin accounts: a name and a libsodium crypto_pwhash_str hash (Argon2id, "interactive" limits).
// There is no default account and no default password: the first admin is created from the
// command line or the environment (admin_setup.h). Every account is staff.
// Thread-safety: all methods may be called concurrently. Database errors throw DatabaseError.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "database.h"

namespace resumable::demo {

struct Admin {
  std::int64_t id = 0;
  std::string name;
};

// nullopt when acceptable; otherwise what is wrong, in a sentence for the person choosing it.
std::optional<std::string> check_admin_name(std::string_view name);
std::optional<std::string> check_new_password(std::string_view password);

class AccountStore {
 public:
  explicit AccountStore(Database& database);  // creates the table if needed

  enum class Saved { created, password_changed };
  // Creates the account, or sets a new password if it exists. The name and password must have
  // passed the checks above.
  Saved save(std::string_view name, std::string_view password);
  // Creates the account only if no account has this name; true if it did.
  bool create_if_absent(std::string_view name, std::string_view password);

  // The admin whose name and password match; nullopt otherwise. Takes about as long for an unknown
  // name as for a wrong password, so timing does not tell which names exist.
  std::optional<Admin> verify(std::string_view name, std::string_view password);

  std::optional<Admin> find(std::int64_t id);
  bool any();

 private:
  Database& database_;
};

}  // namespace resumable::demo
