// The slot store (slot_store.h). The record area holds one upload's records as an append-only log:
//   "RSR1" | type (1 manifest, 2 piece, 3 final) | payload length LE32 | payload | check (first 8
//   bytes of the BLAKE2b-256 of all before it in the record)
// in the filesystem store's encodings (record_codec.h); the manifest record adds the target slot.
// Reading stops at the first erased or damaged header: a record torn by a power cut is ignored.
#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "record_codec.h"
#include "resumable/image_signature.h"
#include "resumable/slot_store.h"
#include "resumable/tree_digest.h"

namespace resumable {

namespace {

constexpr std::uint8_t record_magic[4] = {'R', 'S', 'R', '1'};
constexpr std::size_t header_bytes = 9;
constexpr std::size_t check_bytes = 8;
enum RecordType : std::uint8_t { manifest_record = 1, piece_record = 2, final_record = 3 };

std::uint64_t round_up(std::uint64_t value, std::uint64_t unit) { return (value + unit - 1) / unit * unit; }

struct Records {
  std::optional<UploadManifest> manifest;
  Slot target = Slot::b;
  std::vector<PieceRecord> pieces;
  std::optional<FinalRecord> final;
  std::uint64_t end = 0;  // where the next record goes
};

// Scans the record area. Records of a manifest that names no slot, or pieces before a manifest,
// end the scan like a torn record does.
Records scan(FlashArea& area) {
  Records records;
  std::vector<std::uint8_t> payload;
  std::uint64_t at = 0;
  while (at + header_bytes + check_bytes <= area.size()) {
    std::uint8_t header[header_bytes];
    if (!area.read(at, header, sizeof header) || std::memcmp(header, record_magic, 4) != 0) break;
    const std::uint32_t length = header[5] | (header[6] << 8) | (header[7] << 16) | (std::uint32_t{header[8]} << 24);
    if (length > area.size() - at - header_bytes - check_bytes) break;
    payload.resize(header_bytes + length + check_bytes);
    if (!area.read(at, payload.data(), payload.size())) break;
    const auto check = core::blake2b256(payload.data(), header_bytes + length);
    if (std::memcmp(check.data(), payload.data() + header_bytes + length, check_bytes) != 0) break;
    const std::span<const std::uint8_t> body(payload.data() + header_bytes, length);
    const std::uint8_t type = header[4];
    if (type == manifest_record) {
      if (body.empty() || (body[0] != 'a' && body[0] != 'b')) break;
      auto manifest = decode_manifest(std::string(body.begin() + 1, body.end()));
      if (!manifest || (records.manifest && manifest->upload_id != records.manifest->upload_id)) break;
      records.manifest = std::move(manifest);
      records.target = body[0] == 'a' ? Slot::a : Slot::b;
    } else if (type == piece_record && records.manifest) {
      std::size_t consumed = 0;
      auto piece = decode_piece_record(body, consumed);
      if (!piece || consumed != body.size()) break;
      records.pieces.push_back(std::move(*piece));
    } else if (type == final_record && records.manifest) {
      auto final = decode_final_record(std::string(body.begin(), body.end()));
      if (!final) break;
      records.final = std::move(final);
    } else {
      break;
    }
    at += payload.size();
  }
  records.end = at;
  return records;
}

class SlotState;

class SlotUpload final : public StoredUpload, public ReadBack {
 public:
  SlotUpload(std::shared_ptr<SlotState> state, FlashArea& slot, Slot which, std::uint64_t total, bool fresh);
  StorageStatus prepare_piece(std::uint64_t offset, std::uint64_t size) override;
  StorageStatus write_at(std::uint64_t offset, const void* data, std::size_t length) override;
  StorageStatus commit_piece(const PieceRecord& piece) override;
  StorageStatus update_manifest(const UploadManifest& manifest) override;
  StorageStatus release(FinalRecord& final) override;
  StorageStatus read_at(std::uint64_t offset, void* data, std::size_t length) override;
  ReadBack* read_back() override { return this; }

