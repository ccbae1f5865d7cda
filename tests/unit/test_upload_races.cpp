// Concurrency and durability: racing last chunks, corrupted duplicates, restarts mid-upload.
#include <catch2/catch.hpp>

#include <set>
#include <thread>

#include "server_fixture.h"

using namespace resumable;
using namespace resumable::testing;

namespace {

const std::vector<std::string> alice = {"X-Test-User: alice"};
const HttpClient http;

HttpResponse post(TestServer& server, const TestFile& file, std::uint64_t number) {
  return http.request("POST", server.url("/upload" + file.query(number)), alice, file.chunk_bytes(number));
}

}  // namespace

TEST_CASE("many threads racing the last chunks finalize exactly once with one result", "[races]") {
  TestServer server;
  for (int round = 0; round < 3; ++round) {
    auto file = make_file("race-" + std::to_string(round), 16 * 32768 + 77, 40 + round, 32768);
    const auto n = file.chunk_count();
    for (std::uint64_t k = 1; k + 4 <= n; ++k) REQUIRE(post(server, file, k).status == 200);
    // 12 threads each send the last four chunks (in different orders) at the same moment.
    std::vector<HttpResponse> replies(12 * 4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 12; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 4; ++i) {
          const std::uint64_t k = n - static_cast<std::uint64_t>((i + t) % 4);
          replies[static_cast<std::size_t>(t * 4 + i)] = post(server, file, k);
        }
      });
    }
    for (auto& thread : threads) thread.join();
    std::set<std::string> tokens;
    for (const auto& reply : replies) {
      INFO(reply.body);
      REQUIRE(reply.status == 200);
      if (reply.json()["status"] == "complete") tokens.insert(reply.json()["token"].get<std::string>());
    }
    CHECK(tokens.size() == 1);
    CHECK(server.completions() == round + 1);
    const auto status = http.request("GET", server.url("/upload/status?identifier=" + file.identifier), alice);
    REQUIRE(status.json()["status"] == "complete");
    CHECK(status.json()["fileDigest"] == file.file_digest_hex());
    const auto claimed = std::get<ClaimedUpload>(server.endpoint().claim_upload(*tokens.begin(), "alice"));
    CHECK(read_file(claimed.location) == std::string(file.bytes.begin(), file.bytes.end()));
  }
}

TEST_CASE("a corrupted duplicate racing a good copy of a chunk never corrupts the file", "[races]") {
  TestServer server;
  for (int round = 0; round < 10; ++round) {
    auto file = make_file("corrupt-race-" + std::to_string(round), 4 * 65536, 60 + round);
    auto corrupted = file;
    for (std::size_t i = 65536; i < 2 * 65536; i += 997) corrupted.bytes[i] ^= 0xff;  // chunk 2 only
    // Chunk 1 first: chunk 2 is then next in line for the whole-file hash, which the first of the
    // racing writers folds in while its body streams; a refused chunk must be taken out again.
    REQUIRE(post(server, file, 1).status == 200);
    HttpResponse good_reply, bad_reply;
    std::thread good([&] { good_reply = post(server, file, 2); });
    std::thread bad([&] {
      // The original's digest, the corrupted bytes: what a flipped bit on the wire looks like.
      bad_reply = http.request("POST", server.url("/upload" + file.query(2)), alice, corrupted.chunk_bytes(2));
    });
    good.join();
    bad.join();
    CHECK(good_reply.status == 200);
    // The corrupted copy is refused, or (if the good one was stored first) acknowledged as a duplicate
    // without being written.
    const bool refused = bad_reply.error_code() == "chunk_digest_mismatch";
    const bool duplicate = bad_reply.status == 200 && bad_reply.json()["duplicate"] == true;
    CHECK((refused || duplicate));
    for (std::uint64_t k : {3, 4}) REQUIRE(post(server, file, k).status == 200);
    const auto status = http.request("GET", server.url("/upload/status?identifier=" + file.identifier), alice);
    REQUIRE(status.json()["status"] == "complete");
    CHECK(status.json()["fileDigest"] == file.file_digest_hex());
    const auto claimed = std::get<ClaimedUpload>(server.endpoint().claim_upload(status.json()["token"], "alice"));
    CHECK(read_file(claimed.location) == std::string(file.bytes.begin(), file.bytes.end()));
  }
}

