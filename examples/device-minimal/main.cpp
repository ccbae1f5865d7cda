// The smallest server a device's firmware needs for verified, resumable uploads: one CivetWeb
// context, the upload endpoint at /upload, the widget served from the library's memory, and a page
// that uses it. HTTPS when a PEM file (private key, then certificate) is given.
//   device-minimal 8080 /data 2                      HTTP on port 8080, 2 worker threads
//   device-minimal 443s /data 2 /etc/server.pem      HTTPS
#include <civetweb.h>
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <string>

#include "resumable/filesystem_store.h"
#include "resumable/upload_endpoint.h"

static const char page[] = "<!doctype html><meta charset=utf-8><title>Upload</title>\n"
                           "<input type=file data-resumable=/upload>\n"
                           "<script src=/upload/widget/resumable-widget.js></script>\n";

int main(int argc, char** argv) {
  if (argc < 4) return std::fprintf(stderr, "usage: %s PORTS DATA_DIR THREADS [SERVER_PEM]\n", argv[0]), 2;
  sigset_t stop_signals;  // blocked before mg_start, so that only sigwait below takes them
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const bool tls = argc > 4;
  if (mg_init_library(tls ? MG_FEATURES_TLS : 0) != (tls ? MG_FEATURES_TLS : 0)) return 1;
  const char* options[] = {"listening_ports", argv[1], "num_threads", argv[3], "request_timeout_ms", "10000",
                           "access_control_allow_methods", "",  // CORS preflights are the endpoint's
                           tls ? "ssl_certificate" : nullptr, tls ? argv[4] : nullptr, nullptr};
  mg_callbacks callbacks{};
  callbacks.http_error = resumable::json_http_error;  // JSON errors for heads CivetWeb refuses itself
  callbacks.log_message = [](const mg_connection*, const char* text) { return std::fprintf(stderr, "%s\n", text), 1; };
  mg_context* context = mg_start(&callbacks, nullptr, options);
  if (context == nullptr) return 1;

  const std::string data = argv[2];
  resumable::EndpointOptions upload;
  upload.store = resumable::make_filesystem_store({data + "/chunks", data + "/files"});
  upload.access = resumable::Access::anonymous_allowed;  // or login_required + upload.authenticate (your session check)
  upload.on_complete = [](const resumable::CompletedUpload& done) {  // verified and in place: flash it, apply it
    std::printf("stored %s %llu bytes\n", done.location.c_str(), static_cast<unsigned long long>(done.size));
    std::fflush(stdout);
  };
  std::string error;
  auto endpoint = resumable::UploadEndpoint::create(std::move(upload), &error);
  if (!endpoint) return std::fprintf(stderr, "%s\n", error.c_str()), 1;
  endpoint->mount(context, "/upload");  // /upload, /upload/status, /upload/widget/
  mg_set_request_handler(context, "/$", [](mg_connection* connection, void*) {
    mg_send_http_ok(connection, "text/html; charset=utf-8", sizeof page - 1);
    return mg_write(connection, page, sizeof page - 1), 200;
  }, nullptr);

  mg_server_port port{};
  mg_get_server_ports(context, 1, &port);
  std::printf("listening on port %d\n", port.port);
  std::fflush(stdout);
  int signal = 0;
  sigwait(&stop_signals, &signal);
  mg_stop(context);  // before the endpoint goes away
  return 0;
}
