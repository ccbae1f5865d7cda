// The upload core on its own, against the in-memory store: no CivetWeb, no HTTP, no chunk
// numbers. Pieces at byte offsets, verified, released once; the digest frontier (what it reads
// back, and when); the paths the core takes when the store lacks read-back; restarts; sizes
// declared late; claims and collection.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <random>

#include "resumable/memory_store.h"
#include "resumable/tree_digest.h"
#include "resumable/upload_core.h"

using namespace resumable;

namespace {

std::vector<std::uint8_t> bytes_of(std::size_t size, std::uint32_t seed) {
  std::vector<std::uint8_t> bytes(size);
  std::mt19937 random(seed);
  for (auto& b : bytes) b = static_cast<std::uint8_t>(random());
  return bytes;
}

UploadLimits small_limits() {
  UploadLimits limits;
  limits.io_buffer_bytes = 4096;
  limits.io_buffers = 4;
  limits.write_threads = 2;
  limits.chunk_wait = std::chrono::milliseconds(200);
  return limits;
}

// One file and the core it goes to, with every completion counted.
struct Harness {
  explicit Harness(MemoryStoreOptions options = {}, UploadLimits limits = small_limits())
      : store(std::make_shared<MemoryStore>(options)), limits(limits) {
    start();
  }
  void start() {
    core = std::make_unique<UploadCore>(store, limits, UploadCore::Hooks{[this](const CompletedUpload& done) {
      completed.push_back(done);
    }, [this](const std::string& line) { log.push_back(line); }});
    core->load();
  }
  void restart() {
    core.reset();
    start();
  }

  PieceRequest piece(const std::string& identifier, const std::vector<std::uint8_t>& file, std::uint64_t offset,
                     std::uint64_t size, bool with_digest = true) const {
    PieceRequest request;
    request.upload.identifier = identifier;
    request.upload.file_name = "file.bin";
    request.upload.total_size = file.size();
    request.offset = offset;
    request.size = size;
    if (with_digest) request.digest = core::chunk_digest(std::span(file.data() + offset, size), offset, file.size());
    return request;
  }

  // Sends one piece with the bytes it names; the outcome.
  PieceOutcome send(const PieceRequest& request, const std::vector<std::uint8_t>& file,
                    const std::string& principal = "alice") {
    auto start = core->begin_piece(principal, request);
    if (auto* error = std::get_if<ErrorCode>(&start)) return *error;
    if (auto* stored = std::get_if<PieceStored>(&start)) return *stored;
    if (auto* final = std::get_if<FinalResult>(&start)) return *final;
    auto& writer = std::get<PieceWriter>(start);
    writer.write(std::span(file.data() + request.offset, request.size));
    return writer.finish();
  }

  // Every piece of `file` in `order` (piece indexes of `piece_size` pieces); the last outcome.
  PieceOutcome send_all(const std::string& identifier, const std::vector<std::uint8_t>& file, std::uint64_t piece_size,
                        std::vector<std::uint64_t> order = {}) {
    const std::uint64_t count = (file.size() + piece_size - 1) / piece_size;
    if (order.empty()) {
      order.resize(count);
      std::iota(order.begin(), order.end(), 0);
    }
    PieceOutcome last = ErrorCode::internal_error;
    for (const auto index : order) {
      const std::uint64_t offset = index * piece_size;
      last = send(piece(identifier, file, offset, std::min<std::uint64_t>(piece_size, file.size() - offset)), file);
    }
    return last;
  }

  std::shared_ptr<MemoryStore> store;
  UploadLimits limits;
  std::unique_ptr<UploadCore> core;
  std::vector<CompletedUpload> completed;
  std::vector<std::string> log;
};

ErrorCode error_of(const PieceOutcome& outcome) {
  REQUIRE(std::holds_alternative<ErrorCode>(outcome));
  return std::get<ErrorCode>(outcome);
}

FinalResult final_of(const PieceOutcome& outcome) {
  REQUIRE(std::holds_alternative<FinalResult>(outcome));
  return std::get<FinalResult>(outcome);
}

}  // namespace

