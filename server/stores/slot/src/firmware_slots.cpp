#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "resumable/slot_store.h"

namespace resumable {

std::string slot_location(Slot slot) { return std::string("slot:") + slot_letter(slot); }

std::optional<Slot> slot_of_location(const std::string& location) {
  if (location == "slot:a") return Slot::a;
  if (location == "slot:b") return Slot::b;
  return std::nullopt;
}

namespace {

std::optional<Slot> slot_of(const nlohmann::json& value) {
  if (!value.is_string()) return std::nullopt;
  if (value == "a") return Slot::a;
  if (value == "b") return Slot::b;
  return std::nullopt;
}

StorageStatus sync_path(const std::filesystem::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return {StorageCode::io_error, "open " + path.string() + ": " + std::strerror(errno)};
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return {StorageCode::io_error, "fsync " + path.string()};
  return StorageStatus::success();
}

}  // namespace

std::unique_ptr<FirmwareSlots> FirmwareSlots::open(Options options, std::string* error) {
  auto fail = [&](const std::string& why) -> std::unique_ptr<FirmwareSlots> {
    if (error) *error = why;
    return nullptr;
  };
  if (!options.slot_a || !options.slot_b) return fail("two slots are needed");
  if (options.slot_a->size() != options.slot_b->size()) return fail("the slots differ in size");
  State state;
  std::ifstream in(options.boot_state_file);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    const auto json = nlohmann::json::parse(text.str(), nullptr, false);
    const auto running = json.is_object() && json.contains("running") ? slot_of(json["running"]) : std::nullopt;
    if (!running) return fail(options.boot_state_file.string() + ": not a boot state");
    state.running = *running;
    for (const char* field : {"pending", "running_image"}) {
      if (!json.contains(field) || !json[field].is_object()) continue;
      const auto& p = json[field];
      const auto slot = p.contains("slot") ? slot_of(p["slot"]) : std::nullopt;
      const auto digest = p.contains("digest") && p["digest"].is_string()
                              ? core::digest_from_hex(p["digest"].get<std::string>()) : std::nullopt;
      if (!slot || !digest || !p.contains("size") || !p["size"].is_number_unsigned() || !p.contains("token") ||
          !p["token"].is_string()) {
        return fail(options.boot_state_file.string() + ": damaged " + field);
      }
      (std::string(field) == "pending" ? state.pending : state.running_image) =
          PendingImage{*slot, p["size"].get<std::uint64_t>(), *digest, p["token"].get<std::string>()};
    }
  }
  std::unique_ptr<FirmwareSlots> slots(new FirmwareSlots(std::move(options), std::move(state)));
  if (!in) {
    if (auto status = slots->save(slots->state_); !status) return fail(status.detail);
  }
  return slots;
}

StorageStatus FirmwareSlots::save(const State& state) {
  const auto image_json = [](const std::optional<PendingImage>& image) -> nlohmann::json {
    if (!image) return nullptr;
    return {{"slot", std::string(1, slot_letter(image->slot))}, {"size", image->size},
            {"digest", core::to_hex(image->digest)}, {"token", image->token}};
  };
  nlohmann::json json = {{"running", std::string(1, slot_letter(state.running))},
                         {"running_image", image_json(state.running_image)}, {"pending", image_json(state.pending)}};
  const auto& path = options_.boot_state_file;
  const auto temporary = path.string() + ".new";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << json.dump() << '\n';
    if (!out.flush()) return {StorageCode::io_error, "cannot write " + temporary};
  }
  if (auto status = sync_path(temporary, O_RDONLY); !status) return status;
  if (std::rename(temporary.c_str(), path.c_str()) != 0) return {StorageCode::io_error, "rename to " + path.string()};
  return sync_path(path.parent_path().empty() ? "." : path.parent_path(), O_RDONLY | O_DIRECTORY);
}

// The flags change only once the new state is durable. The caller holds the mutex.
StorageStatus FirmwareSlots::replace_state(State next) {
  if (auto status = save(next); !status) return status;
  state_ = std::move(next);
  return StorageStatus::success();
}

Slot FirmwareSlots::running() const {
  std::lock_guard lock(mutex_);
  return state_.running;
}

std::optional<PendingImage> FirmwareSlots::running_image() const {
  std::lock_guard lock(mutex_);
  return state_.running_image;
}

std::optional<PendingImage> FirmwareSlots::pending() const {
  std::lock_guard lock(mutex_);
  return state_.pending;
}

std::variant<ErrorCode, FlashArea*> FirmwareSlots::writable(Slot slot) {
  std::lock_guard lock(mutex_);
  if (slot == state_.running) return ErrorCode::slot_active;
  return &area(slot);
}

FlashArea& FirmwareSlots::area(Slot slot) { return slot == Slot::a ? *options_.slot_a : *options_.slot_b; }

StorageStatus FirmwareSlots::mark_pending(const PendingImage& image) {
  std::lock_guard lock(mutex_);
  if (state_.pending && state_.pending->token == image.token) return StorageStatus::success();
  if (image.slot == state_.running) return StorageStatus::refuse(ErrorCode::slot_active, "the running slot cannot be pending");
  if (state_.pending) return StorageStatus::refuse(ErrorCode::update_pending, "another image is pending");
  State next = state_;
  next.pending = image;
  return replace_state(std::move(next));
}

StorageStatus FirmwareSlots::confirm() {
  std::lock_guard lock(mutex_);
  if (!state_.pending) return StorageStatus::refuse(ErrorCode::upload_not_found, "no image is pending");
  State next;
  next.running = state_.pending->slot;
  next.running_image = state_.pending;
  return replace_state(std::move(next));
}

StorageStatus FirmwareSlots::rollback() {
  std::lock_guard lock(mutex_);
  if (!state_.pending) return StorageStatus::refuse(ErrorCode::upload_not_found, "no image is pending");
  // Built without the pending image rather than copied and reset: GCC 12 for armhf at -O2 takes
  // the moved-from reset optional's payload for uninitialized (-Wmaybe-uninitialized).
  State next;
  next.running = state_.running;
  next.running_image = state_.running_image;
  return replace_state(std::move(next));
}

}  // namespace resumable
