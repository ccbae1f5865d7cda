// resumable_device_demo: a device's web UI for firmware updates (docs/firmware.md), served from
// memory over HTTPS: a status page (running image, slots A/B, pending image, confirm/rollback) and
// an "Update firmware" page with the widget. Images go through the slot store into the inactive
// slot; a verified, signed image is marked pending for the (simulated) bootloader.
//   resumable_device_demo --slot-dir DIR [--public-key FILE] [--port 8443] [--host 127.0.0.1]
//                         [--slot-size 32MiB] [--http]
// DIR holds slot-a.img and slot-b.img (image files standing in for partitions), records.img (the
// upload's record area), boot-state.json (the bootloader's flags) and tls/ (a self-signed
// certificate made on first start). SIGINT/SIGTERM stop it.
#include <civetweb.h>
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"  // resumable::cli::parse_size
#include "resumable/asset_handler.h"
#include "resumable/digest.h"
#include "resumable/image_signature.h"
#include "resumable/slot_store.h"
#include "resumable/upload_endpoint.h"
#include "src/tls_certificate.h"

namespace resumable::device_demo {
std::span<const EmbeddedAsset> embedded_assets();
}

namespace {

using resumable::FirmwareSlots;
using resumable::Slot;
using nlohmann::json;

struct Options {
  std::filesystem::path slot_dir;
  std::optional<std::filesystem::path> public_key;
  std::string host = "127.0.0.1";
  unsigned port = 8443;
  std::uint64_t slot_size = 32ull << 20;
  bool tls = true;
};

void log_line(const std::string& text) {
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

constexpr const char* usage =
    "usage: resumable_device_demo --slot-dir DIR [--public-key FILE] [--port 8443] [--host 127.0.0.1]\n"
    "                             [--slot-size 32MiB] [--http]\n"
    "A device's firmware-update web UI over HTTPS (docs/firmware.md). --public-key: only images signed\n"
    "with its secret key (resumable sign) are accepted; without it, any image is (a warning says so).\n";

std::optional<Options> parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string name = argv[i];
    const bool has_value = i + 1 < argc;
    if (name == "--slot-dir" && has_value) {
      o.slot_dir = argv[++i];
    } else if (name == "--public-key" && has_value) {
      o.public_key = argv[++i];
    } else if (name == "--host" && has_value) {
      o.host = argv[++i];
    } else if (name == "--port" && has_value) {
      o.port = static_cast<unsigned>(std::stoul(argv[++i]));
    } else if (name == "--slot-size" && has_value) {
      if (!resumable::cli::parse_size(argv[++i], &o.slot_size)) return std::nullopt;
    } else if (name == "--http") {
      o.tls = false;
    } else {
      return std::nullopt;
    }
  }
  if (o.slot_dir.empty()) return std::nullopt;
  return o;
}

// The device: its slots, the upload endpoint over the slot store, and the hand-over of verified
// images to the boot state.
class Device {
 public:
  std::shared_ptr<FirmwareSlots> slots;
  std::unique_ptr<resumable::UploadEndpoint> endpoint;

  // on_complete: the image in `done.location` verified (signature and digest, when a key is set)
  // and released: mark it pending (idempotent by token). The upload stays unclaimed while it is
  // pending, so that a client whose last reply a crash cut off still gets the final result from
  // its status request; confirm and rollback claim it first, then change the flags (a crash in
  // between leaves the image pending, and the button works again). Called again after every
  // restart for an unclaimed upload (redelivered).
  void completed(const resumable::CompletedUpload& done) {
    const auto slot = resumable::slot_of_location(done.location);
    if (!slot) return log_line("released upload names no slot: " + done.location);
    {
      std::lock_guard lock(mutex_);
      uploaders_[done.token] = done.principal;
    }
    if (*slot == slots->running()) {
      // Confirmed before a crash cut its claim off: nothing is pending any more.
      std::lock_guard lock(mutex_);
      waiting_.push_back(done.token);
      if (endpoint) claim_waiting();
      return;
    }
    if (auto status = slots->mark_pending({*slot, done.size, done.digest, done.token}); !status) {
      log_line("cannot mark the image pending: " + status.detail);
    } else if (!done.redelivered) {
      log_line(std::string("image ") + resumable::core::to_hex(done.digest) + " in slot " + resumable::slot_letter(*slot) +
               " is pending");
    }
  }

  // Called once the endpoint exists: claims what a restart's redelivery could not claim yet.
  void start() {
    std::lock_guard lock(mutex_);
    claim_waiting();
  }

  // Confirm or roll back the pending image: its upload is claimed first (see completed()).
  resumable::StorageStatus settle(bool confirm) {
    if (const auto pending = slots->pending()) {
      std::lock_guard lock(mutex_);
      waiting_.push_back(pending->token);
      claim_waiting();
    }
    return confirm ? slots->confirm() : slots->rollback();
  }