TEST_CASE("pieces in order are released once, verified, with nothing read back", "[core]") {
  Harness h;
  const auto file = bytes_of(10 * 4096 + 123, 1);
  const auto final = final_of(h.send_all("in-order", file, 4096));
  CHECK(final.digest == core::file_digest(file));
  CHECK(final.size == file.size());
  REQUIRE(h.completed.size() == 1);
  CHECK(h.completed[0].token == final.token);
  CHECK(h.store->released(h.completed[0].location) == file);
  CHECK(h.store->bytes_read_back() == 0);  // every piece was hashed while it streamed
  // Every later request for the upload gets the same final result.
  const auto again = h.send(h.piece("in-order", file, 0, 4096), file);
  CHECK(final_of(again).token == final.token);
  CHECK(h.completed.size() == 1);
}

TEST_CASE("unaligned pieces out of order are read back where leaves span them", "[core]") {
  Harness h;
  const auto file = bytes_of(8 * 4096, 2);
  const auto final = final_of(h.send_all("reverse", file, 4096, {7, 6, 5, 4, 3, 2, 1, 0}));
  CHECK(final.digest == core::file_digest(file));
  // All eight lie inside one leaf: all but the first are read back (whole: no file digest is
  // declared, so each is checked against its own digest too).
  CHECK(h.store->bytes_read_back() == 7 * 4096);
  CHECK(h.store->released(h.completed.at(0).location) == file);
}

TEST_CASE("leaf-aligned pieces in any order are released from their leaf digests: no byte is read back", "[core]") {
  const auto file = bytes_of(6 * core::leaf_bytes + 12345, 21);
  for (const std::uint64_t piece_size : {core::leaf_bytes, 2 * core::leaf_bytes}) {
    for (const bool declared : {false, true}) {
      INFO("piece size " << piece_size << (declared ? ", file digest declared" : ""));
      Harness h;
      const std::uint64_t count = (file.size() + piece_size - 1) / piece_size;
      std::vector<std::uint64_t> order(count);
      std::iota(order.begin(), order.end(), 0);
      std::mt19937 random(static_cast<std::uint32_t>(piece_size));
      std::shuffle(order.begin(), order.end(), random);
      std::swap(*std::find(order.begin(), order.end(), 0), order.back());  // the first piece comes last
      PieceOutcome last = ErrorCode::internal_error;
      for (const auto index : order) {
        const std::uint64_t offset = index * piece_size;
        auto request = h.piece("aligned", file, offset, std::min<std::uint64_t>(piece_size, file.size() - offset));
        if (declared) request.upload.file_digest = core::file_digest(file);
        last = h.send(request, file);
      }
      CHECK(final_of(last).digest == core::file_digest(file));
      CHECK(h.store->bytes_read_back() == 0);  // finalize computed the digest from recorded leaves
      CHECK(h.store->released(h.completed.at(0).location) == file);
    }
  }
}

TEST_CASE("every chunk size and order gives the file's one digest", "[core]") {
  const auto file = bytes_of(5 * core::leaf_bytes + 777, 22);
  const auto expected = core::file_digest(file);
  for (const std::uint64_t piece_size : {core::leaf_bytes, 3 * core::leaf_bytes, std::uint64_t{1000000}, std::uint64_t{77 * 4096}}) {
    const std::uint64_t count = (file.size() + piece_size - 1) / piece_size;
    std::vector<std::vector<std::uint64_t>> orders(3, std::vector<std::uint64_t>(count));
    for (auto& order : orders) std::iota(order.begin(), order.end(), 0);
    std::reverse(orders[1].begin(), orders[1].end());
    std::mt19937 random(static_cast<std::uint32_t>(piece_size));
    std::shuffle(orders[2].begin(), orders[2].end(), random);
    for (std::size_t o = 0; o < orders.size(); ++o) {
      for (const bool declared : {false, true}) {
        INFO("piece size " << piece_size << ", order " << o << (declared ? ", file digest declared" : ""));
        Harness h;
        PieceOutcome last = ErrorCode::internal_error;
        std::uint64_t heads = 0;  // bytes before the first leaf boundary of pieces that start inside a leaf
        for (const auto index : orders[o]) {
          const std::uint64_t offset = index * piece_size;
          const std::uint64_t size = std::min<std::uint64_t>(piece_size, file.size() - offset);
          auto request = h.piece("sizes", file, offset, size);
          if (declared) request.upload.file_digest = expected;
          last = h.send(request, file);
          if (offset % core::leaf_bytes != 0) {
            heads += std::min(size, core::leaf_bytes - offset % core::leaf_bytes);
          }
        }
        CHECK(final_of(last).digest == expected);
        CHECK(h.store->released(h.completed.at(0).location) == file);
        // With a declared file digest, only heads are read back (pieces that came in line: none).
        if (declared) CHECK(h.store->bytes_read_back() <= heads);
        if (o == 0) CHECK(h.store->bytes_read_back() == 0);
      }
    }
  }
}