TEST_CASE("a restarted server resumes an upload where it was and completes it", "[races][restart]") {
  TestServer server;
  auto file = make_file("restart", 8 * 65536 + 999, 77);
  file.file_digest = file.file_digest_hex();
  for (std::uint64_t k : {1, 2, 3, 5, 8}) REQUIRE(post(server, file, k).status == 200);
  server.restart();
  const auto status = http.request("GET", server.url("/upload/status?identifier=restart"), alice);
  REQUIRE(status.status == 200);
  CHECK(status.json()["received"] == nlohmann::json::parse("[[1,3],[5,5],[8,8]]"));
  CHECK(status.json()["digests"][3] == file.chunk_digest(5));
  CHECK(http.request("GET", server.url("/upload" + file.query(5)), alice).status == 200);
  for (std::uint64_t k : {4, 6}) REQUIRE(post(server, file, k).status == 200);
  server.restart();  // again, with the whole-file hash part-way
  const auto last = post(server, file, 7);
  REQUIRE(last.json()["status"] == "complete");
  CHECK(last.json()["fileDigest"] == file.file_digest_hex());
  // The final result survives a restart too, and the token can still be claimed once.
  server.restart();
  const auto after = http.request("GET", server.url("/upload/status?identifier=restart"), alice);
  CHECK(after.json() == last.json());
  const auto claimed = server.endpoint().claim_upload(last.json()["token"], "alice");
  REQUIRE(std::holds_alternative<ClaimedUpload>(claimed));
  CHECK(read_file(std::get<ClaimedUpload>(claimed).location) == std::string(file.bytes.begin(), file.bytes.end()));
  CHECK(std::holds_alternative<ErrorCode>(server.endpoint().claim_upload(last.json()["token"], "alice")));
}

TEST_CASE("a torn chunk record and a half-finished release are recovered after a crash", "[races][restart]") {
  TestServer server;
  auto file = make_file("torn", 4 * 65536, 81);
  for (std::uint64_t k : {1, 2}) REQUIRE(post(server, file, k).status == 200);
  server.restart();
  // Simulate power loss in the middle of appending a record: a partial record at the end of the log.
  const auto upload_dir = *std::filesystem::directory_iterator(server.chunk_dir());
  {
    std::ofstream log(upload_dir.path() / "pieces.log", std::ios::binary | std::ios::app);
    log << std::string(20, '\x7f');
  }
  server.restart();
  const auto status = http.request("GET", server.url("/upload/status?identifier=torn"), alice);
  CHECK(status.json()["received"] == nlohmann::json::parse("[[1,2]]"));
  for (std::uint64_t k : {3, 4}) REQUIRE(post(server, file, k).status == 200);
  CHECK(http.request("GET", server.url("/upload/status?identifier=torn"), alice).json()["fileDigest"] ==
        file.file_digest_hex());
}

TEST_CASE("stale incomplete uploads and old unclaimed files are collected", "[races][collect]") {
  TestServer server([](EndpointOptions& o) {
    o.limits.stale_after = std::chrono::seconds(0);
    o.limits.unclaimed_after = std::chrono::seconds(0);
  });
  auto partial = make_file("stale", 3 * 65536, 90);
  auto finished = make_file("unclaimed", 1000, 91);
  REQUIRE(post(server, partial, 1).status == 200);
  REQUIRE(post(server, finished, 1).json()["status"] == "complete");
  REQUIRE(server.endpoint().list_uploads().size() == 2);
  const auto report = server.endpoint().collect_stale();
  CHECK(report.stale_removed == 1);
  CHECK(report.unclaimed_removed == 1);
  CHECK(std::filesystem::is_empty(server.chunk_dir()));
  CHECK(std::filesystem::is_empty(server.upload_to()));
  CHECK(server.endpoint().list_uploads().empty());
}

TEST_CASE("collection runs every collect_interval on its own, with or without a collector thread", "[races][collect]") {
  // With RESUMABLE_COLLECTOR_THREAD a thread collects; without it the first request after the
  // interval does. Either way a stale upload goes without anyone calling collect_stale().
  TestServer server([](EndpointOptions& o) {
    o.collect_interval = std::chrono::seconds(1);
    o.limits.stale_after = std::chrono::seconds(0);
  });
  auto file = make_file("collected-on-schedule", 3 * 4096, 92, 4096);
  REQUIRE(post(server, file, 1).status == 200);
  int status = 0;
  for (int i = 0; i < 60 && status != 404; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = static_cast<int>(http.request("GET", server.url("/upload/status?identifier=collected-on-schedule"), alice).status);
  }
  CHECK(status == 404);
  CHECK(std::filesystem::is_empty(server.chunk_dir()));
}