 private:
  void claim_waiting() {
    for (const auto& token : waiting_) {
      if (auto it = uploaders_.find(token); it != uploaders_.end()) {
        endpoint->claim_upload(token, it->second);
        uploaders_.erase(it);
      }
    }
    waiting_.clear();
  }
  std::mutex mutex_;
  std::map<std::string, std::string> uploaders_;  // token -> principal, of released, unclaimed uploads
  std::vector<std::string> waiting_;              // tokens to claim
};

json image_json(const resumable::PendingImage& image) {
  return {{"slot", std::string(1, resumable::slot_letter(image.slot))}, {"size", image.size},
          {"digest", resumable::core::to_hex(image.digest)}};
}

json status_json(Device& device) {
  FirmwareSlots& slots = *device.slots;
  const Slot running = slots.running();
  const auto pending = slots.pending();
  const auto running_image = slots.running_image();
  std::optional<resumable::UploadSummary> receiving;
  for (auto& upload : device.endpoint->list_uploads()) {
    if (!upload.complete) receiving = upload;
  }
  json list = json::array();
  for (const Slot slot : {Slot::a, Slot::b}) {
    json entry = {{"name", std::string(1, resumable::slot_letter(slot))}, {"capacity", slots.area(slot).size()},
                  {"image", nullptr}};
    if (slot == running) {
      entry["state"] = "running";
      if (running_image) entry["image"] = image_json(*running_image);
    } else if (pending && pending->slot == slot) {
      entry["state"] = "pending";
      entry["image"] = image_json(*pending);
    } else if (receiving) {
      entry["state"] = "receiving";
      entry["received"] = receiving->received_bytes;
    } else {
      entry["state"] = "empty";
    }
    list.push_back(entry);
  }
  return {{"running", {{"slot", std::string(1, resumable::slot_letter(running))},
                       {"version", running_image ? "update " + resumable::core::to_hex(running_image->digest).substr(0, 16)
                                                 : std::string("factory image")}}},
          {"slots", list},
          {"pending", pending ? image_json(*pending) : json(nullptr)}};
}

void send_json(mg_connection* connection, int status, const json& body) {
  const std::string text = body.dump();
  mg_response_header_start(connection, status);
  mg_response_header_add(connection, "Content-Type", "application/json", -1);
  mg_response_header_add(connection, "Cache-Control", "no-store", -1);
  mg_response_header_add(connection, "Content-Length", std::to_string(text.size()).c_str(), -1);
  mg_response_header_send(connection);
  mg_write(connection, text.data(), text.size());
}

void send_error(mg_connection* connection, int status, resumable::ErrorCode code) {
  const auto& info = resumable::error_info(code);
  send_json(connection, status, {{"error", {{"code", info.id}, {"message", info.meaning}}}});
}

int api(mg_connection* connection, void* data) noexcept {
  try {
    Device& device = *static_cast<Device*>(data);
    const mg_request_info* request = mg_get_request_info(connection);
    const std::string uri = request->local_uri ? request->local_uri : "";
    const std::string method = request->request_method ? request->request_method : "";
    if (uri == "/api/status" && method == "GET") {
      send_json(connection, 200, status_json(device));
      return 200;
    }
    if ((uri == "/api/confirm" || uri == "/api/rollback") && method == "POST") {
      // Cross-site forms cannot add this header, and no preflight lets other origins add it.
      if (mg_get_header(connection, "X-Device-UI") == nullptr) {
        send_error(connection, 403, resumable::ErrorCode::forbidden);
        return 403;
      }
      const auto status = device.settle(uri == "/api/confirm");
      if (!status) {
        const bool refused = status.code == resumable::StorageCode::refused;
        send_error(connection, refused ? 409 : 500, refused ? status.refusal : resumable::ErrorCode::internal_error);
        return refused ? 409 : 500;
      }
      log_line(uri == "/api/confirm" ? "pending image confirmed" : "pending image rolled back");
      send_json(connection, 200, status_json(device));
      return 200;
    }
    send_error(connection, 404, resumable::ErrorCode::not_found);
    return 404;
  } catch (const std::exception& e) {
    log_line(std::string("api: ") + e.what());
    send_error(connection, 500, resumable::ErrorCode::internal_error);
    return 500;
  }
}

int redirect_home(mg_connection* connection, void*) noexcept {
  mg_send_http_redirect(connection, "/device/", 302);
  return 302;
}

int init_ssl(void* ssl_context, void* user_data) noexcept {
  std::string error;
  if (resumable::demo::load_into_ssl_context(ssl_context, *static_cast<const resumable::demo::TlsFiles*>(user_data), &error)) return 1;
  log_line(error);
  return -1;
}