 private:
  std::shared_ptr<SlotState> state_;
  FlashArea& slot_;
  Slot which_;
  std::uint64_t total_;
  std::mutex mutex_;
  std::vector<bool> erased_;  // erase blocks known erased and not yet written since
};

// What the store and its one upload share: the record area and the slots.
class SlotState {
 public:
  SlotState(SlotStoreOptions options) : options_(std::move(options)) {}

  StorageStatus append(RecordType type, std::span<const std::uint8_t> body) {
    std::lock_guard lock(mutex_);
    return append_locked(type, body);
  }
  StorageStatus append_locked(RecordType type, std::span<const std::uint8_t> body) {
    std::vector<std::uint8_t> record(header_bytes + body.size() + check_bytes);
    std::memcpy(record.data(), record_magic, 4);
    record[4] = type;
    const auto length = static_cast<std::uint32_t>(body.size());
    for (int i = 0; i < 4; ++i) record[5 + i] = static_cast<std::uint8_t>(length >> (8 * i));
    std::copy(body.begin(), body.end(), record.begin() + header_bytes);
    const auto check = core::blake2b256(record.data(), header_bytes + body.size());
    std::memcpy(record.data() + header_bytes + body.size(), check.data(), check_bytes);
    FlashArea& area = *options_.records;
    if (end_ + record.size() > area.size()) return {StorageCode::no_space, "the record area is full"};
    if (auto status = area.program(end_, record.data(), record.size()); !status) return status;
    if (auto status = area.sync(); !status) return status;
    end_ += record.size();
    return StorageStatus::success();
  }
  StorageStatus append_manifest_locked(const UploadManifest& manifest, Slot target) {
    const std::string text = std::string(1, slot_letter(target)) + encode_manifest(manifest);
    return append_locked(manifest_record, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  }
  StorageStatus clear_locked() {
    FlashArea& area = *options_.records;
    if (auto status = area.erase(0, area.size()); !status) return status;
    if (auto status = area.sync(); !status) return status;
    end_ = 0;
    return StorageStatus::success();
  }

  SlotStoreOptions options_;
  std::mutex mutex_;  // the record area
  std::uint64_t end_ = 0;
};

SlotUpload::SlotUpload(std::shared_ptr<SlotState> state, FlashArea& slot, Slot which, std::uint64_t total, bool fresh)
    : state_(std::move(state)), slot_(slot), which_(which), total_(total),
      erased_(static_cast<std::size_t>(round_up(total, slot.erase_block_bytes()) / slot.erase_block_bytes()), fresh) {}

StorageStatus SlotUpload::prepare_piece(std::uint64_t offset, std::uint64_t size) {
  const std::uint64_t block = slot_.erase_block_bytes();
  if (offset % block != 0 || (offset + size != total_ && size % block != 0)) {
    return StorageStatus::refuse(ErrorCode::invalid_geometry,
                                 "chunks must start on the flash's erase blocks of " + std::to_string(block) + " bytes");
  }
  if (offset + size > total_) return StorageStatus::refuse(ErrorCode::invalid_geometry, "past the image's end");
  const std::uint64_t first = offset / block;
  const std::uint64_t end = round_up(offset + size, block) / block;
  // The records may name a slot that has become the running one since (the bootloader fell back
  // to it across a restart): it is never written.
  if (std::holds_alternative<ErrorCode>(state_->options_.slots->writable(which_))) {
    return StorageStatus::refuse(ErrorCode::slot_active, "the upload's slot is now the running one");
  }
  std::lock_guard lock(mutex_);
  const bool clean = std::all_of(erased_.begin() + static_cast<std::ptrdiff_t>(first),
                                 erased_.begin() + static_cast<std::ptrdiff_t>(end), [](bool b) { return b; });
  // A piece sent again (an attempt cut off or refused after some of its bytes were programmed):
  // programming over them without an erase would AND old and new bytes together.
  if (!clean) {
    if (auto status = slot_.erase(first * block, (end - first) * block); !status) return status;
  }
  std::fill(erased_.begin() + static_cast<std::ptrdiff_t>(first), erased_.begin() + static_cast<std::ptrdiff_t>(end), false);
  return StorageStatus::success();
}

StorageStatus SlotUpload::write_at(std::uint64_t offset, const void* data, std::size_t length) {
  if (offset > total_ || length > total_ - offset) return {StorageCode::io_error, "write past the image's end"};
  return slot_.program(offset, data, length);
}

StorageStatus SlotUpload::read_at(std::uint64_t offset, void* data, std::size_t length) {
  return slot_.read(offset, data, length);
}

StorageStatus SlotUpload::commit_piece(const PieceRecord& piece) {
  if (auto status = slot_.sync(); !status) return status;  // the bytes before their record
  return state_->append(piece_record, encode_piece_record(piece));
}

StorageStatus SlotUpload::update_manifest(const UploadManifest& manifest) {
  std::lock_guard lock(state_->mutex_);
  return state_->append_manifest_locked(manifest, which_);
}

// Reads the image back from the slot: its trailer must name the payload's size and tree digest,
// and its signature must verify. Success, a refusal (image_rejected) or, when the flash cannot be
// read, an I/O error: the image may be fine, the upload stays and its release is tried again.
StorageStatus verify_image(FlashArea& slot, std::uint64_t total, const PublicKey& key) {
  const auto reject = [](const std::string& why) { return StorageStatus::refuse(ErrorCode::image_rejected, why); };
  if (total < image_trailer_bytes) return reject("the image is shorter than its trailer");
  std::array<std::uint8_t, image_trailer_bytes> bytes{};
  if (auto status = slot.read(total - image_trailer_bytes, bytes.data(), bytes.size()); !status) return status;
  const auto trailer = decode_trailer(bytes);
  if (!trailer) return reject("the image has no signature trailer");
  if (trailer->payload_size != total - image_trailer_bytes) return reject("the trailer names another payload size");
  if (!trailer_signature_valid(*trailer, key)) return reject("the signature does not verify against the device's key");
  core::LeafHasher leaves;
  core::FileDigestHasher file;
  std::vector<std::uint8_t> buffer(64 * 1024);
  for (std::uint64_t at = 0; at < trailer->payload_size;) {
    const auto part = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), trailer->payload_size - at));
    if (auto status = slot.read(at, buffer.data(), part); !status) return status;
    leaves.update(std::span(buffer.data(), part), [&](const core::Leaf& leaf) { file.add_leaf(leaf.digest); });
    at += part;
  }
  leaves.finish([&](const core::Leaf& leaf) { file.add_leaf(leaf.digest); });
  const auto digest = file.finish(trailer->payload_size);
  if (!digest || !core::digests_equal(*digest, trailer->payload_digest)) {
    return reject("the payload in the slot differs from the signed digest");
  }
  return StorageStatus::success();
}

