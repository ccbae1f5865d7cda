#include "commands.h"

#include "digest_command.h"
#include "exit_codes.h"
#include "local_file.h"
#include "resumable_protocol.h"
#include "signing.h"
#include "tus_protocol.h"
#include "upload_state.h"
#include "uploader.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace resumable::cli {

namespace {

using Json = nlohmann::json;

constexpr const char* exit_code_help =
    "Exit codes:\n"
    "  0    every file uploaded and verified\n"
    "  1    a local file could not be read\n"
    "  2    usage error\n"
    "  3    gave up retrying (network errors, timeouts, the server's retryable errors)\n"
    "  4    refused by the server (e.g. 401, 403, 413, 415; its message is printed), or a connection\n"
    "       no retry can fix (an untrusted TLS certificate: see --cacert, --insecure)\n"
    "  5    verification failed: the server's copy does not match the file\n"
    "  130  interrupted (Ctrl-C): run the same command again to resume\n"
    "With several files, the code of the first file that failed.\n";

constexpr const char* main_help =
    "usage: resumable VERB [OPTION]... ARGS\n"
    "Verified, resumable uploads to a resumable endpoint (docs/cli.md).\n"
    "\n"
    "Verbs:\n"
    "  upload FILE... URL   upload files, resuming what the server already holds\n"
    "  digest FILE...       print or check tree digests (like resumable-digest)\n"
    "  status URL FILE      what the server holds of FILE's upload\n"
    "  cancel URL FILE      delete the server's part of FILE's upload\n"
    "  help [VERB]          this text, or a verb's\n"
    "\n"
    "`resumable VERB --help` shows a verb's options. --version prints the version.\n";

constexpr const char* network_options_help =
    "  -H, --header 'NAME: VALUE'  send this header with every request (repeatable; auth, CSRF)\n"
    "  -k, --insecure              do not verify the server's TLS certificate\n"
    "      --cacert FILE           verify the server's certificate against these CAs\n"
    "      --cookie-jar FILE       keep cookies in FILE (an anonymous mount's scope: resume in a later run)\n"
    "      --chunk-size SIZE       chunk size (default 4MiB; must match the upload's)\n"
    "      --stall-timeout TIME    give a request up when no byte moved for TIME (default 30s)\n"
    "      --response-timeout TIME give a request up when no reply came TIME after its body (default 120s)\n"
    "      --retries N             retries per chunk or request before giving up (default 20)\n"
    "      --protocol NAME         resumable (our endpoint, the default) or tus (a tus 1.0 endpoint such\n"
    "                              as http://host/files; every PATCH carries Upload-Checksum)\n"
    "      --state-file FILE       where tus upload URLs are kept for a later run (default\n"
    "                              $XDG_STATE_HOME/resumable/uploads.json or ~/.local/state/resumable/...)\n"
    "      --json                  one JSON line per file on standard output\n";

constexpr const char* upload_help =
    "usage: resumable upload [OPTION]... FILE... URL\n"
    "Uploads each FILE to the endpoint at URL (e.g. http://host/upload). Every chunk carries its\n"
    "digest and the last one the file's, so the server verifies everything; the final result's digest\n"
    "is checked against the file's. An interrupted upload resumes where it stopped when the same\n"
    "command runs again (one status request); a file that changed is detected by its digests and\n"
    "uploaded afresh. Prints '<name>: OK <digest> token <token>' per file.\n"
    "\n"
    "Options:\n"
    "  -p, --parallel N            chunk requests at once (default 3); with tus, files at once\n"
    "                              (tus sends one file's chunks one after another)\n"
    "      --retry-delay TIME      first retry's wait; doubles per attempt, with jitter (default 500ms)\n"
    "      --max-retry-delay TIME  longest wait between attempts (default 30s)\n"
    "      --limit-rate RATE       at most RATE bytes per second in all (e.g. 10MiB)\n"
    "  -q, --quiet                 no progress display\n"
    "      --progress-interval TIME  period of the progress lines when not on a terminal (default 5s)\n";

constexpr const char* status_help =
    "usage: resumable status [OPTION]... URL FILE\n"
    "Asks the endpoint at URL what it holds of FILE's upload (FILE's first chunk names it): complete\n"
    "(with its token and digest), partial (which chunks), or nothing. Exit 0 when the server answered.\n"
    "\n"
    "Options:\n";

constexpr const char* cancel_help =
    "usage: resumable cancel [OPTION]... URL FILE\n"
    "Deletes what the endpoint at URL holds of FILE's upload (a partial upload, or a finished one\n"
    "nobody has claimed yet). Idempotent. Exit 0 when the server confirmed.\n"
    "\n"
    "Options:\n";

struct Options {
  std::vector<std::string> positional;
  std::vector<std::string> headers;
  TransferSettings transfer;
  UploadSettings upload;
  std::uint64_t limit_rate = 0;
  bool json = false;
  bool quiet = false;
  bool tus = false;
  std::optional<std::string> state_file;
  Milliseconds progress_interval{5000};
};

int usage_error(const std::string& verb, const std::string& message) {
  std::fprintf(stderr, "resumable %s: %s\n(see `resumable %s --help`)\n", verb.c_str(), message.c_str(), verb.c_str());
  return to_int(ExitCode::usage);
}

void print_help(const std::string& verb) {
  if (verb == "upload") {
    std::printf("%s%s\n%s", upload_help, network_options_help, exit_code_help);
  } else if (verb == "status") {
    std::printf("%s%s\n%s", status_help, network_options_help, exit_code_help);
  } else if (verb == "cancel") {
    std::printf("%s%s\n%s", cancel_help, network_options_help, exit_code_help);
  } else {
    std::printf("%s\n%s", main_help, exit_code_help);
  }
}

// Parses the options of a network verb; -1 when it went well, else the exit code to return.
int parse_options(const std::string& verb, std::span<const std::string> args, Options* options) {
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || arg == "-" || arg.empty() || arg.front() != '-') {
      options->positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      print_help(verb);
      return 0;
    }
    std::string name = arg;
    std::optional<std::string> inline_value;
    if (const auto equals = arg.find('='); arg.rfind("--", 0) == 0 && equals != std::string::npos) {
      name = arg.substr(0, equals);
      inline_value = arg.substr(equals + 1);
    }
    const auto value = [&](std::string* out) {
      if (inline_value) {
        *out = *inline_value;
        return true;
      }
      if (i + 1 >= args.size()) return false;
      *out = args[++i];
      return true;
    };
    std::string text;
    const bool is_upload = verb == "upload";
    if (name == "-k" || name == "--insecure") {
      options->transfer.insecure = true;
    } else if (name == "--json") {
      options->json = true;
    } else if (is_upload && (name == "-q" || name == "--quiet")) {
      options->quiet = true;
    } else if (name == "-H" || name == "--header") {
      if (!value(&text) || text.find(':') == std::string::npos || text.front() == ':') {
        return usage_error(verb, "--header needs 'NAME: VALUE'");
      }
      options->headers.push_back(text);
    } else if (name == "--protocol") {
      if (!value(&text) || (text != "resumable" && text != "tus")) return usage_error(verb, "--protocol needs resumable or tus");
      options->tus = text == "tus";
    } else if (name == "--state-file") {
      if (!value(&text) || text.empty()) return usage_error(verb, "--state-file needs a file");
      options->state_file = text;
    } else if (name == "--cookie-jar") {
      if (!value(&options->transfer.cookie_jar)) return usage_error(verb, "--cookie-jar needs a file");
    } else if (name == "--cacert") {
      if (!value(&options->transfer.ca_file)) return usage_error(verb, "--cacert needs a file");
    } else if (name == "--chunk-size") {
      if (!value(&text) || !parse_size(text, &options->upload.chunk_size) || options->upload.chunk_size == 0) {
        return usage_error(verb, "--chunk-size needs a size such as 4MiB");
      }
    } else if (name == "--stall-timeout" || name == "--response-timeout" || (is_upload && name == "--retry-delay") ||
               (is_upload && name == "--max-retry-delay") || (is_upload && name == "--progress-interval")) {
      Milliseconds duration{};
      if (!value(&text) || !parse_duration(text, &duration)) return usage_error(verb, name + " needs a time such as 30s");
      if (name == "--stall-timeout") options->transfer.stall_timeout = duration;
      else if (name == "--response-timeout") options->transfer.response_timeout = duration;
      else if (name == "--retry-delay") options->upload.retry.initial_delay = duration;
      else if (name == "--max-retry-delay") options->upload.retry.max_delay = duration;
      else options->progress_interval = duration;
    } else if (name == "--retries" || (is_upload && (name == "-p" || name == "--parallel"))) {
      std::uint64_t number = 0;
      if (!value(&text) || !parse_size(text, &number) || number > 1000) return usage_error(verb, name + " needs a number");
      if (name == "--retries") {
        options->upload.retry.max_retries = static_cast<int>(number);
      } else {
        if (number == 0) return usage_error(verb, "--parallel needs at least 1");
        options->upload.parallel = static_cast<int>(number);
      }
    } else if (is_upload && name == "--limit-rate") {
      if (!value(&text) || !parse_size(text, &options->limit_rate)) return usage_error(verb, "--limit-rate needs a rate such as 10MiB");
    } else {
      return usage_error(verb, "unknown option " + arg);
    }
  }
  return -1;
}

