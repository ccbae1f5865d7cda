// The PostgreSQL registry against a real PostgreSQL (tests/support/postgres_fixture.sh starts one
// and sets RESUMABLE_PG_CONNINFO): the registry's contract, then two upload cores over one registry
// and one shared data directory, as two instances behind a load balancer would be.
#include <catch2/catch.hpp>
#include <libpq-fe.h>

#include <atomic>
#include <barrier>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "resumable/filesystem_store.h"
#include "resumable/postgresql_registry.h"
#include "resumable/secure_random.h"
#include "resumable/tree_digest.h"
#include "resumable/upload_core.h"
#include "core_requests.h"

using namespace resumable;
using scaleout::describe;
using scaleout::request_for;
using scaleout::send;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::system_clock;

std::string conninfo() {
  const char* value = std::getenv("RESUMABLE_PG_CONNINFO");
  if (value == nullptr) FAIL("RESUMABLE_PG_CONNINFO is not set: run through tests/support/postgres_fixture.sh");
  return value;
}

std::shared_ptr<UploadRegistry> registry(std::size_t connections = 4, const std::string& info = conninfo()) {
  std::string error;
  PostgresqlRegistryOptions options;
  options.conninfo = info;
  options.max_connections = connections;
  auto made = make_postgresql_registry(options, &error);
  INFO(error);
  REQUIRE(made);
  return made;
}