TEST_CASE("a store without read-back takes pieces that start inside a leaf in order only, and says so", "[core]") {
  Harness h({.read_back = false});
  const auto file = bytes_of(4 * 4096, 3);
  CHECK(error_of(h.send(h.piece("strict", file, 4096, 4096), file)) == ErrorCode::out_of_order);
  CHECK(h.store->upload_count() == 0);  // the refused first piece left no upload behind
  REQUIRE(std::holds_alternative<PieceStored>(h.send(h.piece("strict", file, 0, 4096), file)));
  CHECK(error_of(h.send(h.piece("strict", file, 2 * 4096, 4096), file)) == ErrorCode::out_of_order);
  const auto final = final_of(h.send_all("strict", file, 4096, {1, 2, 3}));
  CHECK(final.digest == core::file_digest(file));
  // Pieces that start on leaf boundaries come in any order.
  const auto big = bytes_of(3 * core::leaf_bytes + 5, 31);
  CHECK(final_of(h.send_all("any-order", big, core::leaf_bytes, {3, 1, 2, 0})).digest == core::file_digest(big));
  CHECK(h.store->bytes_read_back() == 0);
}

TEST_CASE("a restart keeps every piece: aligned ones pass from their records, unaligned ones are read again", "[core]") {
  SECTION("leaf-aligned pieces: nothing is read back") {
    Harness h;
    const auto file = bytes_of(4 * core::leaf_bytes + 100, 4);
    h.send_all("restart", file, core::leaf_bytes, {0, 1, 3});
    h.restart();
    const auto state = h.core->status("alice", "restart");
    REQUIRE(std::holds_alternative<UploadState>(state));
    CHECK(std::get<UploadState>(state).pieces.size() == 3);
    const auto final = final_of(h.send_all("restart", file, core::leaf_bytes, {4, 2}));
    CHECK(final.digest == core::file_digest(file));
    CHECK(h.store->bytes_read_back() == 0);
  }
  SECTION("unaligned pieces: the leaf states a restart lost are rebuilt from their bytes") {
    Harness h;
    const auto file = bytes_of(8 * 4096, 4);
    h.send_all("restart", file, 4096, {0, 1, 2, 5});
    h.restart();
    const auto state = h.core->status("alice", "restart");
    REQUIRE(std::holds_alternative<UploadState>(state));
    CHECK(std::get<UploadState>(state).stored_bytes == 4 * 4096);
    const auto final = final_of(h.send_all("restart", file, 4096, {3, 4, 6, 7}));
    CHECK(final.digest == core::file_digest(file));
    CHECK(h.store->bytes_read_back() <= file.size());
  }
}

TEST_CASE("without read-back, a restart keeps the pieces it can pass from their records and asks for the rest", "[core]") {
  SECTION("leaf-aligned pieces are all kept") {
    Harness h({.read_back = false});
    const auto file = bytes_of(3 * core::leaf_bytes + 9, 5);
    h.send_all("resume", file, core::leaf_bytes, {0, 2});
    h.restart();
    const auto state = h.core->status("alice", "resume");
    REQUIRE(std::holds_alternative<UploadState>(state));
    CHECK(std::get<UploadState>(state).stored_bytes == 2 * core::leaf_bytes);
    const auto final = final_of(h.send_all("resume", file, core::leaf_bytes, {3, 1}));
    CHECK(final.digest == core::file_digest(file));
  }
  SECTION("unaligned pieces whose leaf states were lost are asked again, and the file still verifies") {
    Harness h({.read_back = false});
    const auto file = bytes_of(6 * 4096, 6);
    h.send_all("again", file, 4096, {0, 1, 2});
    h.restart();
    const auto state = h.core->status("alice", "again");
    REQUIRE(std::holds_alternative<UploadState>(state));
    CHECK(std::get<UploadState>(state).pieces.empty());
    const auto final = final_of(h.send_all("again", file, 4096));
    CHECK(final.digest == core::file_digest(file));
    CHECK(h.store->released(h.completed.at(0).location) == file);
  }
}

