// libFuzzer target: whole requests against the mounted endpoint on an in-process CivetWeb server
// (loopback only): request lines, headers (Content-Type, Content-Length, Expect, the principal),
// query strings and bodies, CORS heads (Origin, Access-Control-Request-*) and the anonymous scope
// cookie, with a multipart mode whose body is fuzzed behind a valid head. Every
// request gets an HTTP reply or a closed connection; nothing crashes; the data directory stays
// bounded (small limits, a collection every 256 inputs). CivetWeb itself is not instrumented: the
// coverage that guides the fuzzer is the endpoint's.
#include <fuzzer/FuzzedDataProvider.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "resumable/filesystem_store.h"
#include "resumable/upload_endpoint.h"

using namespace resumable;
namespace fs = std::filesystem;

namespace {

mg_context* context = nullptr;
std::unique_ptr<UploadEndpoint> endpoint;
int port = 0;
fs::path root;
std::size_t inputs = 0;

std::string exchange(const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_WR);
    char buffer[4096];
    for (;;) {
      const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      reply.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return reply;
}

std::string params(FuzzedDataProvider& fuzz) {
  static const char* names[] = {"resumableChunkNumber", "resumableChunkSize", "resumableCurrentChunkSize",
                                "resumableTotalSize", "resumableTotalChunks", "resumableIdentifier",
                                "resumableFilename", "resumableRelativePath", "resumableType", "flowChunkNumber",
                                "flowIdentifier", "chunkDigest", "fileDigest", "identifier"};
  std::string q;
  const int count = fuzz.ConsumeIntegralInRange<int>(0, 12);
  for (int i = 0; i < count; ++i) {
    q += (q.empty() ? "" : "&") + std::string(fuzz.PickValueInArray(names)) + "=" + fuzz.ConsumeRandomLengthString(24);
  }
  return q;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  root = fs::temp_directory_path() / ("rsm-fuzz-http-" + std::to_string(::getpid()));
  fs::remove_all(root);
  EndpointOptions options;
  options.store = make_filesystem_store({root / "chunks", root / "files", false});
  options.access = Access::anonymous_allowed;
  options.authenticate = [](mg_connection* c) -> std::optional<Principal> {
    const char* user = mg_get_header(c, "X-Test-User");
    if (user == nullptr) return std::nullopt;
    return Principal{user, std::string(user) == "staff"};
  };
  options.cross_origin.allowed_origins = {"http://page.example", "http://other.example:8080"};
  options.cross_origin.allow_credentials = true;
  options.collect_interval = std::chrono::seconds(0);
  options.log = [](const std::string&) {};
  options.limits.max_file_size = 1 << 20;
  options.limits.max_chunk_size = 1 << 16;
  options.limits.max_uploads_per_principal = 100000;
  options.limits.stale_after = std::chrono::seconds(0);
  options.limits.unclaimed_after = std::chrono::seconds(0);
  options.limits.chunk_wait = std::chrono::milliseconds(200);
  endpoint = UploadEndpoint::create(std::move(options));
  if (!endpoint) std::abort();
  const char* civetweb_options[] = {"listening_ports", "127.0.0.1:0", "num_threads", "4", "request_timeout_ms", "2000",
                                    nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
  context = mg_start(&callbacks, nullptr, civetweb_options);
  if (context == nullptr) std::abort();
  endpoint->mount(context, "/upload");
  mg_server_port ports[1];
  if (mg_get_server_ports(context, 1, ports) < 1) std::abort();
  port = ports[0].port;
  std::atexit([] {
    mg_stop(context);
    endpoint.reset();
    std::error_code ignored;
    fs::remove_all(root, ignored);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fuzz(data, size);
  std::string request;
  switch (fuzz.ConsumeIntegralInRange<int>(0, 2)) {
    case 0:  // everything from the input
      request = fuzz.ConsumeRemainingBytesAsString();
      break;
    case 1: {  // multipart: a valid head, a fuzzed body
      const std::string boundary = fuzz.ConsumeBool() ? "----rsmFuzzBoundary" : fuzz.ConsumeRandomLengthString(40);
      const std::string query = params(fuzz);
      const std::string body = fuzz.ConsumeRemainingBytesAsString();
      request = "POST /upload?" + query + " HTTP/1.1\r\nHost: x\r\nX-Test-User: fuzz\r\nContent-Type: multipart/form-data; boundary=" +
                boundary + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
      break;
    }
    default: {  // a raw chunk or a status/test/cancel request: fuzzed query, headers and body
      static const char* methods[] = {"POST", "PUT", "GET", "DELETE", "HEAD", "OPTIONS", "PATCH"};
      static const char* paths[] = {"/upload", "/upload/status", "/upload/widget/x", "/upload/", "/upload/x/y"};
      const std::string method = fuzz.PickValueInArray(methods);
      const std::string path = fuzz.PickValueInArray(paths);
      const std::string query = params(fuzz);
      std::string headers;
      if (fuzz.ConsumeBool()) headers += "X-Test-User: " + fuzz.ConsumeRandomLengthString(16) + "\r\n";
      if (fuzz.ConsumeBool()) {
        static const char* origins[] = {"http://page.example", "http://other.example:8080", "null", "http://evil.example"};
        headers += "Origin: " + (fuzz.ConsumeBool() ? std::string(fuzz.PickValueInArray(origins)) : fuzz.ConsumeRandomLengthString(40)) + "\r\n";
      }
      if (fuzz.ConsumeBool()) headers += "Access-Control-Request-Method: " + fuzz.ConsumeRandomLengthString(12) + "\r\n";
      if (fuzz.ConsumeBool()) headers += "Access-Control-Request-Headers: " + fuzz.ConsumeRandomLengthString(60) + "\r\n";
      if (fuzz.ConsumeBool()) headers += "Cookie: " + fuzz.ConsumeRandomLengthString(80) + "\r\n";
      if (fuzz.ConsumeBool()) headers += "Expect: 100-continue\r\n";
      if (fuzz.ConsumeBool()) headers += "Content-Type: " + fuzz.ConsumeRandomLengthString(40) + "\r\n";
      const std::string body = fuzz.ConsumeRandomLengthString(4096);
      if (fuzz.ConsumeBool()) {
        headers += "Content-Length: " + (fuzz.ConsumeBool() ? std::to_string(body.size()) : fuzz.ConsumeRandomLengthString(12)) + "\r\n";
      } else if (fuzz.ConsumeBool()) {
        headers += "Transfer-Encoding: chunked\r\n";
      }
      request = method + " " + path + "?" + query + " HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n" + body;
      break;
    }
  }
  const std::string reply = exchange(request);
  // CivetWeb answers what it cannot parse itself (and echoes the request's protocol token into the
  // status line, e.g. "HTTP/z 400"): only the reply's start is checked.
  if (!reply.empty() && reply.rfind("HTTP/", 0) != 0) __builtin_trap();
  if (++inputs % 256 == 0) endpoint->collect_stale();
  return 0;
}