std::optional<resumable::PublicKey> read_public_key(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return resumable::public_key_from_hex(text.str());
}

int run(const Options& options) {
  std::error_code ignored;
  std::filesystem::create_directories(options.slot_dir, ignored);
  std::string error;
  auto flash = [&](const char* name, std::uint64_t size) {
    auto area = resumable::open_file_flash(options.slot_dir / name, size, 4096, &error);
    if (!area) log_line(error);
    return area;
  };
  FirmwareSlots::Options slot_options;
  slot_options.slot_a = flash("slot-a.img", options.slot_size);
  slot_options.slot_b = flash("slot-b.img", options.slot_size);
  slot_options.boot_state_file = options.slot_dir / "boot-state.json";
  if (!slot_options.slot_a || !slot_options.slot_b) return 1;
  Device device;
  device.slots = FirmwareSlots::open(std::move(slot_options), &error);
  if (!device.slots) return log_line(error), 1;

  resumable::SlotStoreOptions store;
  store.slots = device.slots;
  store.records = flash("records.img", 256 * 1024);
  if (!store.records) return 1;
  if (options.public_key) {
    store.public_key = read_public_key(*options.public_key);
    if (!store.public_key) return log_line(options.public_key->string() + ": not a public key (from resumable keygen)"), 1;
  } else {
    log_line("warning: no --public-key: unsigned images are accepted");
  }
  resumable::EndpointOptions upload;
  upload.store = resumable::make_slot_store(std::move(store), &error);
  if (!upload.store) return log_line(error), 1;
  // A device UI would sit behind its login (upload.access = login_required, upload.authenticate);
  // the demo lets any browser on the LAN in, and the signature decides what may ever boot.
  upload.access = resumable::Access::anonymous_allowed;
  upload.limits.max_file_size = options.slot_size;
  upload.on_complete = [&device](const resumable::CompletedUpload& done) { device.completed(done); };
  upload.log = [](const std::string& message) { log_line("uploads: " + message); };
  device.endpoint = resumable::UploadEndpoint::create(std::move(upload), &error);
  if (!device.endpoint) return log_line(error), 1;
  device.start();

  std::optional<resumable::demo::TlsFiles> tls;
  if (options.tls) {
    const auto self_signed = resumable::demo::ensure_self_signed(options.slot_dir / "tls", &error);
    if (!self_signed) return log_line(error), 1;
    tls = self_signed->files;
    if (const auto fingerprint = resumable::demo::sha256_fingerprint(tls->certificate, &error)) {
      std::printf("TLS: certificate SHA-256 fingerprint %s\n", fingerprint->c_str());
    }
  }
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const std::string host = options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host;
  const std::string listening = host + ":" + std::to_string(options.port) + (tls ? "s" : "");
  const char* civetweb_options[] = {"listening_ports", listening.c_str(), "num_threads", "4", "request_timeout_ms", "20000",
                                    "access_control_allow_methods", "", nullptr};
  mg_callbacks callbacks{};
  callbacks.http_error = resumable::json_http_error;
  callbacks.log_message = [](const mg_connection*, const char* text) { return log_line(text), 1; };
  if (tls) callbacks.init_ssl = init_ssl;
  mg_context* context = mg_start(&callbacks, tls ? &*tls : nullptr, civetweb_options);
  if (context == nullptr) return log_line("could not listen on " + listening), 1;
  resumable::AssetHandler pages(resumable::device_demo::embedded_assets(), "/device", "/index.html");
  device.endpoint->mount(context, "/upload");
  pages.mount(context);
  mg_set_request_handler(context, "/api/", api, &device);
  mg_set_request_handler(context, "/$", redirect_home, nullptr);

  mg_server_port ports[2];
  const int port = mg_get_server_ports(context, 2, ports) > 0 ? ports[0].port : static_cast<int>(options.port);
  std::printf("resumable device demo on %s://%s:%d/ (running slot %c, slots in %s)\n", tls ? "https" : "http", host.c_str(),
              port, resumable::slot_letter(device.slots->running()), options.slot_dir.c_str());
  std::fflush(stdout);
  int signal = 0;
  sigwait(&stop_signals, &signal);
  mg_stop(context);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = parse(argc, argv);
  if (!options) return std::fprintf(stderr, "%s", usage), 2;
  if (!resumable::core::initialize_crypto()) return std::fprintf(stderr, "libsodium failed to initialise\n"), 1;
  if (mg_init_library(options->tls ? MG_FEATURES_TLS : 0) != (options->tls ? MG_FEATURES_TLS : 0)) {
    return std::fprintf(stderr, "CivetWeb could not initialise TLS\n"), 1;
  }
  const int code = run(*options);
  mg_exit_library();
  return code;
}
