// The S3 store over the shared PostgreSQL registry: several upload cores in one process, each with
// its own registry connection pool and S3 client (as separate instances would have), over one
// database and one bucket. Run inside both fixtures (tests/support/postgres_fixture.sh --
// bash tests/support/ceph_fixture.sh -- this program): pieces through different instances, racing
// releases and claims, an instance dropped mid-upload or right after recording the release,
// collection on one instance, and radosgw stopped for a moment.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

#include "resumable/postgresql_registry.h"
#include "resumable/s3_client.h"
#include "resumable/s3_store.h"
#include "resumable/secure_random.h"
#include "resumable/tree_digest.h"
#include "resumable/upload_core.h"
#include "core_requests.h"

using namespace resumable;
using scaleout::describe;
using scaleout::request_for;
using scaleout::send;

namespace {

using Clock = std::chrono::system_clock;
constexpr std::uint64_t MiB = std::uint64_t{1} << 20;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) {
    FAIL(std::string(name) + " is not set: run inside tests/support/postgres_fixture.sh and ceph_fixture.sh");
  }
  return value;
}

S3Options s3_options() {
  S3Options options;
  options.endpoint = env("RESUMABLE_S3_ENDPOINT");
  options.bucket = env("RESUMABLE_S3_BUCKET");
  options.region = env("RESUMABLE_S3_REGION");
  // A short outage is seen quickly as unavailable (the client's own retries are tested elsewhere).
  options.max_attempts = 2;
  options.first_backoff = std::chrono::milliseconds(20);
  options.max_backoff = std::chrono::milliseconds(50);
  options.connect_timeout = std::chrono::milliseconds(500);
  return options;  // credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
}

std::unique_ptr<S3Client> client() {
  std::string error;
  auto made = S3Client::create(s3_options(), &error);
  INFO(error);
  REQUIRE(made);
  return made;
}

std::shared_ptr<UploadRegistry> registry() {
  std::string error;
  PostgresqlRegistryOptions options;
  options.conninfo = env("RESUMABLE_PG_CONNINFO");
  auto made = make_postgresql_registry(options, &error);
  INFO(error);
  REQUIRE(made);
  return made;
}

std::shared_ptr<UploadStore> s3_store(const std::string& prefix, std::shared_ptr<UploadRegistry> shared) {
  S3StoreOptions options;
  options.s3 = s3_options();
  options.prefix = prefix;
  options.registry = std::move(shared);
  std::string error;
  auto made = make_s3_store(options, &error);
  INFO(error);
  REQUIRE(made);
  return made;
}

void fixture(const char* command) {
  const std::string line = "bash " + env("RESUMABLE_CEPH_FIXTURE") + " " + command;
  REQUIRE(std::system(line.c_str()) == 0);
}

std::vector<std::uint8_t> bytes_of(std::size_t size, std::uint32_t seed) {
  std::vector<std::uint8_t> bytes(size);
  std::mt19937_64 random(seed);
  for (std::size_t i = 0; i < size; i += 8) {
    const std::uint64_t word = random();
    std::memcpy(bytes.data() + i, &word, std::min<std::size_t>(8, size - i));
  }
  return bytes;
}

UploadLimits instance_limits() {
  UploadLimits limits;
  limits.io_buffer_bytes = 64 * 1024;
  limits.io_buffers = 4;
  limits.write_threads = 2;
  limits.chunk_wait = std::chrono::milliseconds(2000);
  return limits;
}

// One instance: its own registry pool, S3 client and upload core.
struct Instance {
  Instance(const std::string& prefix, std::atomic<int>& released, std::vector<std::string>& tokens, std::mutex& mutex) {
    store = s3_store(prefix, registry());
    REQUIRE(store->shared_registry() != nullptr);
    core = std::make_unique<UploadCore>(store, instance_limits(), UploadCore::Hooks{[&](const CompletedUpload& done) {
      ++released;
      std::lock_guard lock(mutex);
      tokens.push_back(done.token);
    }, [](const std::string&) {}});
    core->load();
  }
  std::shared_ptr<UploadStore> store;
  std::unique_ptr<UploadCore> core;
};