Json failure_json(const Failure& failure) {
  return {{"code", failure.code}, {"status", failure.status}, {"message", failure.message}};
}

std::string failure_text(const Failure& failure) {
  std::string text = failure.message;
  if (failure.status != 0) text += " (HTTP " + std::to_string(failure.status) + ", " + failure.code + ")";
  else text += " (" + failure.code + ")";
  return text;
}

// The protocol the options name, for the endpoint at `url`. `create`: a status request of tus
// creates the upload when none is known (upload), or only says so (the status verb).
std::unique_ptr<Protocol> make_protocol(const Options& options, const std::string& url, HttpClient& http, bool create) {
  if (!options.tus) return std::make_unique<ResumableProtocol>(http, EndpointSettings{url, options.headers});
  TusSettings settings;
  settings.url = url;
  settings.headers = options.headers;
  settings.state_file = options.state_file.value_or(UploadUrlStore::default_path());
  settings.create = create;
  settings.warn = [](const std::string& message) { std::fprintf(stderr, "resumable: %s\n", message.c_str()); };
  return std::make_unique<TusProtocol>(http, std::move(settings));
}

int upload_command(std::span<const std::string> args, const std::atomic<bool>& interrupted) {
  Options options;
  if (const int code = parse_options("upload", args, &options); code >= 0) return code;
  if (options.positional.size() < 2) return usage_error("upload", "needs FILE... and URL");
  const std::string url = options.positional.back();
  const std::vector<std::string> files(options.positional.begin(), options.positional.end() - 1);
  if (options.tus) {
    // tus without concatenation: one stream per upload, so --parallel spreads over files.
    options.upload.files_at_once = options.upload.parallel;
    options.upload.parallel = 1;
  }
  const auto streams = static_cast<std::uint64_t>(
      std::min<std::size_t>(static_cast<std::size_t>(options.upload.parallel * options.upload.files_at_once),
                            static_cast<std::size_t>(options.upload.parallel) * files.size()));
  if (options.limit_rate > 0) options.transfer.max_send_speed = std::max<std::uint64_t>(1, options.limit_rate / streams);
  HttpClient http(options.transfer);
  const auto protocol = make_protocol(options, url, http, true);
  ProgressMode mode = options.quiet ? ProgressMode::quiet : isatty(STDERR_FILENO) ? ProgressMode::terminal : ProgressMode::plain;
  // One line rewritten in place cannot show several files at once: plain lines then.
  if (mode == ProgressMode::terminal && options.upload.files_at_once > 1 && files.size() > 1) mode = ProgressMode::plain;
  std::vector<std::optional<ExitCode>> codes(files.size());
  const auto on_report = [&](std::size_t index, const FileReport& report) {
    const std::string& path = files[index];
    codes[index] = report.code;
    if (options.json) {
      Json line = {{"file", path}, {"status", report.code == ExitCode::ok ? "complete" : report.code == ExitCode::interrupted ? "interrupted" : "failed"},
                   {"exitCode", to_int(report.code)}, {"identifier", report.identifier}, {"size", report.size},
                   {"chunkCount", report.chunk_count}, {"chunksSent", report.chunks_sent}, {"chunksHeld", report.chunks_held},
                   {"restarted", report.restarted}};
      if (report.file_digest) line["fileDigest"] = *report.file_digest;
      if (report.result) {
        line["token"] = report.result->token;
        line["digestAlgorithm"] = report.result->digest_algorithm;
      }
      if (report.failure) line["error"] = failure_json(*report.failure);
      std::printf("%s\n", line.dump(-1, ' ', false, Json::error_handler_t::replace).c_str());
    } else if (report.code == ExitCode::ok) {
      // Ours: the server's is equal (verified), or absent on a tus server other than ours.
      std::printf("%s: OK %s token %s\n", path.c_str(), report.file_digest.value_or("").c_str(), report.result->token.c_str());
    }
    if (report.code != ExitCode::ok && report.code != ExitCode::interrupted && report.failure) {
      std::fprintf(stderr, "resumable upload: %s: %s\n", path.c_str(), failure_text(*report.failure).c_str());
    }
    std::fflush(stdout);
  };
  upload_files(files, options.upload, http, *protocol,
               [&] { return make_progress(mode, stderr, options.progress_interval); }, interrupted, on_report);
  for (const auto& code : codes) {
    if (code && *code != ExitCode::ok) return to_int(*code);  // the first file (in argument order) that failed
  }
  return to_int(interrupted.load() ? ExitCode::interrupted : ExitCode::ok);
}

