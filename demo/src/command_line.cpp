#include "command_line.h"

#include <cstdlib>
#include <string_view>

namespace resumable::demo {

const char* const usage_text =
    "Usage: resumable_demo [--host ADDRESS] [--port PORT] [--data-dir DIR] [--stale-after DURATION]\n"
    "                      [--tls-cert FILE --tls-key FILE | --tls self-signed]\n"
    "                      [--database postgresql://...] [--s3 URL --s3-bucket NAME [--s3-region REGION]\n"
    "                       [--s3-prefix PREFIX] [--s3-style path|virtual-host]]\n"
    "       resumable_demo [--data-dir DIR] --create-admin NAME\n"
    "\n"
    "Starts the resumable demo: a document form with resumable uploads, a list with downloads, an admin.\n"
    "  --host ADDRESS         address to listen on (default 127.0.0.1), IPv4 or IPv6 (::1 or [::1])\n"
    "  --port PORT            port to listen on, 0 for any free port (default 8080)\n"
    "  --data-dir DIR         records (SQLite), files and uploads in progress (default ./resumable-demo-data)\n"
    "  --stale-after DURATION uploads without a new chunk for this long are collected, e.g. 90s, 30m, 24h, 7d\n"
    "                         (default 24h)\n"
    "  --tls-cert FILE        serve HTTPS with this certificate (PEM, chain after it) ...\n"
    "  --tls-key FILE         ... and this private key (PEM)\n"
    "  --tls self-signed      serve HTTPS with a self-signed certificate the demo generates into DIR/tls/ on\n"
    "                         first start and reuses afterwards (its SHA-256 fingerprint is printed)\n"
    "  --database URL         the scale-out mode (docs/scale-out.md): admins, sessions and documents, and the\n"
    "                         upload registry, in this PostgreSQL database (postgresql://USER@HOST:PORT/DB;\n"
    "                         libpq's PG* variables and ~/.pgpass apply), shared by every instance started with\n"
    "                         it; DIR must then be one folder they all share (not needed with --s3)\n"
    "  --s3 URL               keep uploads and the documents' files in S3 at this endpoint (http://HOST:PORT, or\n"
    "                         https://s3.REGION.amazonaws.com); credentials from AWS_ACCESS_KEY_ID and\n"
    "                         AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN); downloads are streamed from S3; alone for\n"
    "                         one instance, with --database for any number over one bucket and prefix\n"
    "  --s3-bucket NAME       the bucket (it must exist)\n"
    "  --s3-region REGION     the signing region (default AWS_REGION, else us-east-1)\n"
    "  --s3-prefix PREFIX     key prefix inside the bucket, e.g. demo/ (default none)\n"
    "  --s3-style STYLE       path (ENDPOINT/BUCKET/KEY, the default) or virtual-host (BUCKET.HOST/KEY)\n"
    "  --create-admin NAME    create admin NAME (or give it a new password) and exit; the password comes from\n"
    "                         RESUMABLE_DEMO_ADMIN_PASSWORD, else from the terminal, else one line on stdin\n"
    "  --help                 show this text\n"
    "\n"
    "Environment: RESUMABLE_DEMO_ADMIN=NAME with RESUMABLE_DEMO_ADMIN_PASSWORD=... creates that admin at\n"
    "start if it does not exist. There is no default admin; the public pages work without one.\n"
    "Exit status: 0 after SIGINT/SIGTERM, 1 when start-up fails (e.g. the database cannot be reached or the\n"
    "bucket is missing; the reason is printed), 2 for a usage error.\n";

namespace {

std::optional<unsigned> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) return std::nullopt;
  return value;
}

// "90", "90s", "30m", "24h", "7d".
std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  long long unit = 1;
  switch (text.back()) {
    case 's': unit = 1; text.remove_suffix(1); break;
    case 'm': unit = 60; text.remove_suffix(1); break;
    case 'h': unit = 3600; text.remove_suffix(1); break;
    case 'd': unit = 86400; text.remove_suffix(1); break;
    default: break;
  }
  if (text.empty() || text.size() > 9) return std::nullopt;
  long long value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return std::chrono::seconds(value * unit);
}

}  // namespace