// Instances over one registry and one bucket prefix (a site).
struct Site {
  explicit Site(int count) : prefix("sr/" + core::random_hex(6) + "/"), s3(client()), shared(registry()) {
    for (int i = 0; i < count; ++i) instances.push_back(std::make_unique<Instance>(prefix, released, tokens, mutex));
  }
  UploadCore& core(std::size_t i) { return *instances[i % instances.size()]->core; }
  std::string upload_id(const std::string& identifier) {
    std::string id;
    REQUIRE(shared->find("alice", identifier, id));
    return id;
  }
  std::vector<std::uint8_t> object(const std::string& key) {
    std::string body;
    const StorageStatus got = s3->get_object(key, body);
    INFO(got.detail);
    REQUIRE(got);
    return std::vector<std::uint8_t>(body.begin(), body.end());
  }
  std::size_t multipart_uploads() {
    std::vector<S3MultipartInfo> uploads;
    REQUIRE(s3->list_multipart_uploads(prefix, uploads));
    return uploads.size();
  }
  std::size_t objects_under(const std::string& under) {
    std::vector<S3ObjectInfo> objects;
    REQUIRE(s3->list_objects(prefix + under, objects));
    return objects.size();
  }

  std::string prefix;
  std::unique_ptr<S3Client> s3;
  std::shared_ptr<UploadRegistry> shared;  // to look at the records as any instance would
  std::atomic<int> released{0};
  std::vector<std::string> tokens;
  std::mutex mutex;
  std::vector<std::unique_ptr<Instance>> instances;
};

// Pieces [offset, size) of a file: every one `piece` long, the last one taking the rest.
std::vector<std::pair<std::uint64_t, std::uint64_t>> cut(std::uint64_t total, std::uint64_t piece) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> pieces;
  for (std::uint64_t offset = 0; offset < total; offset += piece) {
    const bool last = total - offset < 2 * piece;  // resumable.js: the last chunk takes the rest
    pieces.emplace_back(offset, last ? total - offset : piece);
    if (last) break;
  }
  return pieces;
}

// What an instance that stores the last piece and records the release, then dies, leaves behind:
// the piece's bytes and record, and the registry's final record; no CompleteMultipartUpload.
FinalRecord store_last_piece_and_die(Site& site, const std::string& identifier, const std::vector<std::uint8_t>& file,
                                     std::uint64_t offset) {
  auto store = s3_store(site.prefix, registry());
  const std::string id = site.upload_id(identifier);
  RecordedUpload recorded;
  REQUIRE(store->open(id, recorded));
  const std::uint64_t size = file.size() - offset;
  REQUIRE(recorded.upload->prepare_piece(offset, size));
  REQUIRE(recorded.upload->write_at(offset, file.data() + offset, size));
  PieceRecord piece;
  piece.offset = offset;
  piece.size = size;
  piece.digest = *core::chunk_digest(std::span(file.data() + offset, size), offset, file.size());
  piece.first_leaf = offset / core::leaf_bytes;
  auto hasher = core::LeafHasher::starting_at(offset);
  REQUIRE(hasher);
  hasher->update(std::span(file.data() + offset, size), [&](const core::Leaf& leaf) { piece.leaves.push_back(leaf.digest); });
  hasher->finish([&](const core::Leaf& leaf) { piece.leaves.push_back(leaf.digest); });
  REQUIRE(recorded.upload->commit_piece(piece));
  FinalRecord final;
  final.token = core::random_hex(32);
  final.file_digest = core::file_digest(file);
  final.location = site.prefix + "files/" + id + ".bin";
  final.completed_unix = std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
  REQUIRE(site.shared->record_final(id, final));
  return final;
}

}  // namespace

