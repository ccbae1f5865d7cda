// resumable_demo: a local demo server. For now it serves a page where a chosen file is chunked
// and hashed by the WebAssembly core in a Web Worker.
#include <civetweb.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "resumable/asset_handler.h"
#include "resumable/digest.h"

namespace resumable::demo {
std::span<const EmbeddedAsset> embedded_assets();
}

namespace {

struct Options {
  std::string host = "127.0.0.1";
  unsigned port = 8080;
  std::filesystem::path data_dir = "resumable-demo-data";
};

constexpr const char* usage =
    "Usage: resumable_demo [--host ADDRESS] [--port PORT] [--data-dir DIR]\n"
    "\n"
    "Starts the resumable demo server.\n"
    "  --host ADDRESS   address to listen on (default 127.0.0.1; IPv4 only)\n"
    "  --port PORT      port to listen on, 0 for any free port (default 8080)\n"
    "  --data-dir DIR   where records and uploads are kept (default ./resumable-demo-data)\n"
    "  --help           show this text\n";

enum class ParseResult { run, show_help, usage_error };

ParseResult parse_arguments(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") return ParseResult::show_help;
    if (arg != "--host" && arg != "--port" && arg != "--data-dir") {
      std::fprintf(stderr, "resumable_demo: unknown argument '%s'\n", argv[i]);
      return ParseResult::usage_error;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "resumable_demo: %s needs a value\n", argv[i]);
      return ParseResult::usage_error;
    }
    const char* value = argv[++i];
    if (arg == "--host") {
      options.host = value;
    } else if (arg == "--data-dir") {
      options.data_dir = value;
    } else {
      char* end = nullptr;
      const unsigned long port = std::strtoul(value, &end, 10);
      if (*value == '\0' || *end != '\0' || port > 65535) {
        std::fprintf(stderr, "resumable_demo: invalid port '%s'\n", value);
        return ParseResult::usage_error;
      }
      options.port = static_cast<unsigned>(port);
    }
  }
  return ParseResult::run;
}

int log_message(const mg_connection*, const char* message) {
  std::fprintf(stderr, "resumable_demo: %s\n", message);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options parsed;
  switch (parse_arguments(argc, argv, parsed)) {
    case ParseResult::show_help: std::fputs(usage, stdout); return 0;
    case ParseResult::usage_error: std::fputs(usage, stderr); return 2;
    case ParseResult::run: break;
  }
  const Options& options = parsed;

  if (!resumable::core::initialize_crypto()) {
    std::fprintf(stderr, "resumable_demo: libsodium failed to initialise\n");
    return 1;
  }
  std::error_code error;
  std::filesystem::create_directories(options.data_dir, error);
  if (error) {
    std::fprintf(stderr, "resumable_demo: cannot create data dir %s: %s\n", options.data_dir.c_str(),
                 error.message().c_str());
    return 1;
  }

  // Block the shutdown signals before CivetWeb starts its threads, so only sigwait sees them.
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGINT);
  sigaddset(&shutdown_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);

  const std::string listening = options.host + ":" + std::to_string(options.port);
  const char* civetweb_options[] = {"listening_ports", listening.c_str(), "num_threads", "16",
                                    "request_timeout_ms", "30000", nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = log_message;
  mg_init_library(0);
  mg_context* context = mg_start(&callbacks, nullptr, civetweb_options);
  if (context == nullptr) {
    std::fprintf(stderr, "resumable_demo: could not listen on %s\n", listening.c_str());
    mg_exit_library();
    return 1;
  }

  resumable::AssetHandler assets(resumable::demo::embedded_assets(), "", "/index.html");
  assets.mount(context);

  mg_server_port ports[4];
  const int port_count = mg_get_server_ports(context, 4, ports);
  const int port = port_count > 0 ? ports[0].port : static_cast<int>(options.port);
  std::printf("resumable demo listening on http://%s:%d/ (data in %s); Ctrl-C stops it\n", options.host.c_str(),
              port, options.data_dir.c_str());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&shutdown_signals, &signal_number);
  std::printf("resumable demo: stopping\n");
  mg_stop(context);
  mg_exit_library();
  return 0;
}
