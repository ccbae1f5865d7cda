// Names from clients are never paths, and principals never see each other's uploads or tokens.
#include <catch2/catch.hpp>

#include <future>
#include <set>

#include "server_fixture.h"

using namespace resumable;
using namespace resumable::testing;

namespace {

const HttpClient http;

HttpResponse post_as(TestServer& server, const std::string& user, const TestFile& file, std::uint64_t number) {
  return http.request("POST", server.url("/upload" + file.query(number)), {"X-Test-User: " + user}, file.chunk_bytes(number));
}

std::vector<std::filesystem::path> files_under(const std::filesystem::path& root) {
  std::vector<std::filesystem::path> found;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) found.push_back(entry.path());
  return found;
}

}  // namespace

TEST_CASE("traversal and absolute paths in identifiers and names never become paths", "[isolation]") {
  TestServer server;
  const std::vector<std::string> hostile = {
      "../../../../etc/passwd", "/etc/passwd", "..", ".", "a/../../b", "..\\..\\windows\\win.ini", "C:\\boot.ini",
      "CON", "nul.txt", "~/.ssh/authorized_keys", "%2e%2e%2f%2e%2e%2fx", "file:///etc/shadow", "名前.bin",
      "a\u202Egnp.exe", std::string(255, 'n')};
  int uploaded = 0;
  for (const auto& name : hostile) {
    auto file = make_file(name, 3000, static_cast<std::uint32_t>(name.size()));
    file.file_name = name;
    const auto reply = post_as(server, "alice", file, 1);
    INFO(name << ": " << reply.body);
    REQUIRE(reply.status == 200);
    CHECK(reply.json()["fileName"] == name);  // kept for display, as given
    ++uploaded;
  }
  // Everything written lies in the server's own directories, under names it chose.
  for (const auto& path : files_under(server.root())) {
    const auto relative = std::filesystem::relative(path, server.root()).string();
    INFO(relative);
    CHECK(relative.find("..") == std::string::npos);
    const auto top = *std::filesystem::path(relative).begin();
    CHECK((top == "chunks" || top == "files"));
  }
  std::size_t released = 0;
  for (const auto& entry : std::filesystem::directory_iterator(server.upload_to())) {
    const auto name = entry.path().filename().string();
    CHECK(name.find_first_not_of("0123456789abcdef.binxt") == std::string::npos);
    ++released;
  }
  CHECK(released == static_cast<std::size_t>(uploaded));
}