StorageStatus SlotUpload::release(FinalRecord& final) {
  std::lock_guard lock(state_->mutex_);
  const Records recorded = scan(*state_->options_.records);
  if (recorded.final) {  // released before a crash: the hand-over is the record itself
    final = *recorded.final;
    return StorageStatus::success();
  }
  if (std::holds_alternative<ErrorCode>(state_->options_.slots->writable(which_))) {
    return StorageStatus::refuse(ErrorCode::slot_active, "the upload's slot is now the running one");
  }
  if (state_->options_.public_key) {
    if (auto verified = verify_image(slot_, total_, *state_->options_.public_key); !verified) {
      verified.detail = "image in slot " + std::string(1, slot_letter(which_)) + ": " + verified.detail;
      return verified;
    }
  }
  final.location = slot_location(which_);
  const std::string text = encode_final_record(final);
  return state_->append_locked(final_record, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

class SlotStore final : public UploadStore {
 public:
  explicit SlotStore(std::shared_ptr<SlotState> state) : state_(std::move(state)) {
    state_->end_ = scan(*state_->options_.records).end;
  }

  StorageStatus create(const UploadManifest& manifest, std::unique_ptr<StoredUpload>& out) override {
    FirmwareSlots& slots = *state_->options_.slots;
    if (slots.pending()) return StorageStatus::refuse(ErrorCode::update_pending, "an image is pending");
    if (!manifest.total_size) {
      return StorageStatus::refuse(ErrorCode::invalid_geometry, "the slot store needs the image's size up front");
    }
    const Slot target = other_slot(slots.running());
    auto writable = slots.writable(target);
    if (auto* refused = std::get_if<ErrorCode>(&writable)) return StorageStatus::refuse(*refused, "the running slot");
    FlashArea& slot = *std::get<FlashArea*>(writable);
    if (*manifest.total_size > slot.size()) {
      return StorageStatus::refuse(ErrorCode::file_too_large, "the image is larger than the slot (" +
                                                                  std::to_string(slot.size()) + " bytes)");
    }
    std::lock_guard lock(state_->mutex_);
    const Records recorded = scan(*state_->options_.records);
    if (recorded.manifest) {
      return recorded.final ? StorageStatus::refuse(ErrorCode::update_pending, "a received image waits for its hand-over")
                            : StorageStatus::refuse(ErrorCode::slot_busy, "another image is being received");
    }
    // Erase what the image will take, then record it: after a cut before the record, nothing
    // names the slot, and the next creation erases it again.
    if (auto status = state_->clear_locked(); !status) return status;
    const std::uint64_t span = round_up(*manifest.total_size, slot.erase_block_bytes());
    if (span > 0) {
      if (auto status = slot.erase(0, span); !status) return status;
      if (auto status = slot.sync(); !status) return status;
    }
    if (auto status = state_->append_manifest_locked(manifest, target); !status) return status;
    out = std::make_unique<SlotUpload>(state_, slot, target, *manifest.total_size, true);
    return StorageStatus::success();
  }

  StorageStatus open(const std::string& upload_id, RecordedUpload& out) override {
    std::lock_guard lock(state_->mutex_);
    Records recorded = scan(*state_->options_.records);
    if (!recorded.manifest || recorded.manifest->upload_id != upload_id) return {StorageCode::not_found, "no such upload"};
    FirmwareSlots& slots = *state_->options_.slots;
    if (!recorded.manifest->total_size) return {StorageCode::corrupt, "the records name no size"};
    out.manifest = std::move(*recorded.manifest);
    out.pieces = std::move(recorded.pieces);
    out.pieces_durable = true;  // the slot is synced before each piece record
    out.final = std::move(recorded.final);
    out.last_activity = std::chrono::system_clock::now();
    // Blocks of recorded pieces hold their bytes; all others are erased again before use.
    out.upload = std::make_unique<SlotUpload>(state_, slots.area(recorded.target), recorded.target,
                                              *out.manifest.total_size, false);
    return StorageStatus::success();
  }

  std::vector<std::string> list() override {
    std::lock_guard lock(state_->mutex_);
    const Records recorded = scan(*state_->options_.records);
    if (!recorded.manifest) return {};
    return {recorded.manifest->upload_id};
  }

  // The image stays in its slot (a hand-over, or bytes of an abandoned update that the next
  // creation erases); only the records go.
  StorageStatus remove(const std::string& upload_id, bool /*released_file*/) override {
    std::lock_guard lock(state_->mutex_);
    const Records recorded = scan(*state_->options_.records);
    if (recorded.manifest && recorded.manifest->upload_id != upload_id) return StorageStatus::success();
    return state_->clear_locked();
  }

 private:
  std::shared_ptr<SlotState> state_;
};

}  // namespace

std::shared_ptr<UploadStore> make_slot_store(SlotStoreOptions options, std::string* error) {
  auto fail = [&](const std::string& why) -> std::shared_ptr<UploadStore> {
    if (error) *error = why;
    return nullptr;
  };
  if (!options.slots) return fail("the slot store needs the firmware slots");
  if (!options.records || options.records->size() < 4096) return fail("the slot store needs a record area of 4 KiB or more");
  return std::make_shared<SlotStore>(std::make_shared<SlotState>(std::move(options)));
}

}  // namespace resumable
