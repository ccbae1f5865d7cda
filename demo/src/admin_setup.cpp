#include "admin_setup.h"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>

namespace resumable::demo {

namespace {

// Turns terminal echo off for its lifetime, so a typed password is not shown.
class EchoOff {
 public:
  EchoOff() {
    if (tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios quiet = saved_;
    quiet.c_lflag &= static_cast<tcflag_t>(~ECHO);
    active_ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
  }
  ~EchoOff() {
    if (active_) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

std::optional<std::string> read_line(const char* prompt, bool hide) {
  if (prompt != nullptr) {
    std::fputs(prompt, stderr);
    std::fflush(stderr);
  }
  std::string line;
  bool got_line = false;
  {
    std::optional<EchoOff> echo_off;
    if (hide) echo_off.emplace();
    got_line = static_cast<bool>(std::getline(std::cin, line));
  }
  if (hide) std::fputs("\n", stderr);
  if (!got_line) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::optional<std::string> password_for(const std::string& name) {
  if (const char* from_environment = std::getenv(admin_password_variable)) return std::string(from_environment);
  if (!isatty(STDIN_FILENO)) return read_line(nullptr, false);
  const std::string prompt = "Password for " + name + ": ";
  auto first = read_line(prompt.c_str(), true);
  if (!first) return std::nullopt;
  auto second = read_line("Same password again: ", true);
  if (!second) return std::nullopt;
  if (*first != *second) {
    std::fputs("resumable_demo: the two passwords differ\n", stderr);
    return std::nullopt;
  }
  return first;
}

}  // namespace

int create_admin_from_command_line(AccountStore& accounts, const std::string& name) {
  if (const auto problem = check_admin_name(name)) {
    std::fprintf(stderr, "resumable_demo: %s\n", problem->c_str());
    return 2;
  }
  const auto password = password_for(name);
  if (!password) {
    std::fprintf(stderr, "resumable_demo: no password given (set %s or type it when asked)\n", admin_password_variable);
    return 2;
  }
  if (const auto problem = check_new_password(*password)) {
    std::fprintf(stderr, "resumable_demo: %s\n", problem->c_str());
    return 2;
  }
  const auto saved = accounts.save(name, *password);
  std::printf("resumable_demo: admin %s %s\n", name.c_str(),
              saved == AccountStore::Saved::created ? "created" : "now has the new password");
  return 0;
}

bool create_admin_from_environment(AccountStore& accounts) {
  const char* name = std::getenv(admin_name_variable);
  const char* password = std::getenv(admin_password_variable);
  if (name == nullptr && password == nullptr) return true;
  if (name == nullptr || password == nullptr) {
    std::fprintf(stderr, "resumable_demo: set both %s and %s to create an admin at start, or neither\n",
                 admin_name_variable, admin_password_variable);
    return false;
  }
  if (const auto problem = check_admin_name(name)) {
    std::fprintf(stderr, "resumable_demo: %s: %s\n", admin_name_variable, problem->c_str());
    return false;
  }
  if (const auto problem = check_new_password(password)) {
    std::fprintf(stderr, "resumable_demo: %s: %s\n", admin_password_variable, problem->c_str());
    return false;
  }
  if (accounts.create_if_absent(name, password)) std::printf("resumable_demo: admin %s created\n", name);
  return true;
}

}  // namespace resumable::demo
