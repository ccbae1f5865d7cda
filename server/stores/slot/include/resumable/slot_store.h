// Firmware update slots (docs/firmware.md): an upload's bytes go at their offsets straight into the
// inactive one of two fixed-size flash slots (A/B), with no temporary file and no rename; a small
// separate record area keeps the upload's progress so it resumes after a power cut; release checks
// the image's Ed25519 signature against the bytes as they lie in flash and hands the slot over.
//
//   FlashArea       what the store needs of a flash partition (the port to a real flash API)
//   FirmwareSlots   the two slots and the boot state a bootloader reads (running, pending)
//   make_slot_store an UploadStore over them: one upload at a time, into the inactive slot only
//
// Threads: every class here is safe to use from several threads at once. Nothing throws; failures
// are StorageStatus values (StorageCode::refused carries the client's error code).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

#include "resumable/upload_store.h"

namespace resumable {

// One partition of NOR-like flash: erased bytes read 0xFF, programming only clears bits (a second
// write to the same bytes without an erase ANDs into them), erasing works on whole blocks.
class FlashArea {
 public:
  virtual ~FlashArea() = default;
  virtual std::uint64_t size() const = 0;
  virtual std::uint64_t erase_block_bytes() const = 0;
  virtual StorageStatus read(std::uint64_t offset, void* data, std::size_t length) = 0;
  virtual StorageStatus program(std::uint64_t offset, const void* data, std::size_t length) = 0;
  // [offset, offset + length) must start and end on erase-block boundaries.
  virtual StorageStatus erase(std::uint64_t offset, std::uint64_t length) = 0;
  // What was programmed or erased survives a power cut once this returns.
  virtual StorageStatus sync() = 0;
};

// A preallocated image file standing in for a partition (tests, the device demo). Created filled
// with 0xFF when missing; an existing file must have exactly `size` bytes. program() behaves as NOR
// does (AND), so code that rewrites bytes without erasing them corrupts them here too.
std::unique_ptr<FlashArea> open_file_flash(const std::filesystem::path& file, std::uint64_t size,
                                           std::uint64_t erase_block_bytes, std::string* error);

enum class Slot : std::uint8_t { a, b };
inline char slot_letter(Slot slot) { return slot == Slot::a ? 'a' : 'b'; }
inline Slot other_slot(Slot slot) { return slot == Slot::a ? Slot::b : Slot::a; }
// "slot:a" / "slot:b": the location a released upload names (CompletedUpload::location).
std::string slot_location(Slot slot);
std::optional<Slot> slot_of_location(const std::string& location);

// A verified image waiting for the application to confirm it (boot it for good) or roll it back.
struct PendingImage {
  Slot slot = Slot::b;
  std::uint64_t size = 0;  // the whole image, trailer included
  core::Digest digest{};   // the upload's file digest (docs/digest.md)
  std::string token;       // the upload's token: mark_pending is idempotent by it
};

// The two slots and the boot state (which slot runs, which image is pending), as a bootloader's
// flag area would hold it; here a small file replaced atomically (write, fsync, rename).
class FirmwareSlots {
 public:
  struct Options {
    std::unique_ptr<FlashArea> slot_a;
    std::unique_ptr<FlashArea> slot_b;
    std::filesystem::path boot_state_file;  // created (running A, nothing pending) when missing
  };
  static std::unique_ptr<FirmwareSlots> open(Options options, std::string* error);

  Slot running() const;
  // The image confirmed into the running slot, if it came by an update (not the factory image).
  std::optional<PendingImage> running_image() const;
  std::optional<PendingImage> pending() const;
  // The slot's flash for writing an update: slot_active (refused) for the running slot.
  std::variant<ErrorCode, FlashArea*> writable(Slot slot);
  // For reading either slot (status pages, verification).
  FlashArea& area(Slot slot);

  // Marks `image` pending. Idempotent for the same token; refused (slot_active) for the running
  // slot and (update_pending) while another image is pending.
  StorageStatus mark_pending(const PendingImage& image);
  // The pending image's slot becomes the running one. Refused (upload_not_found) with nothing pending.
  StorageStatus confirm();
  // Forgets the pending image: the running slot stays. Refused (upload_not_found) with nothing pending.
  StorageStatus rollback();

 private:
  struct State {
    Slot running = Slot::a;
    std::optional<PendingImage> running_image;
    std::optional<PendingImage> pending;
  };
  FirmwareSlots(Options options, State state) : options_(std::move(options)), state_(std::move(state)) {}
  StorageStatus save(const State& state);
  StorageStatus replace_state(State next);
  Options options_;
  mutable std::mutex mutex_;
  State state_;
};

struct SlotStoreOptions {
  std::shared_ptr<FirmwareSlots> slots;
  // The record area: a separate small partition (a few erase blocks; about 100 bytes per chunk).
  std::unique_ptr<FlashArea> records;
  // When set, an image is released only if its trailer (docs/firmware.md: 112 bytes, RSMIMG01)
  // verifies against this Ed25519 public key: refused with image_rejected otherwise.
  std::optional<std::array<std::uint8_t, 32>> public_key;
};

// One upload at a time, into the slot that is not running, bytes programmed at their offsets. The
// store refuses, before any byte is written: a size larger than the slot or not known up front
// (file_too_large, invalid_geometry), an upload while an image is pending (update_pending) or while
// another is being received (slot_busy), and pieces that do not start on an erase block or whose
// size (but for the last) is not a multiple of it (invalid_geometry). Release verifies the image
// (when a key is set) by reading it back from flash, records the final record and names the slot
// in FinalRecord::location ("slot:b"); nothing is moved. Offers read-back. nullptr with *error when
// the options are unusable.
std::shared_ptr<UploadStore> make_slot_store(SlotStoreOptions options, std::string* error);

}  // namespace resumable
