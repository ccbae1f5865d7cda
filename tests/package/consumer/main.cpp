// The docs/embedding.md example: an existing CivetWeb application mounts the upload endpoint.
// Run with a data directory, and a PEM file (private key, then certificate) to serve HTTPS on IPv6
// loopback instead of HTTP on 127.0.0.1; it serves until stdin closes.
#include <civetweb.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "resumable/filesystem_store.h"
#include "resumable/upload_endpoint.h"

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::string data = argv[1];
  const bool tls = argc > 2;

  const char* options[] = {"listening_ports", tls ? "[::1]:0s" : "127.0.0.1:0",  // "s": TLS on that port
                           "num_threads", "4",
                           "access_control_allow_methods", "",  // the endpoint answers CORS preflights
                           tls ? "ssl_certificate" : nullptr, tls ? argv[2] : nullptr, nullptr};
  if (tls && mg_init_library(MG_FEATURES_TLS) != MG_FEATURES_TLS) return 1;  // OpenSSL, once per process
  if (!tls) mg_init_library(0);
  mg_callbacks callbacks{};
  callbacks.http_error = resumable::json_http_error;  // JSON errors for heads CivetWeb refuses
  mg_context* context = mg_start(&callbacks, nullptr, options);  // the application's own server
  if (context == nullptr) return 1;

  resumable::EndpointOptions upload;
  upload.store = resumable::make_filesystem_store({data + "/chunks", data + "/files"});  // chunks_upload_to, upload_to
  upload.access = resumable::Access::login_required;
  upload.authenticate = [](mg_connection* c) -> std::optional<resumable::Principal> {
    const char* user = mg_get_header(c, "X-User");  // the application's session check goes here
    if (user == nullptr) return std::nullopt;
    return resumable::Principal{user, false};
  };
  upload.limits.max_file_size = std::uint64_t{4} << 30;
  upload.on_complete = [](const resumable::CompletedUpload& done) {
    std::printf("uploaded %s (%llu bytes)\n", done.file_name.c_str(), static_cast<unsigned long long>(done.size));
  };
  std::string error;
  auto endpoint = resumable::UploadEndpoint::create(std::move(upload), &error);
  if (!endpoint) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  endpoint->mount(context, "/upload");

  mg_server_port port{};
  mg_get_server_ports(context, 1, &port);
  std::printf("listening on %s:%d/\n", tls ? "https://[::1]" : "http://127.0.0.1", port.port);
  std::fflush(stdout);
  for (std::string line; std::getline(std::cin, line);) {
  }
  mg_stop(context);  // stop serving before the endpoint goes away
  return 0;
}
