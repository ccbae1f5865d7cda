// Creating admin accounts outside the web pages. There is no default account and no default
// password; the first admin comes from one of:
//
//   resumable_demo --data-dir DIR --create-admin NAME
//       creates NAME (or sets a new password if it exists) and exits. The password is taken from
//       RESUMABLE_DEMO_ADMIN_PASSWORD if set, otherwise asked twice on the terminal (not echoed),
//       otherwise read as one line from standard input (for scripts).
//
//   RESUMABLE_DEMO_ADMIN=NAME RESUMABLE_DEMO_ADMIN_PASSWORD=... resumable_demo ...
//       creates NAME when the server starts, if no account has that name (an existing account's
//       password is left alone).
#pragma once

#include <string>

#include "account_store.h"

namespace resumable::demo {

inline constexpr const char* admin_name_variable = "RESUMABLE_DEMO_ADMIN";
inline constexpr const char* admin_password_variable = "RESUMABLE_DEMO_ADMIN_PASSWORD";

// Returns the process exit status (0 on success); messages go to stdout / stderr.
int create_admin_from_command_line(AccountStore& accounts, const std::string& name);

// False (after printing why) if the variables are set but unusable: only one of them, a bad name,
// or a password that is too short. True otherwise, including when neither is set.
bool create_admin_from_environment(AccountStore& accounts);

}  // namespace resumable::demo