// The identifier of FILE's upload as `upload` makes it (from its first chunk), or an exit code.
std::optional<UploadDescription> describe_file(const std::string& verb, const std::string& path, std::uint64_t chunk_size,
                                               int* exit_code) {
  std::string error;
  auto file = LocalFile::open(path, chunk_size, &error);
  std::optional<ReadChunk> first;
  if (file) first = file->read_next(&error);
  if (!file || !first) {
    std::fprintf(stderr, "resumable %s: %s: %s\n", verb.c_str(), path.c_str(), error.c_str());
    *exit_code = to_int(ExitCode::local_error);
    return std::nullopt;
  }
  UploadDescription d;
  d.identifier = upload_identifier(file->name(), file->size(), file->modified_ms(), chunk_size, first->digest);
  d.file_name = file->name();
  d.size = file->size();
  d.chunk_size = chunk_size;
  d.chunk_count = file->geometry().chunk_count();
  return d;
}

// Runs one control request (status or delete) to its end, with the upload's retry policy.
template <typename Outcome, typename Start>
Outcome run_with_retries(HttpClient& http, const RetryPolicy& policy, const std::atomic<bool>& interrupted, Start start,
                         std::function<bool(const Outcome&)> failed_retryably) {
  std::optional<Outcome> outcome;
  for (int attempt = 0;; ++attempt) {
    outcome.reset();
    start([&](Outcome o) { outcome = std::move(o); });
    while (!outcome && !interrupted.load()) http.poll(Milliseconds(100));
    if (!outcome) return Outcome{};
    if (!failed_retryably(*outcome) || attempt >= policy.max_retries) return *outcome;
    const auto wait = retry_delay(policy, attempt + 1, outcome->retry_after, 0.5);
    const auto until = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < until && !interrupted.load()) http.poll(Milliseconds(50));
  }
}