TEST_CASE("S3 over the registry: pieces through three instances, status on each sees all, one release, claim once",
          "[scaleout][s3]") {
  // 8 MiB pieces (parts; the longer last one staged and copied inside S3) and 1 MiB pieces
  // (staged by different instances, combined into parts at release), each in a shuffled order.
  for (const std::uint64_t piece : {8 * MiB, MiB}) {
    Site site(3);
    const auto file = bytes_of(piece == MiB ? 11 * MiB + 4321 : 5 * piece + 3 * MiB + 99, static_cast<std::uint32_t>(piece));
    const std::string identifier = "three-" + core::random_hex(4);
    auto pieces = cut(file.size(), piece);
    std::shuffle(pieces.begin(), pieces.end(), std::mt19937(static_cast<std::uint32_t>(piece)));
    std::vector<PieceOutcome> outcomes;
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      outcomes.push_back(send(site.core(i), request_for(identifier, file, pieces[i].first, pieces[i].second), file));
      INFO("piece size " << piece << ", piece " << i << " at " << pieces[i].first << ": " << describe(outcomes.back()));
      if (i + 1 == pieces.size()) break;
      REQUIRE(std::holds_alternative<PieceStored>(outcomes.back()));
      for (std::size_t k = 0; k < 3; ++k) {
        const auto status = site.core(k).status("alice", identifier);
        REQUIRE(std::holds_alternative<UploadState>(status));
        CHECK(std::get<UploadState>(status).stored_pieces == i + 1);
      }
    }
    INFO("last piece: " << describe(outcomes.back()));
    REQUIRE(std::holds_alternative<FinalResult>(outcomes.back()));
    const auto final = std::get<FinalResult>(outcomes.back());
    CHECK(final.digest == core::file_digest(file));
    CHECK(site.released == 1);
    for (std::size_t k = 0; k < 3; ++k) {
      const auto status = site.core(k).status("alice", identifier);
      REQUIRE(std::holds_alternative<FinalResult>(status));
      CHECK(std::get<FinalResult>(status).token == final.token);
    }
    CHECK(site.multipart_uploads() == 0);
    const std::string id = site.upload_id(identifier);
    CHECK(site.objects_under("uploads/" + id + "/staged/") == 0);

    // Claimed once, on any instance; the object is the file sent; only the records go.
    auto claimed = site.core(2).claim(final.token, "alice");
    REQUIRE(std::holds_alternative<ClaimedUpload>(claimed));
    const std::string key = std::get<ClaimedUpload>(claimed).location;
    CHECK(key == site.prefix + "files/" + id + ".bin");
    CHECK(site.object(key) == file);
    CHECK(std::get<ErrorCode>(site.core(0).claim(final.token, "alice")) == ErrorCode::upload_not_found);
    CHECK(std::get<ErrorCode>(site.core(1).status("alice", identifier)) == ErrorCode::upload_not_found);
    CHECK(site.objects_under("uploads/") == 0);
  }
}

TEST_CASE("S3 over the registry: pieces of mixed sizes appended in order on alternating instances (tus)",
          "[scaleout][s3]") {
  // 6 MiB pieces and 2 MiB ones where a request ends: a 6 MiB piece after a 2 MiB one must be staged
  // (the 2 MiB cannot be a part of its own), which the instance storing it learns from the bucket.
  Site site(2);
  const std::vector<std::uint64_t> sizes{6 * MiB, 2 * MiB, 6 * MiB, 2 * MiB, 6 * MiB};
  std::uint64_t total = 0;
  for (const auto s : sizes) total += s;
  const auto file = bytes_of(total, 5);
  const std::string identifier = "tus-" + core::random_hex(4);
  std::uint64_t offset = 0;
  PieceOutcome last = ErrorCode::internal_error;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    last = send(site.core(i), request_for(identifier, file, offset, sizes[i]), file);
    INFO("piece " << i << ": " << describe(last));
    if (i + 1 < sizes.size()) REQUIRE(std::holds_alternative<PieceStored>(last));
    offset += sizes[i];
  }
  INFO("last piece: " << describe(last));
  REQUIRE(std::holds_alternative<FinalResult>(last));
  CHECK(site.released == 1);
  const std::string id = site.upload_id(identifier);
  CHECK(site.object(site.prefix + "files/" + id + ".bin") == file);
  CHECK(site.multipart_uploads() == 0);
}

