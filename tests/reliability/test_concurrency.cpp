// Concurrency tests over real HTTP, meant to run under ThreadSanitizer too (scripts/test.sh, label
// concurrency): many principals and uploads at once, cancel and collection racing chunk writes,
// claims racing each other. Every loop is bounded; every file that completes must be identical.
#include <catch2/catch.hpp>

#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "server_fixture.h"

using namespace resumable;
using namespace resumable::testing;

namespace {

const HttpClient http;

std::vector<std::string> as(const std::string& user) { return {"X-Test-User: " + user}; }

HttpResponse post(TestServer& server, const std::string& user, const TestFile& file, std::uint64_t number) {
  return http.request("POST", server.url("/upload" + file.query(number)), as(user), file.chunk_bytes(number));
}

// Catch2's assertions are not thread-safe: threads only record what they saw, the test thread checks.

// Sends every chunk of `file` in a shuffled order (some twice); returns the final result's body, or
// "" with `problem` set.
std::string upload_all(TestServer& server, const std::string& user, const TestFile& file, std::uint32_t seed,
                       std::string& problem) {
  std::vector<std::uint64_t> order;
  for (std::uint64_t k = 1; k <= file.chunk_count(); ++k) order.push_back(k);
  std::mt19937 random(seed);
  std::shuffle(order.begin(), order.end(), random);
  order.push_back(order.front());  // a duplicate
  std::string final_body;
  for (auto k : order) {
    for (int attempt = 0; attempt < 50; ++attempt) {
      const auto reply = post(server, user, file, k);
      if (reply.status == 200) {
        if (reply.json()["status"] == "complete") final_body = reply.body;
        break;
      }
      if (reply.error_code() != "chunk_busy") {
        problem = std::to_string(reply.status) + " " + reply.body;
        return "";
      }
    }
  }
  return final_body;
}

}  // namespace

