// resumable_test_server: the upload endpoint on a real CivetWeb server for the node, browser and
// reliability tests, with every limit and timeout they need to set from the command line.
//   /upload                the endpoint (docs/protocol.md); /upload/widget/ the widget from memory
//   --tus-path P           also the tus 1.0.0 front-end at P (e.g. /files)
//   --ietf-path P          also the IETF draft's Resumable Uploads front-end at P (e.g. /resumable)
//   /test/claim?token=T    POST: claims a finished upload for the requesting principal (JSON): the
//                          X-Test-User, or on an anonymous mount the client's scope cookie
//   /test/stats[?identifier=ID]  GET: chunk POST/PUT requests received for ID or for all (JSON);
//                          counted before the endpoint sees them, so tests count on the server side;
//                          also tus PATCH requests and their Content-Length bytes for the upload
//                          ID (the last segment of its URL) or for all: patchRequests, patchBytes
//   /test/collect          POST: runs the collection of stale and unclaimed uploads now (JSON report)
//   /test/uploads          GET: the uploads the endpoint holds (JSON)
//   everything else        static files from --document-root (default: the source tree)
//   --s3-endpoint URL      the S3 store instead of the filesystem store (builds with RESUMABLE_S3):
//                          --s3-bucket B [--s3-region R] [--s3-prefix P] [--s3-path-style 0|1]
//                          [--s3-max-attempts N]; credentials from AWS_ACCESS_KEY_ID and
//                          AWS_SECRET_ACCESS_KEY; released files are objects (claim: their key)
//   --registry CONNINFO    records in the PostgreSQL registry (builds with RESUMABLE_POSTGRESQL)
//                          instead of beside the data: several instances given the same
//                          --data-dir (or the same --s3-endpoint, bucket and prefix) and
//                          registry share every upload (docs/scale-out.md)
// The principal comes from `X-Test-User: name` (`name;staff` for staff). Pages on other origins may
// use /upload when listed in `--allowed-origins http://127.0.0.1:PORT,...` (CORS; `--cors-credentials 1`
// also lets them send cookies). Prints
// "listening on http://127.0.0.1:PORT/" when ready (`--host ::1`: on IPv6 loopback, http://[::1]:PORT/);
// SIGTERM stops it cleanly.
#include <civetweb.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "resumable/connection_guard.h"
#include "resumable/filesystem_store.h"
#if RESUMABLE_TEST_SERVER_S3
#include "resumable/s3_store.h"
#endif
#if RESUMABLE_TEST_SERVER_POSTGRESQL
#include "resumable/postgresql_registry.h"
#endif
#include "resumable/upload_endpoint.h"
#include "status_map.h"

namespace {

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

void send(mg_connection* connection, int status, const nlohmann::json& body) {
  const std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  mg_printf(connection,
            "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
            status, mg_get_response_code_text(connection, status), text.size(), text.c_str());
}

int handle_claim(mg_connection* connection, void* endpoint_pointer) {
  auto* endpoint = static_cast<resumable::UploadEndpoint*>(endpoint_pointer);
  const mg_request_info* info = mg_get_request_info(connection);
  char token[160] = {};
  const char* query = info->query_string != nullptr ? info->query_string : "";
  mg_get_var(query, std::strlen(query), "token", token, sizeof(token));
  // The principal as the endpoint sees it: X-Test-User, or an anonymous client's scope cookie.
  const auto principal = endpoint->principal_for(connection);
  if (std::strcmp(info->request_method, "POST") != 0) {
    send(connection, 405, {{"error", "method_not_allowed"}});
    return 405;
  }
  const auto claimed = endpoint->claim_upload(token, principal.value_or(std::string()));
  if (const auto* error = std::get_if<resumable::ErrorCode>(&claimed)) {
    const int status = resumable::resumablejs::http_status(*error);
    send(connection, status, {{"error", resumable::error_info(*error).id}});
    return status;
  }
  const auto& c = std::get<resumable::ClaimedUpload>(claimed);
  send(connection, 200,
       {{"path", c.location}, {"size", c.size}, {"fileDigest", resumable::core::to_hex(c.digest)},
        {"fileName", c.file_name}, {"identifier", c.identifier}});
  return 200;
}

int handle_collect(mg_connection* connection, void* endpoint_pointer) {
  auto* endpoint = static_cast<resumable::UploadEndpoint*>(endpoint_pointer);
  const auto report = endpoint->collect_stale();
  send(connection, 200, {{"staleRemoved", report.stale_removed}, {"unclaimedRemoved", report.unclaimed_removed}});
  return 200;
}

int handle_uploads(mg_connection* connection, void* endpoint_pointer) {
  auto* endpoint = static_cast<resumable::UploadEndpoint*>(endpoint_pointer);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& u : endpoint->list_uploads()) {
    list.push_back({{"principal", u.principal}, {"identifier", u.identifier}, {"fileName", u.file_name},
                    {"totalSize", u.total_size ? nlohmann::json(*u.total_size) : nlohmann::json()},
                    {"chunkCount", u.expected_pieces ? nlohmann::json(*u.expected_pieces) : nlohmann::json()},
                    {"received", u.received_pieces},
                    {"complete", u.complete}});
  }
  send(connection, 200, list);
  return 200;
}