TEST_CASE("S3 over the registry: the last pieces raced on two instances: one release, one token, a claim once",
          "[scaleout][s3]") {
  Site site(2);
  for (int round = 0; round < 6; ++round) {
    // Staged pieces (combined at release by both racers at once) and parts, round by round.
    const std::uint64_t piece = round % 2 == 0 ? MiB : 5 * MiB;
    const auto file = bytes_of(6 * piece, 100 + round);
    const std::string identifier = "race-" + core::random_hex(4);
    for (std::uint64_t i = 0; i < 4; ++i) {
      REQUIRE(std::holds_alternative<PieceStored>(send(site.core(i), request_for(identifier, file, i * piece, piece), file)));
    }
    const int before = site.released;
    PieceOutcome on_a = ErrorCode::internal_error;
    PieceOutcome on_b = ErrorCode::internal_error;
    std::barrier start(2);
    const std::uint64_t first = round % 4 < 2 ? 4 : 5;  // either racer may record last
    std::thread ta([&] {
      start.arrive_and_wait();
      on_a = send(site.core(0), request_for(identifier, file, first * piece, piece), file);
    });
    std::thread tb([&] {
      start.arrive_and_wait();
      on_b = send(site.core(1), request_for(identifier, file, (9 - first) * piece, piece), file);
    });
    ta.join();
    tb.join();
    INFO("round " << round << ": A " << describe(on_a) << ", B " << describe(on_b));
    CHECK_FALSE(std::holds_alternative<ErrorCode>(on_a));
    CHECK_FALSE(std::holds_alternative<ErrorCode>(on_b));
    const auto status_a = site.core(0).status("alice", identifier);
    const auto status_b = site.core(1).status("alice", identifier);
    REQUIRE(std::holds_alternative<FinalResult>(status_a));
    REQUIRE(std::holds_alternative<FinalResult>(status_b));
    const std::string token = std::get<FinalResult>(status_a).token;
    CHECK(std::get<FinalResult>(status_b).token == token);
    for (const auto* outcome : {&on_a, &on_b}) {
      if (auto* final = std::get_if<FinalResult>(outcome)) CHECK(final->token == token);
    }
    CHECK(site.released - before == 1);  // on_complete once, whichever instance released
    {
      std::lock_guard lock(site.mutex);
      CHECK(site.tokens.back() == token);
    }
    const std::string id = site.upload_id(identifier);
    const std::string key = site.prefix + "files/" + id + ".bin";
    CHECK(site.object(key) == file);

    std::variant<ErrorCode, ClaimedUpload> claim_a = ErrorCode::internal_error;
    std::variant<ErrorCode, ClaimedUpload> claim_b = ErrorCode::internal_error;
    std::barrier claim_start(2);
    std::thread ca([&] {
      claim_start.arrive_and_wait();
      claim_a = site.core(0).claim(token, "alice");
    });
    std::thread cb([&] {
      claim_start.arrive_and_wait();
      claim_b = site.core(1).claim(token, "alice");
    });
    ca.join();
    cb.join();
    CHECK(std::holds_alternative<ClaimedUpload>(claim_a) + std::holds_alternative<ClaimedUpload>(claim_b) == 1);
    CHECK(site.object(key) == file);  // the claim's removal leaves the application's object
  }
  CHECK(site.multipart_uploads() == 0);
  CHECK(site.objects_under("uploads/") == 0);
}

TEST_CASE("S3 over the registry: an instance dropped mid-upload; the upload completes through the other",
          "[scaleout][s3]") {
  Site site(2);
  const std::uint64_t piece = 5 * MiB;
  const auto file = bytes_of(5 * piece, 7);
  const std::string identifier = "dropped-" + core::random_hex(4);
  for (std::uint64_t i = 0; i < 2; ++i) {
    REQUIRE(std::holds_alternative<PieceStored>(send(site.core(0), request_for(identifier, file, i * piece, piece), file)));
  }
  {
    // The third piece half-received when instance A goes (its core and store destroyed).
    auto start = site.core(0).begin_piece("alice", request_for(identifier, file, 2 * piece, piece));
    REQUIRE(std::holds_alternative<PieceWriter>(start));
    std::get<PieceWriter>(start).write(std::span(file.data() + 2 * piece, piece / 2));
  }
  site.instances[0].reset();
  const auto status = site.instances[1]->core->status("alice", identifier);
  REQUIRE(std::holds_alternative<UploadState>(status));
  CHECK(std::get<UploadState>(status).stored_pieces == 2);
  PieceOutcome last = ErrorCode::internal_error;
  for (std::uint64_t i = 2; i < 5; ++i) last = send(*site.instances[1]->core, request_for(identifier, file, i * piece, piece), file);
  INFO(describe(last));
  REQUIRE(std::holds_alternative<FinalResult>(last));
  CHECK(site.released == 1);
  const std::string id = site.upload_id(identifier);
  CHECK(site.object(site.prefix + "files/" + id + ".bin") == file);
  CHECK(site.multipart_uploads() == 0);
}