TEST_CASE("a size declared later completes the upload, a size too small for what is stored conflicts", "[core]") {
  Harness h;
  const auto file = bytes_of(3 * 4096 + 10, 7);
  auto first = h.piece("deferred", file, 0, 4096);
  first.upload.total_size.reset();
  const auto stored = h.send(first, file);
  REQUIRE(std::holds_alternative<PieceStored>(stored));
  auto second = h.piece("deferred", file, 4096, 4096);
  second.upload.total_size.reset();
  REQUIRE(std::holds_alternative<PieceStored>(h.send(second, file)));
  const auto state = h.core->status("alice", "deferred");
  REQUIRE(std::holds_alternative<UploadState>(state));
  CHECK_FALSE(std::get<UploadState>(state).total_size.has_value());
  auto too_small = h.piece("deferred", file, 0, 4096);
  too_small.upload.total_size = 6000;  // 8 KiB are stored already
  CHECK(error_of(h.send(too_small, file)) == ErrorCode::upload_conflict);
  const auto final = final_of(h.send(h.piece("deferred", file, 2 * 4096, 4096 + 10), file));
  CHECK(final.size == file.size());
  CHECK(final.digest == core::file_digest(file));
}

TEST_CASE("a size declared without a piece releases an upload whose bytes are all in", "[core]") {
  Harness h;
  const auto file = bytes_of((1 << 20) + 3 * 4096 + 10, 8);  // a partial last leaf, as a stream leaves it
  for (const std::uint64_t offset : {std::uint64_t{0}, std::uint64_t{1} << 20}) {
    auto piece = h.piece("streamed", file, offset, offset == 0 ? 1 << 20 : file.size() - offset, false);
    piece.upload.total_size.reset();
    REQUIRE(std::holds_alternative<PieceStored>(h.send(piece, file)));
  }
  CHECK(h.core->declare_size("alice", "nobody", file.size()) == ErrorCode::upload_not_found);
  CHECK(h.core->declare_size("bob", "streamed", file.size()) == ErrorCode::upload_not_found);
  CHECK(h.core->declare_size("alice", "streamed", file.size() - 1) == ErrorCode::upload_conflict);  // bytes past it
  CHECK(h.core->declare_size("alice", "streamed", file.size()) == std::nullopt);
  CHECK(h.core->declare_size("alice", "streamed", file.size() + 1) == ErrorCode::upload_conflict);  // pinned
  const auto released = h.core->resume_finalization("alice", "streamed");
  REQUIRE(released.has_value());
  const auto final = final_of(*released);
  CHECK(final.size == file.size());
  CHECK(final.digest == core::file_digest(file));
  CHECK(h.completed.size() == 1);
}

TEST_CASE("duplicates, conflicts, overlaps and bad digests", "[core]") {
  Harness h;
  const auto file = bytes_of(4 * 4096, 8);
  REQUIRE(std::holds_alternative<PieceStored>(h.send(h.piece("rules", file, 0, 4096), file)));
  const auto duplicate = h.send(h.piece("rules", file, 0, 4096), file);
  REQUIRE(std::holds_alternative<PieceStored>(duplicate));
  CHECK(std::get<PieceStored>(duplicate).duplicate);
  auto changed = h.piece("rules", file, 0, 4096);
  changed.digest = core::blake2b256(file.data() + 4096, 4096);
  CHECK(error_of(h.send(changed, file)) == ErrorCode::chunk_conflict);
  CHECK(error_of(h.send(h.piece("rules", file, 2048, 4096), file)) == ErrorCode::invalid_geometry);
  CHECK(error_of(h.send(h.piece("rules", file, 3 * 4096, 4096 + 1, false), file)) == ErrorCode::invalid_geometry);
  auto lying = h.piece("rules", file, 4096, 4096);
  lying.digest = core::blake2b256(file.data(), 4096);
  CHECK(error_of(h.send(lying, file)) == ErrorCode::chunk_digest_mismatch);
  auto other_name = h.piece("rules", file, 4096, 4096);
  other_name.upload.file_name = "other.bin";
  CHECK(error_of(h.send(other_name, file)) == ErrorCode::upload_conflict);
  const auto state = h.core->status("alice", "rules");
  REQUIRE(std::holds_alternative<UploadState>(state));
  CHECK(std::get<UploadState>(state).pieces.size() == 1);  // nothing of the refused pieces was recorded
}