TEST_CASE("control characters and invalid UTF-8 in names are refused", "[isolation]") {
  TestServer server;
  for (const std::string& bad : {std::string("a\0b", 3), std::string("tab\there"), std::string("\x1b[31m"),
                                std::string("\xff\xfe"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80")}) {
    auto file = make_file("names", 100);
    file.file_name = bad;
    CHECK(post_as(server, "alice", file, 1).error_code() == "invalid_parameter");
    auto by_identifier = make_file(bad, 100);
    CHECK(post_as(server, "alice", by_identifier, 1).error_code() == "invalid_parameter");
  }
  CHECK(std::filesystem::is_empty(server.chunk_dir()));
}

TEST_CASE("two principals' equal identifiers never meet; status and tokens are private", "[isolation]") {
  TestServer server;
  auto alices = make_file("1000-photojpg", 3 * 65536, 1);  // resumable.js's default identifier shape
  auto bobs = make_file("1000-photojpg", 3 * 65536, 2);    // same identifier, different bytes
  REQUIRE(post_as(server, "alice", alices, 1).status == 200);
  REQUIRE(post_as(server, "bob", bobs, 1).status == 200);
  CHECK(http.request("GET", server.url("/upload" + alices.query(2)), {"X-Test-User: bob"}).status == 204);
  const auto bob_status = http.request("GET", server.url("/upload/status?identifier=1000-photojpg"), {"X-Test-User: bob"});
  CHECK(bob_status.json()["digests"][0] == bobs.chunk_digest(1));
  // Bob cancelling his upload does not touch Alice's.
  REQUIRE(http.request("DELETE", server.url("/upload?identifier=1000-photojpg"), {"X-Test-User: bob"}).status == 204);
  CHECK(http.request("GET", server.url("/upload/status?identifier=1000-photojpg"), {"X-Test-User: alice"}).status == 200);

  HttpResponse last;
  for (std::uint64_t k = 2; k <= 3; ++k) last = post_as(server, "alice", alices, k);
  const std::string token = last.json()["token"];
  CHECK(http.request("GET", server.url("/upload/status?identifier=1000-photojpg"), {"X-Test-User: bob"}).status == 404);
  // Bob cannot claim Alice's token; Alice can, once.
  CHECK(std::get<ErrorCode>(server.endpoint().claim_upload(token, "bob")) == ErrorCode::upload_not_found);
  CHECK(std::get<ErrorCode>(server.endpoint().claim_upload(token, "")) == ErrorCode::upload_not_found);
  REQUIRE(std::holds_alternative<ClaimedUpload>(server.endpoint().claim_upload(token, "alice")));
  CHECK(std::get<ErrorCode>(server.endpoint().claim_upload(token, "alice")) == ErrorCode::upload_not_found);
}

namespace {

// The scope cookie a reply sets ("" if none).
std::string scope_cookie(const HttpResponse& reply) {
  const auto at = reply.headers.find("Set-Cookie: rsm_scope=");
  if (at == std::string::npos) return "";
  const auto start = at + std::string("Set-Cookie: ").size();
  return reply.headers.substr(start, reply.headers.find(';', start) - start);
}

// A browser of an anonymous client: its User-Agent and, once it has one, its scope cookie.
struct AnonymousClient {
  std::string user_agent;
  std::string cookie;
  std::vector<std::string> headers() const {
    std::vector<std::string> h = {"User-Agent: " + user_agent};
    if (!cookie.empty()) h.push_back("Cookie: " + cookie);
    return h;
  }
  HttpResponse request(const std::string& method, const std::string& url, const std::string& body = {}) {
    auto reply = http.request(method, url, headers(), body);
    if (const auto set = scope_cookie(reply); !set.empty()) cookie = set;
    return reply;
  }
};

}  // namespace

TEST_CASE("anonymous clients each get a scope of their own that others cannot see or take", "[isolation][anonymous]") {
  TestServer server([](EndpointOptions& o) { o.access = Access::anonymous_allowed; });
  auto file = make_file("size-name-anyone-could-guess", 3 * 4096, 61, 4096);
  AnonymousClient alice{"alice's browser", ""};
  const auto first = alice.request("POST", server.url("/upload" + file.query(1)), file.chunk_bytes(1));
  REQUIRE(first.status == 200);
  REQUIRE_FALSE(alice.cookie.empty());
  CHECK(first.headers.find("HttpOnly") != std::string::npos);
  CHECK(first.headers.find("SameSite=Lax") != std::string::npos);
  const std::string status_url = server.url("/upload/status?identifier=" + file.identifier);
  CHECK(alice.request("GET", status_url).json()["received"] == nlohmann::json::parse("[[1,1]]"));

  // Another anonymous client who knows the identifier sees nothing, and what it sends stays its own.
  AnonymousClient mallory{"mallory's browser", ""};
  CHECK(mallory.request("GET", status_url).status == 404);
  CHECK(mallory.request("GET", server.url("/upload" + file.query(1))).status == 204);
  auto forged = file;
  for (auto& b : forged.bytes) b ^= 0xff;
  forged.send_chunk_digest = false;
  const auto mixed = mallory.request("POST", server.url("/upload" + forged.query(3)), forged.chunk_bytes(3));
  CHECK(mixed.status == 200);
  CHECK(mixed.json()["received"] == 1);  // its own upload, not alice's
  CHECK(mallory.cookie != alice.cookie);
  CHECK(mallory.request("DELETE", server.url("/upload?identifier=" + file.identifier)).status == 204);  // its own
  CHECK(alice.request("GET", status_url).json()["received"] == nlohmann::json::parse("[[1,1]]"));

  // Alice finishes; only her scope can see the final result and claim the file.
  alice.request("POST", server.url("/upload" + file.query(2)), file.chunk_bytes(2));
  const auto last = alice.request("POST", server.url("/upload" + file.query(3)), file.chunk_bytes(3));
  REQUIRE(last.json()["status"] == "complete");
  CHECK(last.json()["fileDigest"] == file.file_digest_hex());
  const std::string token = last.json()["token"];
  CHECK(mallory.request("GET", status_url).status == 404);
  CHECK(std::holds_alternative<ErrorCode>(server.endpoint().claim_upload(token, "anonymous/" + mallory.cookie.substr(10))));
  CHECK(std::holds_alternative<ErrorCode>(server.endpoint().claim_upload(token, "")));
  const auto claimed = server.endpoint().claim_upload(token, "anonymous/" + alice.cookie.substr(10));
  REQUIRE(std::holds_alternative<ClaimedUpload>(claimed));
  CHECK(read_file(std::get<ClaimedUpload>(claimed).location) == std::string(file.bytes.begin(), file.bytes.end()));
}

TEST_CASE("a browser's concurrent first requests share one anonymous scope", "[isolation][anonymous]") {
  TestServer server([](EndpointOptions& o) { o.access = Access::anonymous_allowed; });
  auto file = make_file("parallel-first", 3 * 4096, 62, 4096);
  std::vector<std::future<HttpResponse>> replies;
  for (std::uint64_t k = 1; k <= 3; ++k) {
    replies.push_back(std::async(std::launch::async, [&, k] {
      return http.request("POST", server.url("/upload" + file.query(k)), {"User-Agent: one browser"}, file.chunk_bytes(k));
    }));
  }
  std::set<std::string> cookies;
  std::string final_status;
  for (auto& reply : replies) {
    const auto r = reply.get();
    CHECK(r.status == 200);
    cookies.insert(scope_cookie(r));
    if (r.json()["status"] == "complete") final_status = r.body;
  }
  CHECK(cookies.size() == 1);
  CHECK_FALSE(final_status.empty());  // all three chunks went to one upload
  // A malformed cookie is no scope: the client gets a new one.
  const auto odd = http.request("GET", server.url("/upload/status?identifier=parallel-first"),
                                {"User-Agent: another browser", "Cookie: rsm_scope=not-hex"});
  CHECK(odd.status == 404);
  CHECK_FALSE(scope_cookie(odd).empty());
}

TEST_CASE("a first request that arrives after the cookie came back still joins the browser's scope", "[isolation][anonymous]") {
  // Under load, one of a browser's three first requests can reach the server after another one,
  // sent later with the cookie, has already come back (seen as flow.js's 254 of 256 chunks in one
  // upload and 2 in scopes of their own, its fileSuccess notwithstanding).
  TestServer server([](EndpointOptions& o) { o.access = Access::anonymous_allowed; });
  auto file = make_file("late-first-request", 3 * 4096, 63, 4096);
  const std::vector<std::string> browser{"User-Agent: one slow browser"};
  const auto first = http.request("POST", server.url("/upload" + file.query(1)), browser, file.chunk_bytes(1));
  REQUIRE(first.status == 200);
  const std::string cookie = scope_cookie(first);
  REQUIRE_FALSE(cookie.empty());
  auto with_cookie = browser;
  with_cookie.push_back("Cookie: " + cookie);
  REQUIRE(http.request("POST", server.url("/upload" + file.query(2)), with_cookie, file.chunk_bytes(2)).status == 200);
  const auto late = http.request("POST", server.url("/upload" + file.query(3)), browser, file.chunk_bytes(3));
  CHECK(late.status == 200);
  CHECK(late.json()["status"] == "complete");  // the same upload: all three chunks are in
  CHECK(scope_cookie(late) == cookie);
}