ParsedCommandLine parse_command_line(int argc, char** argv) {
  ParsedCommandLine parsed;
  auto fail = [&parsed](std::string message) {
    parsed.action = DemoAction::usage_error;
    parsed.error = std::move(message);
    return parsed;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      parsed.action = DemoAction::show_help;
      return parsed;
    }
    if (arg != "--host" && arg != "--port" && arg != "--data-dir" && arg != "--stale-after" &&
        arg != "--create-admin" && arg != "--tls-cert" && arg != "--tls-key" && arg != "--tls" &&
        arg != "--database" && arg != "--s3" && arg != "--s3-bucket" && arg != "--s3-region" &&
        arg != "--s3-prefix" && arg != "--s3-style") {
      return fail("unknown argument '" + std::string(arg) + "'");
    }
    if (i + 1 >= argc) return fail(std::string(arg) + " needs a value");
    const std::string_view value = argv[++i];
    if (arg == "--host") {
      // [::1] as in a URL, ::1 as in getaddrinfo: both mean the same address.
      const bool bracketed = value.size() > 2 && value.front() == '[' && value.back() == ']';
      parsed.options.host = bracketed ? value.substr(1, value.size() - 2) : value;
      if (parsed.options.host.empty()) return fail("--host needs an address");
    } else if (arg == "--tls-cert") {
      parsed.options.tls_cert = value;
    } else if (arg == "--tls-key") {
      parsed.options.tls_key = value;
    } else if (arg == "--tls") {
      if (value != "self-signed") return fail("--tls takes 'self-signed' (or use --tls-cert and --tls-key)");
      parsed.options.tls = TlsMode::self_signed;
    } else if (arg == "--database") {
      // URLs only: the demo adds its own options= for the upload registries' schemas.
      if (value.rfind("postgresql://", 0) != 0 && value.rfind("postgres://", 0) != 0) {
        return fail("--database takes a postgresql:// URL");
      }
      parsed.options.database = std::string(value);
    } else if (arg == "--s3") {
      if (value.rfind("http://", 0) != 0 && value.rfind("https://", 0) != 0) return fail("--s3 takes an http:// or https:// URL");
      parsed.options.s3_endpoint = std::string(value);
    } else if (arg == "--s3-bucket") {
      parsed.options.s3_bucket = value;
    } else if (arg == "--s3-region") {
      parsed.options.s3_region = value;
    } else if (arg == "--s3-prefix") {
      parsed.options.s3_prefix = value;
    } else if (arg == "--s3-style") {
      if (value != "path" && value != "virtual-host") return fail("--s3-style takes 'path' or 'virtual-host'");
      parsed.options.s3_path_style = value == "path";
    } else if (arg == "--data-dir") {
      if (value.empty()) return fail("--data-dir needs a folder");
      parsed.options.data_dir = value;
    } else if (arg == "--create-admin") {
      parsed.options.create_admin = std::string(value);
      parsed.action = DemoAction::create_admin;
    } else if (arg == "--port") {
      const auto port = parse_port(value);
      if (!port) return fail("invalid port '" + std::string(value) + "'");
      parsed.options.port = *port;
    } else {
      const auto duration = parse_duration(value);
      if (!duration) return fail("invalid duration '" + std::string(value) + "' (e.g. 90s, 30m, 24h, 7d)");
      parsed.options.stale_after = *duration;
    }
  }
  const bool has_cert = !parsed.options.tls_cert.empty();
  const bool has_key = !parsed.options.tls_key.empty();
  if (has_cert != has_key) return fail("--tls-cert and --tls-key go together");
  if (has_cert && parsed.options.tls == TlsMode::self_signed) {
    return fail("--tls self-signed and --tls-cert/--tls-key exclude each other");
  }
  if (has_cert) parsed.options.tls = TlsMode::files;
  if (parsed.options.s3_endpoint.has_value() != !parsed.options.s3_bucket.empty()) {
    return fail("--s3 and --s3-bucket go together");
  }
  return parsed;
}

std::string host_for_url(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

}  // namespace resumable::demo
