// The demo's stores over both engines (database.h): every case runs once over a SQLite file and
// once over the PostgreSQL of tests/support/postgres_fixture.sh (RESUMABLE_PG_CONNINFO; a fresh
// schema per case), with two connections where two demo instances would race.
#include <catch2/catch.hpp>

#include <sodium.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "resumable/tree_digest.h"
#include "src/account_store.h"
#include "src/database.h"
#include "src/document_store.h"
#include "src/postgresql_database.h"
#include "src/session_store.h"

namespace fs = std::filesystem;
using namespace resumable::demo;

namespace {

std::string random_suffix() {
  std::random_device random;
  return std::to_string(random()) + std::to_string(random());
}

// Opens connections to one database of the engine under test; each one is what one demo
// instance would hold.
class Engine {
 public:
  explicit Engine(Database::Engine engine) : engine_(engine) {
    if (engine_ == Database::Engine::sqlite) {
      dir_ = fs::temp_directory_path() / ("rsm-demo-engines-" + random_suffix());
      fs::create_directories(dir_);
      return;
    }
    const char* conninfo = std::getenv("RESUMABLE_PG_CONNINFO");
    if (conninfo == nullptr) FAIL("RESUMABLE_PG_CONNINFO is not set: run under tests/support/postgres_fixture.sh");
    // A schema of its own per case: every case starts from an empty database.
    schema_ = "demo_case_" + random_suffix();
    conninfo_ = std::string(conninfo) + "?options=-csearch_path%3D" + schema_;
    PostgresqlDatabase(conninfo).execute("CREATE SCHEMA " + schema_);
  }
  ~Engine() {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }
  std::unique_ptr<Database> connect() const {
    if (engine_ == Database::Engine::sqlite) return std::make_unique<SqliteDatabase>(dir_ / "demo.sqlite3");
    return std::make_unique<PostgresqlDatabase>(conninfo_);
  }

 private:
  Database::Engine engine_;
  fs::path dir_;
  std::string schema_;
  std::string conninfo_;
};

StoredFile file_named(const std::string& stored_name, std::uint64_t size = 3) {
  return StoredFile{"plan.bin", stored_name, size, std::string(64, 'a'), resumable::core::tree_digest_name, 200};
}

}  // namespace

TEST_CASE("demo stores over both engines: documents, accounts and sessions behave the same", "[demo][engines]") {
  REQUIRE(sodium_init() >= 0);
  const auto engine = GENERATE(Database::Engine::sqlite, Database::Engine::postgresql);
  CAPTURE(engine == Database::Engine::sqlite ? "sqlite" : "postgresql");
  Engine database_engine(engine);
  const auto first = database_engine.connect();
  const auto second = database_engine.connect();  // another instance
  AccountStore accounts(*first);
  SessionStore sessions(*first, std::chrono::hours(1), std::chrono::hours(1));
  DocumentStore documents(*first);
  AccountStore other_accounts(*second);  // schema creation again: nothing to do
  SessionStore other_sessions(*second, std::chrono::hours(1), std::chrono::hours(1));
  DocumentStore other_documents(*second);

  SECTION("a document saved through one connection is found, listed, edited and deleted through the other") {
    const auto big = std::uint64_t{5} << 30;  // past 32 bits: the size column is BIGINT
    const auto id = documents.create({"Plan", "v1"}, file_named("aaaa", big));
    const auto second_id = documents.create({"Note", ""}, std::nullopt);
    CHECK(second_id > id);
    const auto found = other_documents.find(id);
    REQUIRE(found);
    CHECK(found->text.title == "Plan");
    REQUIRE(found->file);
    CHECK(found->file->size == big);
    CHECK(other_documents.list().size() == 2);
    CHECK(other_documents.list().front().id == second_id);  // newest first

    const auto replaced = other_documents.update(id, {"Plan", "v2"}, file_named("bbbb"));
    CHECK(replaced.found);
    CHECK(replaced.released_stored_name == "aaaa");
    CHECK(documents.find(id)->file->stored_name == "bbbb");
    CHECK(documents.update(id, {"Plan", "v3"}, KeepFile{}).released_stored_name == std::nullopt);
    CHECK(documents.find(id)->text.description == "v3");
    CHECK(documents.stored_names() == std::vector<std::string>{"bbbb"});

    const auto removed = other_documents.remove(id);
    CHECK(removed.found);
    CHECK(removed.released_stored_name == "bbbb");
    CHECK_FALSE(documents.remove(id).found);
    CHECK_FALSE(documents.update(id, {"x", ""}, ClearFile{}).found);
  }

  SECTION("an admin made on one connection logs in on the other; a session started on one is found on the other") {
    CHECK(accounts.save("alice", "password-1") == AccountStore::Saved::created);
    CHECK_FALSE(other_accounts.create_if_absent("alice", "password-2"));
    CHECK(other_accounts.save("alice", "password-3") == AccountStore::Saved::password_changed);
    const auto admin = accounts.verify("alice", "password-3");
    REQUIRE(admin);
    CHECK_FALSE(accounts.verify("alice", "password-1"));
    CHECK(other_accounts.any());

    const auto session = sessions.start_admin(*admin);
    const auto found = other_sessions.find(session.cookie_value);
    REQUIRE(found);
    CHECK(found->csrf_token == session.csrf_token);
    REQUIRE(found->admin);
    CHECK(found->admin->name == "alice");
    other_sessions.end(session.cookie_value);
    CHECK_FALSE(sessions.find(session.cookie_value));
    CHECK(sessions.remove_expired() == 0);
  }

  SECTION("two instances replacing one record's file at once: every replaced file is released exactly once") {
    const auto id = documents.create({"Race", ""}, file_named("f-initial"));
    constexpr int rounds = 40;
    std::vector<std::string> released[2];
    std::atomic<bool> go{false};
    auto edit = [&](DocumentStore& store, int side) {
      while (!go.load()) std::this_thread::yield();
      for (int round = 0; round < rounds; ++round) {
        const auto change = store.update(id, {"Race", ""}, file_named("f-" + std::to_string(side) + "-" + std::to_string(round)));
        if (change.released_stored_name) released[side].push_back(*change.released_stored_name);
      }
    };
    std::thread one(edit, std::ref(documents), 0);
    std::thread two(edit, std::ref(other_documents), 1);
    go = true;
    one.join();
    two.join();
    // Every name but the one the record holds now was released, once.
    std::vector<std::string> all(released[0]);
    all.insert(all.end(), released[1].begin(), released[1].end());
    all.push_back(documents.find(id)->file->stored_name);
    std::sort(all.begin(), all.end());
    CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
    CHECK(all.size() == 2 * rounds + 1);
  }
}