std::mutex chunk_posts_mutex;
std::map<std::string, std::uint64_t> chunk_posts;  // by identifier
struct PatchCount {
  std::uint64_t requests = 0;
  std::uint64_t bytes = 0;  // announced by Content-Length, whatever then arrived
};
std::map<std::string, PatchCount> tus_patches;  // by tus upload id
std::string tus_prefix;                         // "<tus-path>/", empty without tus

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
  if (!tus_prefix.empty() && std::strcmp(info->request_method, "PATCH") == 0 && info->local_uri != nullptr &&
      std::strncmp(info->local_uri, tus_prefix.c_str(), tus_prefix.size()) == 0) {
    std::lock_guard lock(chunk_posts_mutex);
    auto& count = tus_patches[info->local_uri + tus_prefix.size()];
    ++count.requests;
    count.bytes += info->content_length > 0 ? static_cast<std::uint64_t>(info->content_length) : 0;
  }
  return 0;  // let CivetWeb go on with the request
}

int handle_stats(mg_connection* connection, void*) {
  const mg_request_info* info = mg_get_request_info(connection);
  char identifier[512] = {};
  const char* query = info->query_string != nullptr ? info->query_string : "";
  const bool one = mg_get_var(query, std::strlen(query), "identifier", identifier, sizeof(identifier)) >= 0;
  std::uint64_t count = 0;
  PatchCount patches;
  {
    std::lock_guard lock(chunk_posts_mutex);
    for (const auto& [id, posts] : chunk_posts) {
      if (!one || id == identifier) count += posts;
    }
    for (const auto& [id, patch] : tus_patches) {
      if (one && id != identifier) continue;
      patches.requests += patch.requests;
      patches.bytes += patch.bytes;
    }
  }
  const std::string text = nlohmann::json{{"identifier", identifier}, {"chunkPosts", count},
                                          {"patchRequests", patches.requests}, {"patchBytes", patches.bytes}}.dump();
  send(connection, 200, nlohmann::json::parse(text));
  return 200;
}

int log_message(const mg_connection*, const char* message) {
  std::fprintf(stderr, "test_server: %s\n", message);
  return 1;
}

