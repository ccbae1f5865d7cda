// A real CivetWeb server on 127.0.0.1 (any free port) with the upload endpoint mounted at /upload,
// data in a fresh temporary directory. restart() stops and recreates both, as a process restart would.
#pragma once

#include <civetweb.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "http_client.h"
#include "resumable/chunk_geometry.h"
#include "resumable/connection_guard.h"
#include "resumable/filesystem_store.h"
#include "resumable/tree_digest.h"
#include "resumable/upload_endpoint.h"
#include "test_data.h"

namespace resumable::testing {

// Principal from the `X-Test-User: name` or `name;staff` header.
inline std::optional<Principal> principal_from_test_header(mg_connection* connection) {
  const char* header = mg_get_header(connection, "X-Test-User");
  if (header == nullptr || *header == '\0') return std::nullopt;
  std::string value = header;
  Principal principal;
  if (const auto semicolon = value.find(';'); semicolon != std::string::npos) {
    principal.is_staff = value.substr(semicolon + 1) == "staff";
    value.resize(semicolon);
  }
  principal.id = value;
  return principal;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "resumable-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// How a TestServer is set up beyond the endpoint's options: its store is the filesystem store in
// its temporary directory, optionally not durable, optionally wrapped (e.g. by a store that
// injects faults); CivetWeb's request_timeout_ms.
struct ServerSetup {
  bool durable = true;
  std::function<std::shared_ptr<UploadStore>(std::shared_ptr<UploadStore> filesystem)> wrap;
  int request_timeout_ms = 20000;
  // Connections one client address may hold (resumable::ConnectionGuard; the server has 24 workers: 4 stay for others).
  std::size_t max_connections_per_address = 20;
};
inline const ServerSetup not_durable{false, {}, 20000, 20};

class TestServer {
 public:
  // `configure` adjusts the options (limits, access) before each (re)start.
  explicit TestServer(std::function<void(EndpointOptions&)> configure = {}, ServerSetup setup = {})
      : configure_(std::move(configure)), setup_(std::move(setup)) {
    start();
  }
  ~TestServer() { stop(); }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  // `while_stopped` runs between stop and start (e.g. to damage or forge what is on disk).
  void restart(const std::function<void()>& while_stopped = {}) {
    stop();
    if (while_stopped) while_stopped();
    start();
  }

  std::string url(const std::string& path_and_query) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path_and_query;
  }
  int port() const { return port_; }
  UploadEndpoint& endpoint() { return *endpoint_; }
  const std::filesystem::path& root() const { return dir_.path(); }
  std::filesystem::path chunk_dir() const { return dir_.path() / "chunks"; }
  std::filesystem::path upload_to() const { return dir_.path() / "files"; }
  int completions() const { return completions_.load(); }
  std::vector<CompletedUpload> completed() {
    std::lock_guard lock(completed_mutex_);
    return completed_;
  }

 private:
  void start() {
    EndpointOptions options;
    FilesystemStoreOptions filesystem;
    filesystem.chunk_dir = chunk_dir();
    filesystem.upload_to = upload_to();
    filesystem.durable = setup_.durable;
    std::string store_error;
    options.store = make_filesystem_store(filesystem, &store_error);
    if (!options.store) throw std::runtime_error("store: " + store_error);
    if (setup_.wrap) options.store = setup_.wrap(options.store);
    options.authenticate = principal_from_test_header;
    options.collect_interval = std::chrono::seconds(0);
    options.on_complete = [this](const CompletedUpload& upload) {
      ++completions_;
      std::lock_guard lock(completed_mutex_);
      completed_.push_back(upload);
    };
    options.log = [](const std::string&) {};
    if (configure_) configure_(options);
    std::string error;
    endpoint_ = UploadEndpoint::create(std::move(options), &error);
    if (!endpoint_) throw std::runtime_error("endpoint: " + error);
    const std::string timeout = std::to_string(setup_.request_timeout_ms);
    const char* civetweb_options[] = {"listening_ports", "127.0.0.1:0", "num_threads", "24", "request_timeout_ms",
                                      timeout.c_str(), "access_control_allow_methods", "", nullptr};
    mg_callbacks callbacks{};
    callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
    callbacks.http_error = json_http_error;
    context_ = mg_start(&callbacks, nullptr, civetweb_options);
    if (context_ == nullptr) throw std::runtime_error("mg_start failed");
    guard_ = std::make_unique<ConnectionGuard>(context_, ConnectionGuardOptions{setup_.max_connections_per_address, 0, {}});
    endpoint_->mount(context_, "/upload");
    mg_server_port ports[2];
    if (mg_get_server_ports(context_, 2, ports) < 1) throw std::runtime_error("no port");
    port_ = ports[0].port;
  }
  void stop() {
    guard_.reset();
    if (context_ != nullptr) mg_stop(context_);
    context_ = nullptr;
    endpoint_.reset();
  }

  std::function<void(EndpointOptions&)> configure_;
  ServerSetup setup_;
  TempDir dir_;
  std::unique_ptr<UploadEndpoint> endpoint_;
  std::unique_ptr<ConnectionGuard> guard_;
  mg_context* context_ = nullptr;
  int port_ = 0;
  std::atomic<int> completions_{0};
  std::mutex completed_mutex_;
  std::vector<CompletedUpload> completed_;
};

// A file to upload and the requests for its chunks (resumable.js parameter names).
struct TestFile {
  std::string identifier;
  std::string file_name = "data.bin";
  std::vector<std::uint8_t> bytes;
  std::uint64_t chunk_size = 65536;
  bool force_chunk_size = false;
  bool send_chunk_digest = true;
  std::optional<std::string> file_digest;  // declared fileDigest parameter