TEST_CASE("a declared file digest is verified: a mismatch discards the upload", "[core]") {
  Harness h;
  const auto file = bytes_of(2 * 4096, 9);
  auto first = h.piece("declared", file, 0, 4096);
  first.upload.file_digest = core::blake2b256(file.data(), 4096);  // not the file's
  REQUIRE(std::holds_alternative<PieceStored>(h.send(first, file)));
  auto last = h.piece("declared", file, 4096, 4096);
  last.upload.file_digest = first.upload.file_digest;
  CHECK(error_of(h.send(last, file)) == ErrorCode::file_digest_mismatch);
  CHECK(std::get<ErrorCode>(h.core->status("alice", "declared")) == ErrorCode::upload_not_found);
  CHECK(h.completed.empty());
  CHECK(h.store->upload_count() == 0);
}

TEST_CASE("an upload whose every piece is stored but whose release failed or was cut off is released by a query", "[core]") {
  Harness h;
  const auto file = bytes_of(3 * 4096 + 5, 21);
  h.store->fail_releases(1);
  CHECK(error_of(h.send_all("interrupted", file, 4096)) == ErrorCode::insufficient_storage);
  CHECK(h.completed.empty());

  SECTION("a status request releases it") {
    const auto outcome = h.core->status("alice", "interrupted");
    REQUIRE(std::holds_alternative<FinalResult>(outcome));
    CHECK(std::get<FinalResult>(outcome).digest == core::file_digest(file));
  }
  SECTION("after a restart (a crash between the last record and the release), a test of a piece releases it") {
    h.store->fail_releases(0);
    h.restart();
    CHECK(h.completed.empty());
    const auto outcome = h.core->find_piece("alice", h.piece("interrupted", file, 4096, 4096));
    REQUIRE(std::holds_alternative<FinalResult>(outcome));
  }
  SECTION("a release that fails again is reported, and the next query tries again") {
    h.store->fail_releases(1);
    CHECK(std::get<ErrorCode>(h.core->status("alice", "interrupted")) == ErrorCode::insufficient_storage);
    REQUIRE(std::holds_alternative<FinalResult>(h.core->status("alice", "interrupted")));
  }
  REQUIRE(h.completed.size() == 1);
  CHECK(h.store->released(h.completed[0].location) == file);
  // Released once: later queries and a repeated piece answer with the same final result.
  const auto token = h.completed[0].token;
  CHECK(std::get<FinalResult>(h.core->status("alice", "interrupted")).token == token);
  CHECK(final_of(h.send(h.piece("interrupted", file, 0, 4096), file)).token == token);
  CHECK(h.completed.size() == 1);
}

TEST_CASE("an empty file is one empty piece", "[core]") {
  Harness h;
  const std::vector<std::uint8_t> empty;
  const auto final = final_of(h.send(h.piece("empty", empty, 0, 0), empty));
  CHECK(final.size == 0);
  CHECK(final.digest == core::file_digest({}));
}

TEST_CASE("claims are one-time and owner-checked; cancel and collection remove uploads", "[core]") {
  Harness h;
  const auto file = bytes_of(4096, 10);
  const std::string token = final_of(h.send_all("claimed", file, 4096)).token;
  CHECK(std::get<ErrorCode>(h.core->claim(token, "mallory")) == ErrorCode::upload_not_found);
  const auto claimed = h.core->claim(token, "alice");
  REQUIRE(std::holds_alternative<ClaimedUpload>(claimed));
  CHECK(h.store->released(std::get<ClaimedUpload>(claimed).location) == file);  // the file stays the application's
  CHECK(std::get<ErrorCode>(h.core->claim(token, "alice")) == ErrorCode::upload_not_found);

  h.send(h.piece("cancelled", file, 0, 2048), file);
  h.core->cancel("alice", "cancelled");
  CHECK(std::get<ErrorCode>(h.core->status("alice", "cancelled")) == ErrorCode::upload_not_found);

  h.send(h.piece("stale", file, 0, 2048), file);
  const auto report = h.core->collect_stale(UploadCore::Clock::now() + h.limits.stale_after + std::chrono::seconds(1));
  CHECK(report.stale_removed == 1);
  CHECK(h.store->upload_count() == 0);
}

