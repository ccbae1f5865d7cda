// The demo's command line (see usage_text for what each option does).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace resumable::demo {

struct DemoOptions {
  std::string host = "127.0.0.1";
  unsigned port = 8080;
  std::filesystem::path data_dir = "resumable-demo-data";
  std::optional<std::string> create_admin;             // --create-admin NAME
  std::chrono::seconds stale_after = std::chrono::hours(24);
};

enum class DemoAction { serve, create_admin, show_help, usage_error };

struct ParsedCommandLine {
  DemoAction action = DemoAction::serve;
  DemoOptions options;
  std::string error;  // for usage_error
};

ParsedCommandLine parse_command_line(int argc, char** argv);

extern const char* const usage_text;

}  // namespace resumable::demo