// A verb about one file's upload (status, cancel): `URL FILE` after the options; `act` runs the
// request with the parsed options, the file's description and a protocol to ask.
using ControlAction = std::function<int(const Options&, const UploadDescription&, HttpClient&, Protocol&)>;

int control_verb(const std::string& verb, std::span<const std::string> args, const ControlAction& act) {
  Options options;
  if (const int code = parse_options(verb, args, &options); code >= 0) return code;
  if (options.positional.size() != 2) return usage_error(verb, "needs URL and FILE");
  int code = 0;
  const auto upload = describe_file(verb, options.positional[1], options.upload.chunk_size, &code);
  if (!upload) return code;
  HttpClient http(options.transfer);
  const auto protocol = make_protocol(options, options.positional[0], http, false);
  return act(options, *upload, http, *protocol);
}

int status_command(std::span<const std::string> args, const std::atomic<bool>& interrupted) {
  return control_verb("status", args, [&](const Options& options, const UploadDescription& upload_description,
                                          HttpClient& http, Protocol& protocol) {
    const UploadDescription* upload = &upload_description;
    const auto outcome = run_with_retries<StatusOutcome>(
        http, options.upload.retry, interrupted,
        [&](auto done) { protocol.request_status(*upload, done); },
        [](const StatusOutcome& o) { return o.kind == StatusOutcome::Kind::failed && o.failure.retryable; });
    if (interrupted.load()) return to_int(ExitCode::interrupted);
    const std::string& path = options.positional[1];
    using Kind = StatusOutcome::Kind;
    Json line = {{"file", path}, {"identifier", upload->identifier}, {"chunkCount", upload->chunk_count}};
    std::string text;
    switch (outcome.kind) {
      case Kind::complete:
        line["status"] = "complete";
        line["token"] = outcome.result.token;
        line["fileDigest"] = outcome.result.file_digest;
        text = "complete, digest " + outcome.result.file_digest + " token " + outcome.result.token;
        break;
      case Kind::partial:
        line["status"] = "partial";
        line["chunksHeld"] = outcome.held.size();
        text = "partial, " + std::to_string(outcome.held.size()) + " of " + std::to_string(upload->chunk_count) + " chunks held";
        break;
      case Kind::absent:
        line["status"] = "absent";
        text = "nothing on the server";
        break;
      case Kind::differs:
        line["status"] = "differs";
        text = "the server holds an upload of other bytes under this file's identifier";
        break;
      case Kind::failed:
        std::fprintf(stderr, "resumable status: %s: %s\n", path.c_str(), failure_text(outcome.failure).c_str());
        return to_int(outcome.failure.retryable ? ExitCode::network : ExitCode::refused);
    }
    if (options.json) std::printf("%s\n", line.dump(-1, ' ', false, Json::error_handler_t::replace).c_str());
    else std::printf("%s: %s (identifier %s)\n", path.c_str(), text.c_str(), upload->identifier.c_str());
    return 0;
  });
}