// SQL outside the registry, to look at or damage its rows as another program could.
struct Sql {
  explicit Sql(const std::string& info = conninfo()) : connection(PQconnectdb(info.c_str())) {
    REQUIRE(PQstatus(connection) == CONNECTION_OK);
  }
  ~Sql() { PQfinish(connection); }
  std::string run(const std::string& sql) {
    PGresult* result = PQexec(connection, sql.c_str());
    const auto status = PQresultStatus(result);
    INFO(sql << ": " << PQresultErrorMessage(result));
    CHECK((status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK));
    std::string first = status == PGRES_TUPLES_OK && PQntuples(result) > 0 ? PQgetvalue(result, 0, 0) : "";
    PQclear(result);
    return first;
  }
  // Ends the registries' connections (as a server restart or a failover would) and waits until
  // they are gone.
  void drop_registry_connections() {
    run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'resumable'");
    for (int i = 0; i < 100 && run("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'resumable'") != "0"; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  PGconn* connection;
};

std::vector<std::uint8_t> bytes_of(std::size_t size, std::uint32_t seed) {
  std::vector<std::uint8_t> bytes(size);
  std::mt19937 random(seed);
  for (auto& b : bytes) b = static_cast<std::uint8_t>(random());
  return bytes;
}

UploadManifest manifest_named(const std::string& identifier, std::uint64_t size = 3 * core::leaf_bytes) {
  UploadManifest m;
  m.upload_id = core::random_hex(16);
  m.principal = "alice";
  m.identifier = identifier;
  m.file_name = "report.pdf";
  m.mime_type = "application/pdf";
  m.total_size = size;
  m.protocol_fields = {{"chunkSize", "1048576"}, {"name\xff", "odd \xfe bytes"}};
  m.created_unix = 1'700'000'000;
  return m;
}

PieceRecord piece_of(const std::vector<std::uint8_t>& file, std::uint64_t offset, std::uint64_t size) {
  PieceRecord piece;
  piece.offset = offset;
  piece.size = size;
  piece.digest = *core::chunk_digest(std::span(file.data() + offset, size), offset, file.size());
  piece.first_leaf = offset / core::leaf_bytes;
  for (std::uint64_t at = offset; at < offset + size; at += core::leaf_bytes) {
    const auto n = std::min<std::uint64_t>(core::leaf_bytes, file.size() - at);
    piece.leaves.push_back(core::blake2b256(file.data() + at, n));  // any 32 bytes: the registry keeps them as given
  }
  return piece;
}

FinalRecord final_with(const std::string& token) {
  FinalRecord final;
  final.token = token;
  final.file_digest = core::blake2b256(token.data(), token.size());
  final.location = "/files/" + token;
  final.completed_unix = 1'700'000'100;
  return final;
}

std::string unique(const std::string& name) { return name + "-" + core::random_hex(4); }

}  // namespace

TEST_CASE("registry: an upload is created once per name, opened, found, listed and removed", "[scaleout]") {
  auto r = registry();
  const auto m = manifest_named(unique("create"));
  REQUIRE(r->create(m));
  auto again = manifest_named(m.identifier);
  CHECK(r->create(again).code == StorageCode::conflict);  // same principal and identifier: one upload

  std::string id;
  REQUIRE(r->find("alice", m.identifier, id));
  CHECK(id == m.upload_id);
  CHECK(r->find("bob", m.identifier, id).code == StorageCode::not_found);  // names are per principal

  UploadRecords records;
  REQUIRE(r->open(m.upload_id, records));
  CHECK(records.manifest.identifier == m.identifier);
  CHECK(records.manifest.total_size == m.total_size);
  CHECK(records.manifest.protocol_fields.at("chunkSize") == "1048576");
  CHECK(records.manifest.protocol_fields.size() == 2);  // bytes that are not UTF-8 survive as replacements
  CHECK(records.pieces.empty());
  CHECK_FALSE(records.final);
  const auto age = Clock::now() - records.last_activity;
  CHECK(age < std::chrono::seconds(30));
  CHECK(age > -std::chrono::seconds(30));

  auto declared = m;
  declared.declared_file_digest = core::blake2b256("x", 1);
  REQUIRE(r->update_manifest(declared));
  REQUIRE(r->open(m.upload_id, records));
  REQUIRE(records.manifest.declared_file_digest);
  CHECK(*records.manifest.declared_file_digest == *declared.declared_file_digest);

  std::vector<std::string> ids;
  REQUIRE(r->list(ids));
  CHECK(std::find(ids.begin(), ids.end(), m.upload_id) != ids.end());

  REQUIRE(r->remove(m.upload_id));
  CHECK(r->open(m.upload_id, records).code == StorageCode::not_found);
  CHECK(r->remove(m.upload_id));  // gone already: success
  CHECK(r->create(again));        // the name is free again
}

TEST_CASE("registry: piece records round-trip with their leaf digests; a retry is a duplicate, other bytes conflict",
          "[scaleout]") {
  auto r = registry();
  const auto file = bytes_of(3 * core::leaf_bytes, 7);
  const auto m = manifest_named(unique("pieces"), file.size());
  REQUIRE(r->create(m));
  const auto second = piece_of(file, core::leaf_bytes, 2 * core::leaf_bytes);
  const auto first = piece_of(file, 0, core::leaf_bytes);
  REQUIRE(r->record_piece(m.upload_id, second));
  REQUIRE(r->record_piece(m.upload_id, first));
  REQUIRE(r->record_piece(m.upload_id, second));  // the same record again (a retry, another instance)

  UploadRecords records;
  REQUIRE(r->open(m.upload_id, records));
  REQUIRE(records.pieces.size() == 2);
  CHECK(records.pieces[0].offset == 0);  // ascending offsets
  CHECK(records.pieces[1].offset == second.offset);
  CHECK(records.pieces[1].size == second.size);
  CHECK(records.pieces[1].digest == second.digest);
  CHECK(records.pieces[1].first_leaf == second.first_leaf);
  CHECK(records.pieces[1].leaves == second.leaves);

  auto other = second;
  other.digest = core::blake2b256("other", 5);
  CHECK(r->record_piece(m.upload_id, other).code == StorageCode::conflict);
  REQUIRE(r->open(m.upload_id, records));
  CHECK(records.pieces[1].digest == second.digest);  // the first record stays

  REQUIRE(r->remove(m.upload_id));
  CHECK(r->record_piece(m.upload_id, first).code == StorageCode::not_found);
}

TEST_CASE("registry: a torn or damaged piece record is refused as corrupt, not served", "[scaleout]") {
  auto r = registry();
  const auto file = bytes_of(2 * core::leaf_bytes, 8);
  const auto m = manifest_named(unique("torn"), file.size());
  REQUIRE(r->create(m));
  REQUIRE(r->record_piece(m.upload_id, piece_of(file, 0, 2 * core::leaf_bytes)));
  Sql sql;
  // Leaves cut inside a digest, as a torn write of the column would leave them.
  sql.run("UPDATE resumable_pieces SET leaves = substring(leaves from 1 for 45) WHERE upload_id = '" + m.upload_id + "'");
  UploadRecords records;
  CHECK(r->open(m.upload_id, records).code == StorageCode::corrupt);
  sql.run("UPDATE resumable_pieces SET leaves = ''::bytea, digest = '\\x00'::bytea WHERE upload_id = '" + m.upload_id + "'");
  CHECK(r->open(m.upload_id, records).code == StorageCode::corrupt);  // a digest that is not 32 bytes
}

TEST_CASE("registry: the first final record wins, exactly once, among racing instances", "[scaleout]") {
  auto r = registry(8);
  const auto m = manifest_named(unique("final"));
  REQUIRE(r->create(m));
  constexpr int racers = 8;
  std::vector<FinalRecord> finals;
  for (int i = 0; i < racers; ++i) finals.push_back(final_with(core::random_hex(32)));
  const auto mine = finals;
  std::vector<StorageStatus> results(racers);
  std::barrier start(racers);
  std::vector<std::thread> threads;
  for (int i = 0; i < racers; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      results[i] = r->record_final(m.upload_id, finals[i]);
    });
  }
  for (auto& t : threads) t.join();
  int kept_own = 0;
  for (int i = 0; i < racers; ++i) {
    REQUIRE(results[i]);
    kept_own += finals[i].token == mine[i].token;
    CHECK(finals[i].token == finals[0].token);  // everyone reads the one recorded
    CHECK(finals[i].location == finals[0].location);
  }
  CHECK(kept_own == 1);
  UploadRecords records;
  REQUIRE(r->open(m.upload_id, records));
  REQUIRE(records.final);
  CHECK(records.final->token == finals[0].token);
}