TEST_CASE("many principals upload many files at once: every file is released once and identical", "[concurrency]") {
  TestServer server({}, not_durable);
  constexpr int users = 6, files_per_user = 3;
  std::vector<std::thread> threads;
  std::vector<std::string> finals(users * files_per_user);
  std::vector<std::string> problems(users * files_per_user);
  std::vector<TestFile> files;
  for (int u = 0; u < users; ++u) {
    for (int f = 0; f < files_per_user; ++f) {
      // Every user uses the same identifiers: principals must never meet.
      files.push_back(make_file("shared-" + std::to_string(f), 9 * 16384 + 100 * u + f, 1000 + u * 10 + f, 16384));
    }
  }
  for (int u = 0; u < users; ++u) {
    threads.emplace_back([&, u] {
      for (int f = 0; f < files_per_user; ++f) {
        const int i = u * files_per_user + f;
        finals[i] = upload_all(server, "user" + std::to_string(u), files[i], static_cast<std::uint32_t>(i), problems[i]);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(server.completions() == users * files_per_user);
  std::set<std::string> tokens;
  for (int i = 0; i < users * files_per_user; ++i) {
    INFO(problems[i]);
    REQUIRE(!finals[i].empty());
    const auto final = nlohmann::json::parse(finals[i]);
    tokens.insert(final["token"].get<std::string>());
    CHECK(final["fileDigest"] == files[i].file_digest_hex());
    const auto claimed = std::get<ClaimedUpload>(
        server.endpoint().claim_upload(final["token"].get<std::string>(), "user" + std::to_string(i / files_per_user)));
    CHECK(read_file(claimed.location) == std::string(files[i].bytes.begin(), files[i].bytes.end()));
  }
  CHECK(tokens.size() == static_cast<std::size_t>(users * files_per_user));
}

TEST_CASE("cancel racing chunk writes, status and test GETs leaves nothing behind", "[concurrency]") {
  TestServer server([](EndpointOptions& o) {
    o.log = [](const std::string& m) { std::fprintf(stderr, "server log: %s\n", m.c_str()); };
  }, not_durable);
  auto file = make_file("cancel-race", 24 * 8192 + 5, 77, 8192);
  std::atomic<bool> stop{false};
  std::atomic<int> stored{0}, completed{0};
  std::vector<std::vector<std::string>> unexpected(5);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 40 && !stop; ++round) {
        for (std::uint64_t k = 1 + t; k <= file.chunk_count(); k += 4) {
          const auto reply = post(server, "alice", file, k);
          if (reply.status == 200) {
            ++stored;
            if (reply.json()["status"] == "complete") ++completed;
          } else {
            // Cancelled under our feet: the upload is gone, the chunk was not recorded, or it was busy.
            const auto code = reply.error_code();
            if (code != "upload_not_found" && code != "chunk_busy") {
              unexpected[t].push_back(std::to_string(reply.status) + " " + reply.body);
            }
          }
        }
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < 60; ++i) {
      http.request("GET", server.url("/upload/status?identifier=cancel-race"), as("alice"));
      http.request("GET", server.url("/upload" + file.query(1 + i % file.chunk_count())), as("alice"));
      const auto reply = http.request("DELETE", server.url("/upload?identifier=cancel-race"), as("alice"));
      if (reply.status != 204) unexpected[4].push_back("cancel: " + std::to_string(reply.status) + " " + reply.body);
    }
    stop = true;
  });
  for (auto& t : threads) t.join();
  INFO("stored " << stored << ", completed " << completed);
  for (const auto& list : unexpected) {
    for (const auto& reply : list) {
      INFO(reply);
      CHECK(false);  // a reply other than stored, upload_not_found (cancelled) or chunk_busy
    }
  }
  // Whatever happened, a final cancel and a collection leave no data: neither partial nor released.
  CHECK(http.request("DELETE", server.url("/upload?identifier=cancel-race"), as("alice")).status == 204);
  server.endpoint().collect_stale();
  std::string left;
  for (const auto& e : std::filesystem::recursive_directory_iterator(server.chunk_dir())) {
    left += e.path().lexically_relative(server.chunk_dir()).string() + " ";
  }
  for (const auto& u : server.endpoint().list_uploads()) left += "[listed " + u.identifier + "] ";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  left += " | after 0.5 s: ";
  for (const auto& e : std::filesystem::recursive_directory_iterator(server.chunk_dir())) {
    left += e.path().lexically_relative(server.chunk_dir()).string() + " ";
  }
  INFO("left in chunk_dir: " << left);
  CHECK(std::filesystem::is_empty(server.chunk_dir()));
  CHECK(std::filesystem::is_empty(server.upload_to()));
}

TEST_CASE("collection racing uploads never corrupts a file, collected uploads start afresh", "[concurrency]") {
  // stale_after = 0: every upload between two chunks is collectable, the harshest setting.
  TestServer server([](EndpointOptions& o) { o.limits.stale_after = std::chrono::seconds(0); }, not_durable);
  std::atomic<bool> stop{false};
  std::atomic<int> collections{0};
  std::thread collector([&] {
    for (int i = 0; i < 2000 && !stop; ++i) {
      const auto report = server.endpoint().collect_stale();
      collections += static_cast<int>(report.stale_removed);
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> threads;
  std::atomic<int> identical{0};
  std::vector<std::string> wrong(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto file = make_file("collect-race-" + std::to_string(t), 6 * 8192 + t, 300 + t, 8192);
      for (int attempt = 0; attempt < 200; ++attempt) {
        std::string final_body;
        for (std::uint64_t k = 1; k <= file.chunk_count(); ++k) {
          const auto reply = post(server, "bob", file, k);
          if (reply.status == 200 && reply.json()["status"] == "complete") final_body = reply.body;
        }
        if (final_body.empty()) {
          // Collected in between: the upload may be partial; a status request tells, then retry.
          const auto status = http.request("GET", server.url("/upload/status?identifier=" + file.identifier), as("bob"));
          if (status.status == 200 && status.json()["status"] == "complete") final_body = status.body;
        }
        if (final_body.empty()) continue;
        const auto final = nlohmann::json::parse(final_body);
        if (final["fileDigest"] != file.file_digest_hex()) wrong[t] = "final digest differs: " + final_body;
        auto claimed = server.endpoint().claim_upload(final["token"].get<std::string>(), "bob");
        if (auto* c = std::get_if<ClaimedUpload>(&claimed)) {
          if (read_file(c->location) == std::string(file.bytes.begin(), file.bytes.end())) {
            ++identical;
          } else {
            wrong[t] = "claimed bytes differ";
          }
        }
        break;
      }
    });
  }
  for (auto& t : threads) t.join();
  stop = true;
  collector.join();
  INFO("uploads collected while in progress: " << collections);
  for (const auto& w : wrong) CHECK(w.empty());
  CHECK(identical == 4);
}

TEST_CASE("claims racing each other and status requests: exactly one claim wins", "[concurrency]") {
  TestServer server({}, not_durable);
  for (int round = 0; round < 5; ++round) {
    auto file = make_file("claim-race-" + std::to_string(round), 3 * 4096 + 1, 500 + round, 4096);
    std::string final_body;
    for (std::uint64_t k = 1; k <= file.chunk_count(); ++k) {
      const auto reply = post(server, "carol", file, k);
      REQUIRE(reply.status == 200);
      if (reply.json()["status"] == "complete") final_body = reply.body;
    }
    const std::string token = nlohmann::json::parse(final_body)["token"];
    std::atomic<int> wins{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
      threads.emplace_back([&, t] {
        if (t % 2 == 0) {
          if (std::holds_alternative<ClaimedUpload>(server.endpoint().claim_upload(token, "carol"))) ++wins;
        } else {
          http.request("GET", server.url("/upload/status?identifier=" + file.identifier), as("carol"));
          server.endpoint().list_uploads();
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK(wins == 1);
  }
}