TEST_CASE("S3 over the registry: an instance that dies right after recording the release; another completes it",
          "[scaleout][s3]") {
  Site site(2);
  // 1 MiB pieces: the staged ones are combined into parts by the instance that completes.
  const auto file = bytes_of(9 * MiB + 77, 8);
  const std::string identifier = "died-" + core::random_hex(4);
  const auto pieces = cut(file.size(), MiB);
  for (std::size_t i = 0; i + 1 < pieces.size(); ++i) {
    REQUIRE(std::holds_alternative<PieceStored>(
        send(site.core(i), request_for(identifier, file, pieces[i].first, pieces[i].second), file)));
  }
  const FinalRecord final = store_last_piece_and_die(site, identifier, file, pieces.back().first);
  CHECK(site.multipart_uploads() == 1);  // recorded as released, not completed
  // Status on the other instance finishes the completion and shows the recorded token.
  const auto status = site.core(1).status("alice", identifier);
  REQUIRE(std::holds_alternative<FinalResult>(status));
  CHECK(std::get<FinalResult>(status).token == final.token);
  CHECK(site.multipart_uploads() == 0);
  CHECK(site.object(final.location) == file);
  CHECK(site.released == 0);  // neither instance here released it
  // A second completion (status on the first instance) finds it done.
  const auto again = site.core(0).status("alice", identifier);
  REQUIRE(std::holds_alternative<FinalResult>(again));
  CHECK(std::get<FinalResult>(again).token == final.token);
  auto claimed = site.core(0).claim(final.token, "alice");
  REQUIRE(std::holds_alternative<ClaimedUpload>(claimed));
  CHECK(site.object(std::get<ClaimedUpload>(claimed).location) == file);
}

TEST_CASE("S3 over the registry: collection on one instance never removes an upload another is receiving",
          "[scaleout][s3]") {
  Site site(2);
  const std::uint64_t piece = MiB;
  const auto file = bytes_of(4 * piece, 33);
  const auto stale_after = instance_limits().stale_after;

  // B knows the upload from its first piece; every later piece goes to A.
  const std::string active = "active-" + core::random_hex(4);
  REQUIRE(std::holds_alternative<PieceStored>(send(site.core(1), request_for(active, file, 0, piece), file)));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  REQUIRE(std::holds_alternative<PieceStored>(send(site.core(0), request_for(active, file, piece, piece), file)));
  // And one that A has just started, which B has never seen.
  const std::string fresh = "fresh-" + core::random_hex(4);
  REQUIRE(std::holds_alternative<PieceStored>(send(site.core(0), request_for(fresh, file, 0, piece), file)));
  // B collects as if its clock were just short of stale_after past its first sight of `active`:
  // by B's view it is idle, by the registry's (A's pieces) it is not.
  const auto report = site.core(1).collect_stale(Clock::now() + stale_after - std::chrono::seconds(1));
  CHECK(report.stale_removed == 0);
  CHECK(site.multipart_uploads() == 2);  // neither multipart upload was aborted
  // A finishes `active`; the object is whole.
  PieceOutcome last = ErrorCode::internal_error;
  for (std::uint64_t i = 2; i < 4; ++i) last = send(site.core(0), request_for(active, file, i * piece, piece), file);
  INFO(describe(last));
  REQUIRE(std::holds_alternative<FinalResult>(last));
  CHECK(site.object(site.prefix + "files/" + site.upload_id(active) + ".bin") == file);

  // Past stale_after from its last piece, `fresh` goes, on B that never saw it: multipart upload
  // aborted, staged pieces deleted, records removed for every instance.
  const std::string fresh_id = site.upload_id(fresh);
  const auto later = site.core(1).collect_stale(Clock::now() + stale_after + std::chrono::seconds(5));
  CHECK(later.stale_removed == 1);
  CHECK(later.unclaimed_removed == 0);
  CHECK(site.multipart_uploads() == 0);
  CHECK(site.objects_under("uploads/" + fresh_id + "/") == 0);
  CHECK(std::get<ErrorCode>(site.core(0).status("alice", fresh)) == ErrorCode::upload_not_found);
  CHECK(std::holds_alternative<FinalResult>(site.core(0).status("alice", active)));
}

