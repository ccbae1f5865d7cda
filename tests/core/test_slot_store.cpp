// The slot store (firmware updates) under the upload core, on file-backed flash with NOR's rules:
// signed images land in the inactive slot byte for byte and are handed over only when their
// signature verifies against the bytes in flash; refusals come before a byte is written; a piece
// sent again after a cut attempt is erased first; records bring an upload back after a restart.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "resumable/image_signature.h"
#include "resumable/slot_store.h"
#include "resumable/tree_digest.h"
#include "resumable/upload_core.h"

using namespace resumable;

namespace {

constexpr std::uint64_t MiB = 1024 * 1024;
constexpr std::uint64_t slot_bytes = 4 * MiB;
constexpr std::uint64_t erase_block = 4096;

std::vector<std::uint8_t> random_bytes(std::size_t size, std::uint32_t seed) {
  std::vector<std::uint8_t> bytes(size);
  std::mt19937 random(seed);
  for (auto& b : bytes) b = static_cast<std::uint8_t>(random());
  return bytes;
}

struct Keys {
  PublicKey public_key{};
  SecretKey secret_key{};
  Keys() { make_signing_keys(public_key, secret_key); }
};

std::vector<std::uint8_t> signed_image(std::vector<std::uint8_t> payload, const SecretKey& key) {
  const auto trailer = sign_image(payload.size(), core::file_digest(payload), key);
  payload.insert(payload.end(), trailer.begin(), trailer.end());
  return payload;
}

std::vector<std::uint8_t> read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A device: two slots and a record area as files in a fresh folder, a core over the slot store.
struct Device {
  explicit Device(std::optional<PublicKey> key) : key(key) {
    dir = std::filesystem::temp_directory_path() / ("rsm-slot-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir);
    start();
  }
  ~Device() {
    core.reset();
    std::filesystem::remove_all(dir);
  }
  void start() {
    std::string error;
    FirmwareSlots::Options o;
    o.slot_a = open_file_flash(dir / "slot-a.img", slot_bytes, erase_block, &error);
    o.slot_b = open_file_flash(dir / "slot-b.img", slot_bytes, erase_block, &error);
    o.boot_state_file = dir / "boot-state.json";
    slots = FirmwareSlots::open(std::move(o), &error);
    REQUIRE(slots);
    SlotStoreOptions s;
    s.slots = slots;
    s.records = open_file_flash(dir / "records.img", 64 * 1024, erase_block, &error);
    s.public_key = key;
    auto store = make_slot_store(std::move(s), &error);
    REQUIRE(store);
    UploadLimits limits;
    limits.io_buffer_bytes = 64 * 1024;
    limits.chunk_wait = std::chrono::milliseconds(200);
    core = std::make_unique<UploadCore>(store, limits, UploadCore::Hooks{[this](const CompletedUpload& done) {
      completed.push_back(done);
    }, [this](const std::string& line) { log.push_back(line); }});
    core->load();
  }
  void restart() {
    core.reset();
    slots.reset();
    start();
  }

  PieceOutcome send(const std::string& id, const std::vector<std::uint8_t>& image, std::uint64_t offset,
                    std::uint64_t size, const std::vector<std::uint8_t>* body = nullptr) {
    PieceRequest request;
    request.upload.identifier = id;
    request.upload.file_name = "firmware.bin";
    request.upload.total_size = image.size();
    request.offset = offset;
    request.size = size;
    request.digest = core::chunk_digest(std::span(image.data() + offset, size), offset, image.size());
    auto start = core->begin_piece("device-user", request);
    if (auto* error = std::get_if<ErrorCode>(&start)) return *error;
    if (auto* stored = std::get_if<PieceStored>(&start)) return *stored;
    if (auto* final = std::get_if<FinalResult>(&start)) return *final;
    auto& writer = std::get<PieceWriter>(start);
    const auto& bytes = body ? *body : image;
    std::uint64_t done = 0;
    while (done < size) {
      auto buffer = writer.next_buffer();
      const auto n = std::min<std::uint64_t>(buffer.size(), size - done);
      std::memcpy(buffer.data(), bytes.data() + offset + done, n);
      if (!writer.received(n)) break;
      done += n;
    }
    return writer.finish();
  }
  PieceOutcome send_all(const std::string& id, const std::vector<std::uint8_t>& image, std::uint64_t piece,
                        bool reverse = false) {
    std::vector<std::uint64_t> offsets;
    for (std::uint64_t at = 0; at < image.size(); at += piece) offsets.push_back(at);
    if (reverse) std::reverse(offsets.begin(), offsets.end());
    PieceOutcome last = ErrorCode::internal_error;
    for (auto at : offsets) last = send(id, image, at, std::min<std::uint64_t>(piece, image.size() - at));
    return last;
  }
  std::vector<std::uint8_t> slot_contents(char which, std::size_t length) const {
    auto bytes = read_all(dir / (std::string("slot-") + which + ".img"));
    bytes.resize(length);
    return bytes;
  }

  std::filesystem::path dir;
  std::optional<PublicKey> key;
  std::shared_ptr<FirmwareSlots> slots;
  std::unique_ptr<UploadCore> core;
  std::vector<CompletedUpload> completed;
  std::vector<std::string> log;
};

ErrorCode error_of(const PieceOutcome& outcome) {
  REQUIRE(std::holds_alternative<ErrorCode>(outcome));
  return std::get<ErrorCode>(outcome);
}

}  // namespace

TEST_CASE("image trailers: what is signed verifies, any change does not", "[slot]") {
  Keys keys, other;
  const auto payload = random_bytes(3 * MiB + 17, 1);
  const auto image = signed_image(payload, keys.secret_key);
  const auto trailer = decode_trailer(std::span(image).last(image_trailer_bytes));
  REQUIRE(trailer);
  CHECK(trailer->payload_size == payload.size());
  CHECK(trailer->payload_digest == core::file_digest(payload));
  CHECK(trailer_signature_valid(*trailer, keys.public_key));
  CHECK_FALSE(trailer_signature_valid(*trailer, other.public_key));
  auto forged = *trailer;
  forged.payload_size -= 1;
  CHECK_FALSE(trailer_signature_valid(forged, keys.public_key));
  forged = *trailer;
  forged.signature[10] ^= 1;
  CHECK_FALSE(trailer_signature_valid(forged, keys.public_key));
  CHECK_FALSE(decode_trailer(std::span(payload).last(image_trailer_bytes)));
  CHECK(public_key_from_hex(key_to_hex(keys.public_key) + "\n") == keys.public_key);
  CHECK(secret_key_from_hex(key_to_hex(keys.secret_key)) == keys.secret_key);
  CHECK_FALSE(public_key_from_hex("00ff"));
}

TEST_CASE("a signed image lands in the inactive slot byte for byte, in any order, and is handed over", "[slot]") {
  Keys keys;
  Device device(keys.public_key);
  const auto image = signed_image(random_bytes(3 * MiB + 4321, 2), keys.secret_key);
  const auto outcome = device.send_all("v2", image, 256 * 1024, true);
  REQUIRE(std::holds_alternative<FinalResult>(outcome));
  REQUIRE(device.completed.size() == 1);
  CHECK(device.completed[0].location == "slot:b");
  CHECK(device.slot_contents('b', image.size()) == image);
  CHECK(device.slot_contents('a', 16) == std::vector<std::uint8_t>(16, 0xff));  // the running slot: untouched
  // The application marks it pending; another update is then refused before a byte is written.
  const auto& done = device.completed[0];
  REQUIRE(device.slots->mark_pending({Slot::b, done.size, done.digest, done.token}));
  REQUIRE(std::holds_alternative<ClaimedUpload>(device.core->claim(done.token, "device-user")));
  const auto next = signed_image(random_bytes(MiB, 3), keys.secret_key);
  CHECK(error_of(device.send("v3", next, 0, 256 * 1024)) == ErrorCode::update_pending);
  CHECK(device.slot_contents('b', image.size()) == image);
  // Confirmed, B runs: the next update goes to A, and B is never writable.
  REQUIRE(device.slots->confirm());
  CHECK(device.slots->running() == Slot::b);
  CHECK(std::get<ErrorCode>(device.slots->writable(Slot::b)) == ErrorCode::slot_active);
  CHECK(device.slots->mark_pending({Slot::b, 1, {}, "other"}).refusal == ErrorCode::slot_active);
  REQUIRE(std::holds_alternative<FinalResult>(device.send_all("v3", next, 256 * 1024)));
  CHECK(device.completed.back().location == "slot:a");
  CHECK(device.slot_contents('a', next.size()) == next);
  CHECK(device.slot_contents('b', image.size()) == image);
}

TEST_CASE("forged and unsigned images are refused at release and never handed over", "[slot]") {
  Keys keys, stranger;
  Device device(keys.public_key);
  const auto payload = random_bytes(MiB + 99, 4);
  auto flipped = signed_image(payload, keys.secret_key);
  flipped[flipped.size() - 1] ^= 0x01;  // a signature bit
  const std::vector<std::vector<std::uint8_t>> bad = {signed_image(payload, stranger.secret_key), flipped, payload};
  int n = 0;
  for (const auto& image : bad) {
    CAPTURE(n);
    CHECK(error_of(device.send_all("bad-" + std::to_string(n++), image, 512 * 1024)) == ErrorCode::image_rejected);
    CHECK(device.completed.empty());
    CHECK_FALSE(device.slots->pending());
  }
  // A payload changed after signing, with the signature intact: the bytes in flash decide.
  auto changed = signed_image(payload, keys.secret_key);
  changed[5] ^= 0x40;
  CHECK(error_of(device.send_all("changed", changed, 512 * 1024)) == ErrorCode::image_rejected);
  CHECK(device.completed.empty());
  // The slot is free again for a good image.
  REQUIRE(std::holds_alternative<FinalResult>(device.send_all("good", signed_image(payload, keys.secret_key), 512 * 1024)));
}

TEST_CASE("refusals before a byte is written: too large, a second upload, unaligned chunks", "[slot]") {
  Device device(std::nullopt);
  const auto too_large = random_bytes(slot_bytes + 1, 5);
  CHECK(error_of(device.send("huge", too_large, 0, MiB)) == ErrorCode::file_too_large);
  CHECK(device.slot_contents('b', slot_bytes) == std::vector<std::uint8_t>(slot_bytes, 0xff));
  const auto image = random_bytes(2 * MiB, 6);
  REQUIRE(std::holds_alternative<PieceStored>(device.send("first", image, 0, MiB)));
  const auto other = random_bytes(MiB, 7);
  CHECK(error_of(device.send("second", other, 0, MiB)) == ErrorCode::slot_busy);
  CHECK(error_of(device.send("first", image, 1000, 4096)) == ErrorCode::invalid_geometry);
  CHECK(device.slot_contents('b', MiB) == std::vector<std::uint8_t>(image.begin(), image.begin() + MiB));
  // Cancelled, the slot takes another upload.
  device.core->cancel("device-user", "first");
  REQUIRE(std::holds_alternative<FinalResult>(device.send("second", other, 0, MiB)));
  CHECK(device.slot_contents('b', MiB) == other);
}

TEST_CASE("a piece sent again after a cut attempt is erased first: flash ANDs what it programs", "[slot]") {
  Device device(std::nullopt);
  const auto image = random_bytes(MiB, 8);
  auto garbled = image;
  for (auto& b : garbled) b = static_cast<std::uint8_t>(~b);
  const std::uint64_t half = MiB / 2;
  REQUIRE(std::holds_alternative<PieceStored>(device.send("retry", image, 0, half)));
  // The second piece's first attempt: wrong bytes programmed, then refused by the chunk digest.
  CHECK(error_of(device.send("retry", image, half, half, &garbled)) == ErrorCode::chunk_digest_mismatch);
  const auto programmed = device.slot_contents('b', MiB);
  CHECK(std::vector<std::uint8_t>(programmed.begin() + half, programmed.begin() + half + 4096) !=
        std::vector<std::uint8_t>(4096, 0xff));  // the bytes did reach the flash
  REQUIRE(std::holds_alternative<FinalResult>(device.send("retry", image, half, half)));
  CHECK(device.slot_contents('b', image.size()) == image);
}

TEST_CASE("the records bring an interrupted update back after a restart, and a released one to on_complete", "[slot]") {
  Keys keys;
  Device device(keys.public_key);
  const auto image = signed_image(random_bytes(2 * MiB + 5, 9), keys.secret_key);
  REQUIRE(std::holds_alternative<PieceStored>(device.send("resumed", image, 0, MiB)));
  device.restart();
  const auto status = device.core->status("device-user", "resumed");
  REQUIRE(std::holds_alternative<UploadState>(status));
  CHECK(std::get<UploadState>(status).stored_bytes == MiB);
  REQUIRE(std::holds_alternative<FinalResult>(device.send("resumed", image, MiB, image.size() - MiB)));
  CHECK(device.slot_contents('b', image.size()) == image);
  const std::string token = device.completed.at(0).token;
  // A restart before the application took the image over hands it over again.
  device.completed.clear();
  device.restart();
  REQUIRE(device.completed.size() == 1);
  CHECK(device.completed[0].token == token);
  CHECK(device.completed[0].location == "slot:b");
  CHECK(device.completed[0].redelivered);
}