void usage() {
  std::fprintf(stderr,
               "usage: resumable_test_server --data-dir DIR [--port N] [--threads N] [--document-root DIR]\n"
               "  [--allow-anonymous] [--access anonymous|login|staff] [--durable 0|1] [--request-timeout-ms N] [--max-request-size N]\n"
               "  [--max-file-size N] [--min-chunk-size N] [--max-chunk-size N] [--max-chunks N]\n"
               "  [--max-uploads-per-principal N] [--max-unclaimed-per-principal N] [--max-uploads N] [--stale-after-s N] [--unclaimed-after-s N] [--chunk-wait-ms N]\n"
               "  [--allowed-extensions a,b] [--queue N] [--body-grace-ms N] [--body-min-rate BYTES_PER_S]\n"
               "  [--allowed-origins http://host:port,...] [--cors-credentials 0|1]\n"
               "  [--max-connections-per-address N]   (resumable::ConnectionGuard; 0 = off, the default)\n"
               "  [--direct-io 0|1] [--io-buffer-bytes N] [--io-buffers N] [--io-buffer-budget N] [--write-threads N]   (the store's and the mount's I/O settings)\n"
               "  [--tus-path /files] [--ietf-path /resumable] [--append-piece-bytes N] [--max-metadata-bytes N]\n"
               "  [--s3-endpoint URL --s3-bucket B [--s3-region R] [--s3-prefix P] [--s3-path-style 0|1] [--s3-max-attempts N]]\n"
               "  [--registry postgresql://...]\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--allow-anonymous") {  // shorthand for --access anonymous
      args["access"] = "anonymous";
      continue;
    }
    if (arg.rfind("--", 0) != 0 || i + 1 >= argc) {
      usage();
      return 2;
    }
    args[arg.substr(2)] = argv[++i];
  }
  static const char* known[] = {"data-dir", "host", "port", "threads", "document-root", "access", "durable",
                                "request-timeout-ms", "max-request-size", "max-file-size", "min-chunk-size",
                                "max-chunk-size", "max-chunks", "max-uploads-per-principal", "max-unclaimed-per-principal",
                                "max-uploads", "stale-after-s",
                                "unclaimed-after-s", "chunk-wait-ms", "allowed-extensions", "queue", "body-grace-ms",
                                "body-min-rate", "allowed-origins",
                                "cors-credentials", "max-connections-per-address", "direct-io", "io-buffer-bytes",
                                "io-buffers", "io-buffer-budget", "write-threads", "tus-path", "ietf-path", "append-piece-bytes",
                                "max-metadata-bytes", "s3-endpoint", "s3-bucket", "s3-region", "s3-prefix",
                                "s3-path-style", "s3-max-attempts", "registry"};
  for (const auto& [name, value] : args) {
    if (std::none_of(std::begin(known), std::end(known), [&](const char* k) { return name == k; })) {
      usage();
      return 2;
    }
  }
  if (!args.count("data-dir")) {
    usage();
    return 2;
  }
  auto get = [&](const char* name, const char* fallback) {
    const auto it = args.find(name);
    return it == args.end() ? std::string(fallback) : it->second;
  };
  auto number = [&](const char* name, std::uint64_t fallback) {
    const auto it = args.find(name);
    return it == args.end() ? fallback : std::strtoull(it->second.c_str(), nullptr, 10);
  };

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const std::filesystem::path data_dir = get("data-dir", "");
  resumable::EndpointOptions options;
  resumable::FilesystemStoreOptions filesystem;
  filesystem.chunk_dir = data_dir / "chunks";
  filesystem.upload_to = data_dir / "files";
  filesystem.durable = get("durable", "1") != "0";
  if (args.count("direct-io")) filesystem.direct_io = get("direct-io", "1") != "0";
  std::string store_error;
  if (args.count("registry")) {
#if RESUMABLE_TEST_SERVER_POSTGRESQL
    resumable::PostgresqlRegistryOptions database;
    database.conninfo = get("registry", "");
    filesystem.registry = resumable::make_postgresql_registry(database, &store_error);
    if (!filesystem.registry) {
      std::fprintf(stderr, "test_server: %s\n", store_error.c_str());
      return 1;
    }
#else
    std::fprintf(stderr, "test_server: built without the PostgreSQL registry (RESUMABLE_POSTGRESQL=OFF)\n");
    return 1;
#endif
  }
  if (args.count("s3-endpoint")) {
#if RESUMABLE_TEST_SERVER_S3
    resumable::S3StoreOptions s3;
    s3.registry = filesystem.registry;  // with --registry: records there, bytes in the bucket
    s3.s3.endpoint = get("s3-endpoint", "");
    s3.s3.bucket = get("s3-bucket", "");
    s3.s3.region = get("s3-region", "");
    s3.s3.path_style = get("s3-path-style", "1") != "0";
    s3.s3.max_attempts = static_cast<int>(number("s3-max-attempts", static_cast<std::uint64_t>(s3.s3.max_attempts)));
    s3.prefix = get("s3-prefix", "");
    options.store = resumable::make_s3_store(s3, &store_error);
#else
    store_error = "built without the S3 store (RESUMABLE_S3=OFF)";
#endif
  } else {
    options.store = resumable::make_filesystem_store(filesystem, &store_error);
  }
  if (!options.store) {
    std::fprintf(stderr, "test_server: %s\n", store_error.c_str());
    return 1;
  }
  const std::string access = get("access", "login");
  options.access = access == "anonymous" ? resumable::Access::anonymous_allowed
                   : access == "staff"   ? resumable::Access::staff_required
                                         : resumable::Access::login_required;
  options.authenticate = principal_from_header;
  if (const auto origins = get("allowed-origins", ""); !origins.empty()) {
    std::size_t start = 0;
    while (start <= origins.size()) {
      const auto comma = origins.find(',', start);
      options.cross_origin.allowed_origins.push_back(origins.substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  options.cross_origin.allow_credentials = get("cors-credentials", "0") == "1";
  options.tus_path = get("tus-path", "");
  if (!options.tus_path.empty()) tus_prefix = options.tus_path + "/";
  options.ietf_path = get("ietf-path", "");
  options.collect_interval = std::chrono::seconds(0);  // collection only when a test asks
  auto& limits = options.limits;
  limits.max_file_size = number("max-file-size", limits.max_file_size);
  limits.min_chunk_size = number("min-chunk-size", limits.min_chunk_size);
  limits.max_chunk_size = number("max-chunk-size", limits.max_chunk_size);
  limits.max_chunks = number("max-chunks", limits.max_chunks);
  limits.append_piece_bytes = number("append-piece-bytes", limits.append_piece_bytes);
  limits.max_metadata_bytes = number("max-metadata-bytes", limits.max_metadata_bytes);
  limits.max_uploads_per_principal = number("max-uploads-per-principal", limits.max_uploads_per_principal);
  limits.max_unclaimed_per_principal = number("max-unclaimed-per-principal", limits.max_unclaimed_per_principal);
  limits.max_uploads = number("max-uploads", limits.max_uploads);
  limits.stale_after = std::chrono::seconds(number("stale-after-s", static_cast<std::uint64_t>(limits.stale_after.count())));
  limits.unclaimed_after =
      std::chrono::seconds(number("unclaimed-after-s", static_cast<std::uint64_t>(limits.unclaimed_after.count())));
  limits.chunk_wait = std::chrono::milliseconds(number("chunk-wait-ms", 10000));
  limits.body_grace = std::chrono::milliseconds(number("body-grace-ms", static_cast<std::uint64_t>(limits.body_grace.count())));
  limits.body_min_rate = number("body-min-rate", limits.body_min_rate);
  limits.io_buffer_bytes = number("io-buffer-bytes", limits.io_buffer_bytes);
  limits.io_buffers = number("io-buffers", limits.io_buffers);
  limits.io_buffer_budget = number("io-buffer-budget", limits.io_buffer_budget);
  limits.write_threads = number("write-threads", limits.write_threads);
  if (const auto extensions = get("allowed-extensions", ""); !extensions.empty()) {
    std::size_t start = 0;
    while (start <= extensions.size()) {
      const auto comma = extensions.find(',', start);
      limits.allowed_extensions.push_back(extensions.substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  std::string error;
  auto endpoint = resumable::UploadEndpoint::create(std::move(options), &error);
  if (!endpoint) {
    std::fprintf(stderr, "test_server: %s\n", error.c_str());
    return 1;
  }

  // --host ::1 listens on IPv6 loopback; the URL and listening_ports write it as [::1].
  const std::string host = get("host", "127.0.0.1");
  const std::string url_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  const std::string listening = url_host + ":" + get("port", "0");
  const std::string root = get("document-root", RESUMABLE_SOURCE_DIR);
  const std::string threads = get("threads", "32");
  const std::string timeout = get("request-timeout-ms", "60000");
  const std::string max_request_size = get("max-request-size", "16384");
  const std::string queue = get("queue", "20");
  const char* civetweb_options[] = {"listening_ports", listening.c_str(), "num_threads", threads.c_str(),
                                    "document_root", root.c_str(), "request_timeout_ms", timeout.c_str(),
                                    "max_request_size", max_request_size.c_str(), "connection_queue", queue.c_str(),
                                    "access_control_allow_methods", "", nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = log_message;
  callbacks.http_error = resumable::json_http_error;
  callbacks.begin_request = count_chunk_posts;
  mg_init_library(0);
  mg_context* context = mg_start(&callbacks, nullptr, civetweb_options);
  if (context == nullptr) return 1;
  // Off by default here: tests that open many connections from 127.0.0.1 must not be cut.
  std::unique_ptr<resumable::ConnectionGuard> guard;
  if (const auto per_address = number("max-connections-per-address", 0); per_address > 0) {
    guard = std::make_unique<resumable::ConnectionGuard>(context,
                                                         resumable::ConnectionGuardOptions{per_address, 0, {}});
  }
  endpoint->mount(context, "/upload");
  mg_set_request_handler(context, "/test/claim$", handle_claim, endpoint.get());
  mg_set_request_handler(context, "/test/collect$", handle_collect, endpoint.get());
  mg_set_request_handler(context, "/test/uploads$", handle_uploads, endpoint.get());
  mg_set_request_handler(context, "/test/stats$", handle_stats, nullptr);

  mg_server_port ports[2];
  const int count = mg_get_server_ports(context, 2, ports);
  std::printf("listening on http://%s:%d/\n", url_host.c_str(), count > 0 ? ports[0].port : 0);
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  guard.reset();
  mg_stop(context);
  mg_exit_library();
  return 0;
}