TEST_CASE("a restart hands every released, unclaimed upload to on_complete again, and a claimed one never", "[core]") {
  // A crash between the release and the end of the application's hook (a device marking its new
  // image pending) must not leave a verified file nobody was told of.
  Harness h;
  const auto first = bytes_of(4096, 11);
  const auto second = bytes_of(2 * 4096, 12);
  const std::string kept = final_of(h.send_all("kept", first, 4096)).token;
  const std::string taken = final_of(h.send_all("taken", second, 4096)).token;
  REQUIRE(h.completed.size() == 2);
  CHECK_FALSE(h.completed[0].redelivered);
  REQUIRE(std::holds_alternative<ClaimedUpload>(h.core->claim(taken, "alice")));

  h.completed.clear();
  h.restart();
  REQUIRE(h.completed.size() == 1);
  const CompletedUpload& again = h.completed[0];
  CHECK(again.redelivered);
  CHECK(again.token == kept);
  CHECK(again.identifier == "kept");
  CHECK(again.principal == "alice");
  CHECK(again.size == first.size());
  CHECK(again.digest == core::file_digest(first));
  CHECK(h.store->released(again.location) == first);
  // Once claimed, the next restart is silent.
  REQUIRE(std::holds_alternative<ClaimedUpload>(h.core->claim(kept, "alice")));
  h.completed.clear();
  h.restart();
  CHECK(h.completed.empty());
}

TEST_CASE("uploads are scoped to their principal", "[core]") {
  Harness h;
  const auto file = bytes_of(2 * 4096, 11);
  REQUIRE(std::holds_alternative<PieceStored>(h.send(h.piece("same-name", file, 0, 4096), file, "alice")));
  CHECK(std::get<ErrorCode>(h.core->status("bob", "same-name")) == ErrorCode::upload_not_found);
  const auto bobs = h.send(h.piece("same-name", file, 0, 4096), file, "bob");
  REQUIRE(std::holds_alternative<PieceStored>(bobs));
  CHECK_FALSE(std::get<PieceStored>(bobs).duplicate);
}

TEST_CASE("the mount's policy: file size and type are checked before an upload exists", "[core]") {
  UploadLimits limits = small_limits();
  limits.max_file_size = 8192;
  limits.allowed_extensions = {"bin"};
  Harness h({}, limits);
  const auto file = bytes_of(8193, 12);
  CHECK(error_of(h.send(h.piece("big", file, 0, 4096), file)) == ErrorCode::file_too_large);
  auto exe = h.piece("exe", file, 0, 4096);
  exe.upload.total_size = 4096;
  exe.upload.file_name = "setup.exe";
  CHECK(error_of(h.send(exe, file)) == ErrorCode::type_not_allowed);
  CHECK(h.store->upload_count() == 0);
}

namespace {

// Sends `file` as partial uploads (UploadDeclaration::partial) of `sizes` bytes each, in pieces of
// at most 1 MiB, as `principal`; their identifiers. `unfinished`: the last one lacks its last piece.
std::vector<std::string> send_partials(Harness& h, const std::vector<std::uint8_t>& file, const std::vector<std::uint64_t>& sizes,
                                       const std::string& principal = "alice", bool unfinished = false) {
  std::vector<std::string> ids;
  std::uint64_t at = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const std::vector<std::uint8_t> part(file.begin() + static_cast<std::ptrdiff_t>(at),
                                         file.begin() + static_cast<std::ptrdiff_t>(at + sizes[i]));
    static int serial = 0;  // every partial of a test has its own identifier
    ids.push_back(principal + "-part-" + std::to_string(++serial));
    for (std::uint64_t offset = 0; offset < part.size(); offset += core::leaf_bytes) {
      const std::uint64_t size = std::min<std::uint64_t>(core::leaf_bytes, part.size() - offset);
      if (unfinished && i + 1 == sizes.size() && offset + size == part.size()) break;
      auto request = h.piece(ids.back(), part, offset, size);
      request.upload.partial = true;
      const auto outcome = h.send(request, part, principal);
      REQUIRE(std::holds_alternative<PieceStored>(outcome));  // a partial is never released on its own
    }
    at += sizes[i];
  }
  return ids;
}

