// resumable_test_server: the upload endpoint on a real CivetWeb server for the browser tests.
//   /upload            the endpoint (docs/protocol.md); /upload/widget/ the widget from memory
//   /test/claim?token  POST: claims a finished upload for the requesting principal (JSON)
//   /test/stats[?identifier=ID]  GET: chunk POST/PUT requests the server received for ID, or for all
//                      identifiers (JSON); counted before the endpoint sees them, so tests count on
//                      the server side
//   everything else    static files from --document-root (default: the source tree)
// The principal comes from the `X-Test-User: name` header (`name;staff` for staff), or is anonymous
// with --allow-anonymous. Prints "listening on http://127.0.0.1:PORT/" when ready; SIGTERM stops it.
#include <civetweb.h>
#include <signal.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "resumable/upload_endpoint.h"

namespace {

struct Settings {
  unsigned port = 0;
  std::filesystem::path data_dir;
  std::filesystem::path document_root = RESUMABLE_SOURCE_DIR;
  bool allow_anonymous = false;
  bool durable = true;
  std::uint64_t max_file_size = 0;
  std::string threads = "32";
};

std::optional<resumable::Principal> principal_from_header(mg_connection* connection) {
  const char* header = mg_get_header(connection, "X-Test-User");
  if (header == nullptr || *header == '\0') return std::nullopt;
  std::string_view value = header;
  resumable::Principal principal;
  if (const auto semicolon = value.find(';'); semicolon != std::string_view::npos) {
    principal.is_staff = value.substr(semicolon + 1) == "staff";
    value = value.substr(0, semicolon);
  }
  principal.id = std::string(value);
  return principal;
}

int handle_claim(mg_connection* connection, void* endpoint_pointer) {
  auto* endpoint = static_cast<resumable::UploadEndpoint*>(endpoint_pointer);
  const mg_request_info* info = mg_get_request_info(connection);
  char token[128] = {};
  const char* query = info->query_string != nullptr ? info->query_string : "";
  mg_get_var(query, std::strlen(query), "token", token, sizeof(token));
  const auto principal = principal_from_header(connection);
  nlohmann::json body;
  int status = 200;
  if (std::strcmp(info->request_method, "POST") != 0) {
    status = 405;
    body = {{"error", "method_not_allowed"}};
  } else {
    const auto claimed = endpoint->claim_upload(token, principal ? principal->id : std::string());
    if (const auto* error = std::get_if<resumable::ErrorCode>(&claimed)) {
      status = resumable::error_info(*error).http_status;
      body = {{"error", resumable::error_info(*error).id}};
    } else {
      const auto& c = std::get<resumable::ClaimedUpload>(claimed);
      body = {{"path", c.location}, {"size", c.size}, {"blake2b256", resumable::core::to_hex(c.digest)},
              {"fileName", c.file_name}, {"identifier", c.identifier}};
    }
  }
  const std::string text = body.dump();
  mg_printf(connection, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
            "Connection: close\r\n\r\n%s", status,
            mg_get_response_code_text(connection, status), text.size(), text.c_str());
  return status;
}

std::mutex chunk_posts_mutex;
std::map<std::string, std::uint64_t> chunk_posts;  // by identifier

int count_chunk_posts(mg_connection* connection) {
  const mg_request_info* info = mg_get_request_info(connection);
  const bool upload = std::strcmp(info->request_method, "POST") == 0 || std::strcmp(info->request_method, "PUT") == 0;
  if (upload && info->local_uri != nullptr && std::strcmp(info->local_uri, "/upload") == 0 && info->query_string) {
    char identifier[512] = {};
    const char* query = info->query_string;
    if (mg_get_var(query, std::strlen(query), "resumableIdentifier", identifier, sizeof(identifier)) > 0 ||
        mg_get_var(query, std::strlen(query), "flowIdentifier", identifier, sizeof(identifier)) > 0) {
      std::lock_guard lock(chunk_posts_mutex);
      ++chunk_posts[identifier];
    }
  }
  return 0;  // let CivetWeb go on with the request
}

int handle_stats(mg_connection* connection, void*) {
  const mg_request_info* info = mg_get_request_info(connection);
  char identifier[512] = {};
  const char* query = info->query_string != nullptr ? info->query_string : "";
  const bool one = mg_get_var(query, std::strlen(query), "identifier", identifier, sizeof(identifier)) >= 0;
  std::uint64_t count = 0;
  {
    std::lock_guard lock(chunk_posts_mutex);
    for (const auto& [id, posts] : chunk_posts) {
      if (!one || id == identifier) count += posts;
    }
  }
  const std::string text = nlohmann::json{{"identifier", identifier}, {"chunkPosts", count}}.dump();
  mg_printf(connection, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
            "Connection: close\r\n\r\n%s", text.size(), text.c_str());
  return 200;
}

int log_message(const mg_connection*, const char* message) {
  std::fprintf(stderr, "test_server: %s\n", message);
  return 1;
}

bool parse(int argc, char** argv, Settings& s) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "--allow-anonymous") {
      s.allow_anonymous = true;
      continue;
    }
    const char* value = next();
    if (value == nullptr) return false;
    if (arg == "--port") {
      s.port = static_cast<unsigned>(std::strtoul(value, nullptr, 10));
    } else if (arg == "--data-dir") {
      s.data_dir = value;
    } else if (arg == "--document-root") {
      s.document_root = value;
    } else if (arg == "--durable") {
      s.durable = std::string_view(value) != "0";
    } else if (arg == "--max-file-size") {
      s.max_file_size = std::strtoull(value, nullptr, 10);
    } else if (arg == "--threads") {
      s.threads = value;
    } else {
      return false;
    }
  }
  return !s.data_dir.empty();
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  if (!parse(argc, argv, settings)) {
    std::fprintf(stderr,
                 "usage: resumable_test_server --data-dir DIR [--port N] [--document-root DIR] [--allow-anonymous]"
                 " [--durable 0|1] [--max-file-size N] [--threads N]\n");
    return 2;
  }
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  resumable::EndpointOptions options;
  options.chunk_dir = settings.data_dir / "chunks";
  options.upload_to = settings.data_dir / "files";
  options.durable = settings.durable;
  options.access = settings.allow_anonymous ? resumable::Access::anonymous_allowed : resumable::Access::login_required;
  options.authenticate = principal_from_header;
  if (settings.max_file_size > 0) options.limits.max_file_size = settings.max_file_size;
  std::string error;
  auto endpoint = resumable::UploadEndpoint::create(std::move(options), &error);
  if (!endpoint) {
    std::fprintf(stderr, "test_server: %s\n", error.c_str());
    return 1;
  }

  const std::string listening = "127.0.0.1:" + std::to_string(settings.port);
  const std::string root = settings.document_root.string();
  const char* civetweb_options[] = {"listening_ports", listening.c_str(), "num_threads", settings.threads.c_str(),
                                    "document_root", root.c_str(), "request_timeout_ms", "60000", nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = log_message;
  callbacks.begin_request = count_chunk_posts;
  mg_init_library(0);
  mg_context* context = mg_start(&callbacks, nullptr, civetweb_options);
  if (context == nullptr) return 1;
  endpoint->mount(context, "/upload");
  mg_set_request_handler(context, "/test/claim$", handle_claim, endpoint.get());
  mg_set_request_handler(context, "/test/stats$", handle_stats, nullptr);

  mg_server_port ports[2];
  const int count = mg_get_server_ports(context, 2, ports);
  std::printf("listening on http://127.0.0.1:%d/\n", count > 0 ? ports[0].port : 0);
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  mg_stop(context);
  mg_exit_library();
  return 0;
}