int cancel_command(std::span<const std::string> args, const std::atomic<bool>& interrupted) {
  return control_verb("cancel", args, [&](const Options& options, const UploadDescription& upload_description,
                                          HttpClient& http, Protocol& protocol) {
    const UploadDescription* upload = &upload_description;
    const auto outcome = run_with_retries<DeleteOutcome>(
        http, options.upload.retry, interrupted, [&](auto done) { protocol.delete_upload(*upload, done); },
        [](const DeleteOutcome& o) { return !o.deleted && o.failure.retryable; });
    if (interrupted.load()) return to_int(ExitCode::interrupted);
    const std::string& path = options.positional[1];
    if (!outcome.deleted) {
      std::fprintf(stderr, "resumable cancel: %s: %s\n", path.c_str(), failure_text(outcome.failure).c_str());
      return to_int(outcome.failure.retryable ? ExitCode::network : ExitCode::refused);
    }
    if (options.json) {
      std::printf("%s\n", Json({{"file", path}, {"identifier", upload->identifier}, {"status", "cancelled"}})
                              .dump(-1, ' ', false, Json::error_handler_t::replace).c_str());
    } else {
      std::printf("%s: cancelled (identifier %s)\n", path.c_str(), upload->identifier.c_str());
    }
    return 0;
  });
}

}  // namespace