TEST_CASE("S3 over the registry: radosgw stopped for a moment: retryable, then the upload completes",
          "[scaleout][s3][retry]") {
  Site site(2);
  const std::uint64_t piece = 5 * MiB;
  const auto file = bytes_of(4 * piece, 9);
  const std::string identifier = "outage-" + core::random_hex(4);
  for (std::uint64_t i = 0; i < 2; ++i) {
    REQUIRE(std::holds_alternative<PieceStored>(send(site.core(i), request_for(identifier, file, i * piece, piece), file)));
  }
  fixture("rgw-stop");
  const auto refused = send(site.core(1), request_for(identifier, file, 2 * piece, piece), file);
  const auto during = site.core(0).status("alice", identifier);  // the records need no S3
  fixture("rgw-start");
  INFO(describe(refused));
  CHECK(std::get<ErrorCode>(refused) == ErrorCode::server_busy);
  REQUIRE(std::holds_alternative<UploadState>(during));
  CHECK(std::get<UploadState>(during).stored_pieces == 2);
  PieceOutcome last = ErrorCode::internal_error;
  for (std::uint64_t i = 2; i < 4; ++i) last = send(site.core(i), request_for(identifier, file, i * piece, piece), file);
  INFO(describe(last));
  REQUIRE(std::holds_alternative<FinalResult>(last));
  CHECK(site.object(site.prefix + "files/" + site.upload_id(identifier) + ".bin") == file);

  // Released by an instance that died before completing, and S3 down when another one is asked:
  // no token yet (retryable), so nothing can claim a file that is not there; then it completes.
  const auto small = bytes_of(3 * MiB, 10);
  const std::string second = "outage-release-" + core::random_hex(4);
  for (std::uint64_t i = 0; i < 2; ++i) {
    REQUIRE(std::holds_alternative<PieceStored>(send(site.core(0), request_for(second, small, i * MiB, MiB), small)));
  }
  REQUIRE(std::holds_alternative<UploadState>(site.core(1).status("alice", second)));  // B knows it
  const FinalRecord final = store_last_piece_and_die(site, second, small, 2 * MiB);
  fixture("rgw-stop");
  const auto busy = site.core(1).status("alice", second);
  fixture("rgw-start");
  INFO("status during the outage: " << (std::holds_alternative<FinalResult>(busy) ? "final" : "not final"));
  REQUIRE(std::holds_alternative<ErrorCode>(busy));
  CHECK(std::get<ErrorCode>(busy) == ErrorCode::server_busy);
  const auto done = site.core(1).status("alice", second);
  REQUIRE(std::holds_alternative<FinalResult>(done));
  CHECK(std::get<FinalResult>(done).token == final.token);
  CHECK(site.object(final.location) == small);
}

TEST_CASE("S3 over the registry: two instances completing one release at once both succeed, with one final record",
          "[scaleout][s3]") {
  // Store level, so that both completions surely overlap: 1 MiB pieces are staged, and each
  // releaser reads them back and sends them as parts while the other may complete and delete them.
  const std::string prefix = "sr/" + core::random_hex(6) + "/";
  auto s3 = client();
  for (int round = 0; round < 6; ++round) {
    const auto file = bytes_of(12 * MiB + 5, 200 + round);
    UploadManifest m;
    m.upload_id = core::random_hex(16);
    m.principal = "alice";
    m.identifier = "both-" + m.upload_id;
    m.file_name = "scan.bin";
    m.total_size = file.size();
    m.created_unix = 1700000000;
    auto first = s3_store(prefix, registry());
    auto second = s3_store(prefix, registry());
    std::unique_ptr<StoredUpload> on_first;
    REQUIRE(first->create(m, on_first));
    RecordedUpload on_second;
    REQUIRE(second->open(m.upload_id, on_second));
    for (std::uint64_t offset = 0; offset < file.size(); offset += MiB) {
      const std::uint64_t size = file.size() - offset < 2 * MiB ? file.size() - offset : MiB;
      StoredUpload& to = (offset / MiB) % 2 == 0 ? *on_first : *on_second.upload;
      REQUIRE(to.prepare_piece(offset, size));
      REQUIRE(to.write_at(offset, file.data() + offset, size));
      PieceRecord piece;
      piece.offset = offset;
      piece.size = size;
      piece.digest.fill(static_cast<std::uint8_t>(offset / MiB));
      piece.first_leaf = offset / MiB;
      REQUIRE(to.commit_piece(piece));
      if (size != MiB) break;
    }
    FinalRecord final_a;
    final_a.token = core::random_hex(32);
    FinalRecord final_b;
    final_b.token = core::random_hex(32);
    StorageStatus released_a, released_b;
    std::barrier start(2);
    std::thread ta([&] {
      start.arrive_and_wait();
      released_a = on_first->release(final_a);
    });
    std::thread tb([&] {
      start.arrive_and_wait();
      released_b = on_second.upload->release(final_b);
    });
    ta.join();
    tb.join();
    INFO("round " << round << ": " << released_a.detail << " / " << released_b.detail);
    CHECK(released_a);
    CHECK(released_b);
    CHECK(final_a.token == final_b.token);  // one final record, whichever was first
    std::string object;
    REQUIRE(s3->get_object(final_a.location, object));
    CHECK(std::equal(object.begin(), object.end(), file.begin(), file.end(),
                     [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; }));
    REQUIRE(first->remove(m.upload_id, true));
  }
  std::vector<S3MultipartInfo> open_uploads;
  REQUIRE(s3->list_multipart_uploads(prefix, open_uploads));
  CHECK(open_uploads.empty());
}