  std::uint64_t chunk_count() const {
    return core::chunk_count_for_mode(bytes.size(), chunk_size,
                                      force_chunk_size ? core::ChunkMode::force_chunk_size
                                                       : core::ChunkMode::last_absorbs_remainder);
  }
  core::ChunkSpan span(std::uint64_t number) const {
    return *core::ChunkGeometry::from_declared(bytes.size(), chunk_size, chunk_count())->span(number);
  }
  std::string chunk_bytes(std::uint64_t number) const {
    const auto s = span(number);
    return std::string(bytes.begin() + static_cast<std::ptrdiff_t>(s.offset),
                       bytes.begin() + static_cast<std::ptrdiff_t>(s.offset + s.size));
  }
  // The tree digests (docs/digest.md) the endpoint checks and reports.
  std::string chunk_digest(std::uint64_t number) const {
    const auto s = span(number);
    return core::to_hex(*core::chunk_digest(std::span(bytes.data() + s.offset, s.size), s.offset, bytes.size()));
  }
  std::string file_digest_hex() const { return core::to_hex(core::file_digest(bytes)); }

  // Query string for chunk `number`; `overrides` replace or add parameters ("name=value").
  std::string query(std::uint64_t number, const std::vector<std::string>& overrides = {}) const {
    std::vector<std::pair<std::string, std::string>> params = {
        {"resumableChunkNumber", std::to_string(number)},
        {"resumableChunkSize", std::to_string(chunk_size)},
        {"resumableCurrentChunkSize", std::to_string(number <= chunk_count() ? span(number).size : chunk_size)},
        {"resumableTotalSize", std::to_string(bytes.size())},
        {"resumableTotalChunks", std::to_string(chunk_count())},
        {"resumableIdentifier", identifier},
        {"resumableFilename", file_name},
        {"resumableRelativePath", file_name},
    };
    if (send_chunk_digest && number >= 1 && number <= chunk_count()) params.emplace_back("chunkDigest", chunk_digest(number));
    if (file_digest) params.emplace_back("fileDigest", *file_digest);
    for (const auto& o : overrides) {
      const auto eq = o.find('=');
      const std::string name = o.substr(0, eq);
      const std::string value = eq == std::string::npos ? "" : o.substr(eq + 1);
      bool replaced = false;
      for (auto& p : params) {
        if (p.first == name) {
          p.second = value;
          replaced = true;
        }
      }
      if (!replaced) params.emplace_back(name, value);
    }
    std::string q;
    for (const auto& [name, value] : params) {
      q += (q.empty() ? "?" : "&") + name + "=" + url_encode(value);
    }
    return q;
  }

  static std::string url_encode(const std::string& value) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : value) {
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
          c == '.' || c == '~') {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += hex[c >> 4];
        out += hex[c & 15];
      }
    }
    return out;
  }
};

inline TestFile make_file(const std::string& identifier, std::size_t size, std::uint32_t seed = 7,
                          std::uint64_t chunk_size = 65536) {
  TestFile file;
  file.identifier = identifier;
  file.bytes = test_bytes(size, seed);
  file.chunk_size = chunk_size;
  return file;
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

}  // namespace resumable::testing
