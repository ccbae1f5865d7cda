// The demo's command line (see usage_text for what each option does).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace resumable::demo {

// HTTPS: off (plain HTTP, the default), from --tls-cert/--tls-key, or --tls self-signed.
enum class TlsMode { off, files, self_signed };

struct DemoOptions {
  std::string host = "127.0.0.1";  // an IPv6 address without brackets, e.g. ::1
  unsigned port = 8080;
  std::filesystem::path data_dir = "resumable-demo-data";
  std::optional<std::string> create_admin;             // --create-admin NAME
  std::chrono::seconds stale_after = std::chrono::hours(24);
  TlsMode tls = TlsMode::off;
  std::filesystem::path tls_cert;  // TlsMode::files
  std::filesystem::path tls_key;   // TlsMode::files
  // The scale-out mode (docs/scale-out.md): records and the upload registry in PostgreSQL ...
  std::optional<std::string> database;  // --database postgresql://...
  // ... and uploads in S3 (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY).
  std::optional<std::string> s3_endpoint;  // --s3 URL
  std::string s3_bucket;
  std::string s3_region;
  std::string s3_prefix;
  bool s3_path_style = true;
};

// "127.0.0.1", "[::1]": the host as CivetWeb's listening_ports and URLs write it.
std::string host_for_url(const std::string& host);

enum class DemoAction { serve, create_admin, show_help, usage_error };

struct ParsedCommandLine {
  DemoAction action = DemoAction::serve;
  DemoOptions options;
  std::string error;  // for usage_error
};

ParsedCommandLine parse_command_line(int argc, char** argv);

extern const char* const usage_text;

}  // namespace resumable::demo