TEST_CASE("registry: a token is claimed once, by its principal only, among racing instances", "[scaleout]") {
  auto r = registry(8);
  const auto m = manifest_named(unique("claim"));
  REQUIRE(r->create(m));
  auto final = final_with(core::random_hex(32));
  REQUIRE(r->record_final(m.upload_id, final));
  UploadRecords out;
  CHECK(r->claim(final.token, "mallory", out).code == StorageCode::not_found);
  constexpr int racers = 8;
  std::atomic<int> claimed{0};
  std::atomic<int> refused{0};
  std::barrier start(racers);
  std::vector<std::thread> threads;
  for (int i = 0; i < racers; ++i) {
    threads.emplace_back([&] {
      UploadRecords records;
      start.arrive_and_wait();
      const auto status = r->claim(final.token, "alice", records);
      if (status) {
        ++claimed;
        CHECK(records.final->location == final.location);
        CHECK(records.manifest.upload_id == m.upload_id);
      } else if (status.code == StorageCode::not_found) {
        ++refused;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(claimed == 1);
  CHECK(refused == racers - 1);
  UploadRecords records;
  CHECK(r->open(m.upload_id, records).code == StorageCode::not_found);  // the records went with the claim
}

TEST_CASE("registry: collection retires only what is idle by the registry's own records", "[scaleout]") {
  auto r = registry();
  const auto file = bytes_of(core::leaf_bytes, 9);
  const auto m = manifest_named(unique("idle"), file.size());
  REQUIRE(r->create(m));
  const auto now = Clock::now();
  const auto hour = std::chrono::hours(1);
  // Active a moment ago: not idle, however old the collector's own view of it.
  CHECK(r->retire_idle(m.upload_id, now - hour, now - hour).code == StorageCode::conflict);
  REQUIRE(r->record_piece(m.upload_id, piece_of(file, 0, file.size())));
  CHECK(r->retire_idle(m.upload_id, now - hour, now + hour).code == StorageCode::conflict);  // unfinished: its cutoff
  REQUIRE(r->retire_idle(m.upload_id, Clock::now() + hour, now - hour));
  // Retired: gone for everyone, still readable for the remover, once.
  std::string id;
  CHECK(r->find("alice", m.identifier, id).code == StorageCode::not_found);
  CHECK(r->record_piece(m.upload_id, piece_of(file, 0, file.size())).code == StorageCode::not_found);
  UploadRecords records;
  CHECK(r->open(m.upload_id, records));
  CHECK(r->retire_idle(m.upload_id, Clock::now() + hour, Clock::now() + hour).code == StorageCode::not_found);
  CHECK(r->create(manifest_named(m.identifier)));  // a new upload of the same name may start meanwhile

  // A finished upload is idle by its own cutoff, and a claim and a collection of it never both win.
  const auto done = manifest_named(unique("done"));
  REQUIRE(r->create(done));
  auto final = final_with(core::random_hex(32));
  REQUIRE(r->record_final(done.upload_id, final));
  CHECK(r->retire_idle(done.upload_id, Clock::now() + hour, now - hour).code == StorageCode::conflict);
  REQUIRE(r->retire_idle(done.upload_id, now - hour, Clock::now() + hour));
  CHECK(r->claim(final.token, "alice", records).code == StorageCode::not_found);
}

TEST_CASE("registry: the schema is versioned; a newer one is refused clearly", "[scaleout]") {
  registry();  // the schema exists now
  registry();  // and a second instance starting later takes it as it is
  Sql sql;
  const std::string db = "resumable_" + core::random_hex(4);
  sql.run("CREATE DATABASE " + db);
  std::string info = conninfo();
  info = info.substr(0, info.rfind('/') + 1) + db;
  registry(1, info);
  Sql other(info);
  CHECK(other.run("SELECT max(version) FROM resumable_schema") == "1");
  other.run("INSERT INTO resumable_schema VALUES (2)");
  PostgresqlRegistryOptions options;
  options.conninfo = info;
  std::string error;
  CHECK_FALSE(make_postgresql_registry(options, &error));
  CHECK(error.find("version 2") != std::string::npos);
}

TEST_CASE("registry: a lost connection is retryable; the next statement gets a fresh one", "[scaleout]") {
  PostgresqlRegistryOptions options;
  options.conninfo = "postgresql://resumable@127.0.0.1:1/none";  // nothing listens
  options.connect_timeout = std::chrono::seconds(2);
  std::string error;
  CHECK_FALSE(make_postgresql_registry(options, &error));
  CHECK_FALSE(error.empty());

  auto r = registry(1);
  const auto m = manifest_named(unique("dropped"));
  REQUIRE(r->create(m));
  Sql sql;
  sql.drop_registry_connections();
  auto changed = m;
  changed.file_name = "changed.pdf";
  // A write is not tried again (the client retries it): unavailable, a retryable failure.
  const auto first = r->update_manifest(changed);
  CHECK(first.code == StorageCode::unavailable);
  REQUIRE(r->update_manifest(changed));  // a fresh connection
  UploadRecords records;
  REQUIRE(r->open(m.upload_id, records));
  CHECK(records.manifest.file_name == "changed.pdf");
  // A read is tried once more on a fresh connection by itself.
  sql.drop_registry_connections();
  CHECK(r->open(m.upload_id, records));
}

// ---- Two instances: two upload cores, one registry each (as two processes would have), over one
// shared data directory.

namespace {

UploadLimits instance_limits() {
  UploadLimits limits;
  limits.io_buffer_bytes = 64 * 1024;
  limits.io_buffers = 4;
  limits.write_threads = 2;
  limits.chunk_wait = std::chrono::milliseconds(2000);
  return limits;
}

struct Instance {
  Instance(const fs::path& root, std::atomic<int>& released, std::vector<std::string>& tokens, std::mutex& mutex) {
    FilesystemStoreOptions options;
    options.chunk_dir = root / "chunks";
    options.upload_to = root / "files";
    options.durable = false;
    options.registry = registry();
    std::string error;
    store = make_filesystem_store(options, &error);
    INFO(error);
    REQUIRE(store);
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

struct TwoInstances {
  TwoInstances() : root(fs::temp_directory_path() / ("resumable-scaleout-" + core::random_hex(6))) {
    a = std::make_unique<Instance>(root, released, tokens, mutex);
    b = std::make_unique<Instance>(root, released, tokens, mutex);
  }
  ~TwoInstances() {
    a.reset();
    b.reset();
    std::error_code ignored;
    fs::remove_all(root, ignored);
  }
  fs::path root;
  std::atomic<int> released{0};
  std::vector<std::string> tokens;
  std::mutex mutex;
  std::unique_ptr<Instance> a;
  std::unique_ptr<Instance> b;
};

std::vector<std::uint8_t> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("two instances: pieces sent alternately to both, status on each sees all, one release", "[scaleout]") {
  TwoInstances two;
  // 1.5 MiB pieces: leaves span pieces that arrived on different instances.
  const std::uint64_t piece = core::leaf_bytes * 3 / 2;
  const auto file = bytes_of(8 * piece + 12345, 21);
  const std::string id = unique("alternate");
  std::vector<PieceOutcome> outcomes;
  std::uint64_t offset = 0;
  for (int i = 0; offset < file.size(); ++i, offset += piece) {
    const auto size = std::min<std::uint64_t>(piece, file.size() - offset);
    UploadCore& to = i % 2 == 0 ? *two.a->core : *two.b->core;
    outcomes.push_back(send(to, request_for(id, file, offset, size), file));
    if (offset + size < file.size()) {
      INFO("piece " << i << ": " << describe(outcomes.back()));
      REQUIRE(std::holds_alternative<PieceStored>(outcomes.back()));
      // Either instance's status shows every piece stored so far, whichever took it.
      for (UploadCore* core : {two.a->core.get(), two.b->core.get()}) {
        const auto status = core->status("alice", id);
        REQUIRE(std::holds_alternative<UploadState>(status));
        const auto& state = std::get<UploadState>(status);
        CHECK(state.stored_pieces == static_cast<std::uint64_t>(i + 1));
        CHECK(state.stored_bytes == offset + size);
        CHECK(state.contiguous_bytes == offset + size);
      }
    }
  }
  INFO("last piece: " << describe(outcomes.back()));
  REQUIRE(std::holds_alternative<FinalResult>(outcomes.back()));
  const auto final = std::get<FinalResult>(outcomes.back());
  CHECK(final.digest == core::file_digest(file));
  CHECK(two.released == 1);
  // The other instance answers with the same final result.
  const auto other = two.a->core->status("alice", id);
  REQUIRE(std::holds_alternative<FinalResult>(other));
  CHECK(std::get<FinalResult>(other).token == final.token);

  // Claimed once, on either instance; the file is the one sent.
  auto claimed = two.a->core->claim(final.token, "alice");
  REQUIRE(std::holds_alternative<ClaimedUpload>(claimed));
  CHECK(read_file(std::get<ClaimedUpload>(claimed).location) == file);
  CHECK(std::get<ErrorCode>(two.b->core->claim(final.token, "alice")) == ErrorCode::upload_not_found);
  CHECK(std::holds_alternative<ErrorCode>(two.b->core->status("alice", id)));  // gone on both
}

TEST_CASE("two instances: the last pieces raced on both give exactly one release and one token", "[scaleout]") {
  TwoInstances two;
  const std::uint64_t piece = core::leaf_bytes;
  for (int round = 0; round < 12; ++round) {
    const auto file = bytes_of(6 * piece, 100 + round);
    const std::string id = unique("race");
    for (std::uint64_t i = 0; i < 4; ++i) {
      REQUIRE(std::holds_alternative<PieceStored>(
          send(i % 2 == 0 ? *two.a->core : *two.b->core, request_for(id, file, i * piece, piece), file)));
    }
    const int before = two.released;
    PieceOutcome on_a = ErrorCode::internal_error;
    PieceOutcome on_b = ErrorCode::internal_error;
    std::barrier start(2);
    // Round by round the racers swap pieces, so that either may record last.
    const std::uint64_t first = round % 2 == 0 ? 4 : 5;
    std::thread ta([&] {
      start.arrive_and_wait();
      on_a = send(*two.a->core, request_for(id, file, first * piece, piece), file);
    });
    std::thread tb([&] {
      start.arrive_and_wait();
      on_b = send(*two.b->core, request_for(id, file, (9 - first) * piece, piece), file);
    });
    ta.join();
    tb.join();
    INFO("round " << round << ": A " << describe(on_a) << ", B " << describe(on_b));
    // Neither failed, at least one answered with the final result, and both instances now agree.
    CHECK_FALSE(std::holds_alternative<ErrorCode>(on_a));
    CHECK_FALSE(std::holds_alternative<ErrorCode>(on_b));
    CHECK((std::holds_alternative<FinalResult>(on_a) || std::holds_alternative<FinalResult>(on_b)));
    const auto status_a = two.a->core->status("alice", id);
    const auto status_b = two.b->core->status("alice", id);
    REQUIRE(std::holds_alternative<FinalResult>(status_a));
    REQUIRE(std::holds_alternative<FinalResult>(status_b));
    const std::string token = std::get<FinalResult>(status_a).token;
    CHECK(std::get<FinalResult>(status_b).token == token);
    for (const auto* outcome : {&on_a, &on_b}) {
      if (auto* final = std::get_if<FinalResult>(outcome)) CHECK(final->token == token);
    }
    CHECK(two.released - before == 1);  // one release, whichever instance made it
    std::lock_guard lock(two.mutex);
    CHECK(two.tokens.back() == token);
  }
}

TEST_CASE("two instances: collection on one never removes an upload active or released on the other", "[scaleout]") {
  TwoInstances two;
  const std::uint64_t piece = core::leaf_bytes;
  const auto file = bytes_of(4 * piece, 33);
  const auto stale_after = instance_limits().stale_after;
  const auto unclaimed_after = instance_limits().unclaimed_after;

  // B knows the upload from its first piece; every later piece goes to A.
  const std::string active = unique("active");
  REQUIRE(std::holds_alternative<PieceStored>(send(*two.b->core, request_for(active, file, 0, piece), file)));
  // A released file waiting for its claim, which B last saw unfinished.
  const std::string released = unique("released");
  REQUIRE(std::holds_alternative<PieceStored>(send(*two.b->core, request_for(released, file, 0, piece), file)));
  for (std::uint64_t i = 1; i < 4; ++i) send(*two.a->core, request_for(released, file, i * piece, piece), file);
  REQUIRE(two.released == 1);
  // B collects as if its clock were just past stale_after since it saw `active`, while A's pieces
  // of it keep arriving: B's own view says idle, the registry's records do not.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  REQUIRE(std::holds_alternative<PieceStored>(send(*two.a->core, request_for(active, file, piece, piece), file)));
  // And an upload that A has just started, which B has never seen.
  const std::string abandoned = unique("abandoned");
  REQUIRE(std::holds_alternative<PieceStored>(send(*two.a->core, request_for(abandoned, file, 0, piece), file)));
  const auto report = two.b->core->collect_stale(Clock::now() + stale_after - std::chrono::seconds(1));
  CHECK(report.stale_removed == 0);
  CHECK(report.unclaimed_removed == 0);
  for (const auto& identifier : {active, released, abandoned}) {
    INFO(identifier);
    CHECK_FALSE(std::holds_alternative<ErrorCode>(two.a->core->status("alice", identifier)));
  }
  // Past stale_after from every upload's last activity: the abandoned and the active one go (on
  // whichever instance collects), the released one waits for its claim until unclaimed_after.
  const auto later = two.b->core->collect_stale(Clock::now() + stale_after + std::chrono::seconds(5));
  CHECK(later.stale_removed == 2);
  CHECK(later.unclaimed_removed == 0);
  CHECK(std::get<ErrorCode>(two.a->core->status("alice", abandoned)) == ErrorCode::upload_not_found);
  const auto waiting = two.a->core->status("alice", released);
  REQUIRE(std::holds_alternative<FinalResult>(waiting));
  const auto last = two.b->core->collect_stale(Clock::now() + unclaimed_after + std::chrono::seconds(5));
  CHECK(last.unclaimed_removed == 1);
  CHECK(std::get<ErrorCode>(two.a->core->claim(std::get<FinalResult>(waiting).token, "alice")) ==
        ErrorCode::upload_not_found);
}

TEST_CASE("two instances: a body still arriving on one is not collected by the other; collected anyway, it ends as upload_not_found",
          "[scaleout]") {
  TwoInstances two;
  const std::uint64_t piece = core::leaf_bytes;
  const auto file = bytes_of(2 * piece, 51);
  const auto stale_after = instance_limits().stale_after;
  const std::string slow = unique("slow");
  REQUIRE(std::holds_alternative<PieceStored>(send(*two.b->core, request_for(slow, file, 0, piece), file)));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  // A's second piece starts 1.5 s after the upload's last stored piece, and its body is still
  // arriving when B collects as if a second were left before stale_after since that piece: only
  // the body's own activity keeps the upload alive.
  auto start = two.a->core->begin_piece("alice", request_for(slow, file, piece, piece));
  REQUIRE(std::holds_alternative<PieceWriter>(start));
  auto& writer = std::get<PieceWriter>(start);
  REQUIRE(writer.write(std::span(file.data() + piece, piece / 2)));
  const auto report = two.b->core->collect_stale(Clock::now() + stale_after - std::chrono::seconds(1));
  CHECK(report.stale_removed == 0);
  REQUIRE(writer.write(std::span(file.data() + piece + piece / 2, piece / 2)));
  const auto outcome = writer.finish();
  INFO(describe(outcome));
  CHECK(std::holds_alternative<FinalResult>(outcome));
  CHECK(two.released == 1);

  // Collected past every cutoff while a body arrives on A: A's piece is refused as the upload
  // being gone (the client starts over), never a server error, and nothing is released.
  const std::string gone = unique("gone");
  REQUIRE(std::holds_alternative<PieceStored>(send(*two.b->core, request_for(gone, file, 0, piece), file)));
  auto late = two.a->core->begin_piece("alice", request_for(gone, file, piece, piece));
  REQUIRE(std::holds_alternative<PieceWriter>(late));
  auto& late_writer = std::get<PieceWriter>(late);
  late_writer.write(std::span(file.data() + piece, piece / 2));
  CHECK(two.b->core->collect_stale(Clock::now() + stale_after + std::chrono::hours(1)).stale_removed == 1);
  late_writer.write(std::span(file.data() + piece + piece / 2, piece / 2));
  const auto late_outcome = late_writer.finish();
  INFO(describe(late_outcome));
  REQUIRE(std::holds_alternative<ErrorCode>(late_outcome));
  CHECK(std::get<ErrorCode>(late_outcome) == ErrorCode::upload_not_found);
  CHECK(two.released == 1);
}

TEST_CASE("two instances: a claim raced on both succeeds once", "[scaleout]") {
  TwoInstances two;
  const auto file = bytes_of(2 * core::leaf_bytes, 44);
  const std::string id = unique("claim-race");
  send(*two.a->core, request_for(id, file, 0, core::leaf_bytes), file);
  const auto outcome = send(*two.b->core, request_for(id, file, core::leaf_bytes, core::leaf_bytes), file);
  REQUIRE(std::holds_alternative<FinalResult>(outcome));
  const auto token = std::get<FinalResult>(outcome).token;
  REQUIRE(std::holds_alternative<FinalResult>(two.a->core->status("alice", id)));  // both know the token
  std::variant<ErrorCode, ClaimedUpload> on_a = ErrorCode::internal_error;
  std::variant<ErrorCode, ClaimedUpload> on_b = ErrorCode::internal_error;
  std::barrier start(2);
  std::thread ta([&] {
    start.arrive_and_wait();
    on_a = two.a->core->claim(token, "alice");
  });
  std::thread tb([&] {
    start.arrive_and_wait();
    on_b = two.b->core->claim(token, "alice");
  });
  ta.join();
  tb.join();
  CHECK(std::holds_alternative<ClaimedUpload>(on_a) + std::holds_alternative<ClaimedUpload>(on_b) == 1);
  const auto& won = std::holds_alternative<ClaimedUpload>(on_a) ? on_a : on_b;
  REQUIRE(std::holds_alternative<ClaimedUpload>(won));
  CHECK(read_file(std::get<ClaimedUpload>(won).location) == file);
}