namespace {

// "1.5GiB" as 1.5 and "GiB": a decimal number (at most 20 characters) and what follows it.
bool split_number(const std::string& text, double* number, std::string* unit) {
  std::size_t digits = 0;
  while (digits < text.size() && ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.')) ++digits;
  if (digits == 0 || digits > 20) return false;
  try {
    *number = std::stod(text.substr(0, digits));
  } catch (...) {  // "1.2.3"
    return false;
  }
  *unit = text.substr(digits);
  return true;
}

}  // namespace

bool parse_size(const std::string& text, std::uint64_t* bytes) {
  double number = 0;
  std::string unit;
  if (!split_number(text, &number, &unit)) return false;
  static const std::map<std::string, double> units = {
      {"", 1}, {"B", 1}, {"k", 1024}, {"K", 1024}, {"KiB", 1024}, {"M", 1 << 20}, {"MiB", 1 << 20},
      {"G", 1 << 30}, {"GiB", 1 << 30}, {"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}};
  const auto it = units.find(unit);
  if (it == units.end()) return false;
  const double value = number * it->second;
  if (value < 0 || value > 1.8e19 || value != std::floor(value)) return false;
  *bytes = static_cast<std::uint64_t>(value);
  return true;
}

bool parse_duration(const std::string& text, std::chrono::milliseconds* duration) {
  double number = 0;
  std::string unit;
  if (!split_number(text, &number, &unit) || number > 1e12) return false;
  double scale = 0;
  if (unit == "ms") scale = 1;
  else if (unit == "s" || unit.empty()) scale = 1000;
  else if (unit == "m") scale = 60000;
  else if (unit == "h") scale = 3600000;
  else return false;
  *duration = std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(number * scale)));
  return true;
}

int run_command(std::span<const std::string> args, const std::atomic<bool>& interrupted) {
  if (args.empty()) {
    std::fprintf(stderr, "%s", main_help);
    return to_int(ExitCode::usage);
  }
  const std::string& verb = args[0];
  const auto rest = args.subspan(1);
  if (verb == "upload") return upload_command(rest, interrupted);
  if (verb == "status") return status_command(rest, interrupted);
  if (verb == "cancel") return cancel_command(rest, interrupted);
  if (verb == "digest") return resumable::tools::run_digest_command("resumable digest", rest);
  if (verb == "keygen") return keygen_command(rest);
  if (verb == "sign") return sign_command(rest);
  if (verb == "help" || verb == "-h" || verb == "--help") {
    print_help(rest.empty() ? "" : rest[0]);
    if (!rest.empty() && rest[0] == "digest") return resumable::tools::run_digest_command("resumable digest", std::vector<std::string>{"--help"});
    if (!rest.empty() && rest[0] == "keygen") return keygen_command(std::vector<std::string>{"--help"});
    if (!rest.empty() && rest[0] == "sign") return sign_command(std::vector<std::string>{"--help"});
    return 0;
  }
  if (verb == "--version") {
    std::printf("resumable %s\n", RESUMABLE_CLI_VERSION);
    return 0;
  }
  std::fprintf(stderr, "resumable: unknown verb '%s'\n\n%s", verb.c_str(), main_help);
  return to_int(ExitCode::usage);
}

}  // namespace resumable::cli