UploadDeclaration joined_upload(const std::string& identifier) {
  UploadDeclaration upload;
  upload.identifier = identifier;
  upload.file_name = "joined.bin";
  return upload;
}

}  // namespace

TEST_CASE("concatenation: the digest from the partials' leaves where they start on a leaf, bytes read back only where one spans two",
          "[core]") {
  constexpr std::uint64_t MiB = core::leaf_bytes;
  struct Case {
    std::vector<std::uint64_t> sizes;
    std::uint64_t hashed_again;  // bytes read back for the digest (the memory store has no splice: all are read once to copy)
  };
  // Whole MiB: every leaf comes from the records. 1 MiB + 3, 2 MiB - 3, 1 MiB + 2: the first's 3
  // trailing bytes and all of the second (it starts inside a leaf) are hashed again; the third
  // starts on a boundary again and gives its leaves, its shorter last one included.
  const std::vector<Case> cases = {{{2 * MiB, MiB, MiB + 5}, 0}, {{MiB + 3, 2 * MiB - 3, MiB + 2}, 2 * MiB}};
  for (const auto& c : cases) {
    Harness h;
    const std::uint64_t total = std::accumulate(c.sizes.begin(), c.sizes.end(), std::uint64_t{0});
    const auto file = bytes_of(total, 7);
    const auto ids = send_partials(h, file, c.sizes);
    CHECK(h.completed.empty());
    const auto read_before = h.store->bytes_read_back();
    const auto joined = h.core->concatenate("alice", joined_upload("joined"), ids);
    REQUIRE(std::holds_alternative<FinalResult>(joined));
    const auto& final = std::get<FinalResult>(joined);
    CHECK(final.digest == core::file_digest(file));
    CHECK(final.size == total);
    REQUIRE(h.completed.size() == 1);
    CHECK(h.store->released(h.completed[0].location) == file);
    CHECK(h.store->bytes_read_back() - read_before == total + c.hashed_again);
    for (const auto& id : ids) CHECK(std::get<ErrorCode>(h.core->status("alice", id)) == ErrorCode::upload_not_found);
    CHECK(std::holds_alternative<FinalResult>(h.core->status("alice", "joined")));
  }
}

TEST_CASE("concatenation refuses foreign, unfinished, whole and repeated uploads and changes nothing", "[core]") {
  constexpr std::uint64_t MiB = core::leaf_bytes;
  Harness h;
  const auto file = bytes_of(3 * MiB, 8);
  const auto ids = send_partials(h, file, {MiB, MiB});
  const auto bobs = send_partials(h, file, {MiB}, "bob");
  const auto unfinished = send_partials(h, file, {MiB, 2 * MiB}, "alice", true);
  const auto whole = bytes_of(100, 9);
  REQUIRE(std::holds_alternative<FinalResult>(h.send(h.piece("whole", whole, 0, whole.size()), whole)));
  const auto refused = [&](const std::vector<std::string>& parts) {
    auto outcome = h.core->concatenate("alice", joined_upload("refused"), parts);
    REQUIRE(std::holds_alternative<ErrorCode>(outcome));
    return std::get<ErrorCode>(outcome);
  };
  CHECK(refused({ids[0], bobs[0]}) == ErrorCode::upload_not_found);
  CHECK(refused({ids[0], "never-created"}) == ErrorCode::upload_not_found);
  CHECK(refused({ids[0], unfinished[1]}) == ErrorCode::partial_upload_unfinished);
  CHECK(refused({ids[0], "whole"}) == ErrorCode::not_a_partial_upload);
  CHECK(refused({ids[0], ids[0]}) == ErrorCode::invalid_parameter);
  CHECK(refused({}) == ErrorCode::invalid_parameter);
  CHECK(std::get<ErrorCode>(h.core->status("alice", "refused")) == ErrorCode::upload_not_found);
  CHECK(h.completed.size() == 1);  // "whole" only
  // The partials are as they were, and join after a restart (their leaves come back from the records).
  h.restart();
  const auto joined = h.core->concatenate("alice", joined_upload("joined"), ids);
  REQUIRE(std::holds_alternative<FinalResult>(joined));
  CHECK(std::get<FinalResult>(joined).digest == core::file_digest(std::span(file.data(), 2 * MiB)));
  CHECK(std::holds_alternative<UploadState>(h.core->status("bob", bobs[0])));
}
