// Regression tests for server bugs found by the reliability work (docs/RELIABILITY.md, "Findings").
// Each states the behaviour docs/protocol.md promises; label reliability.
#include <catch2/catch.hpp>

#include "server_fixture.h"

using namespace resumable;
using namespace resumable::testing;

namespace {

const HttpClient http;

// A multipart chunk request whose body stops after `cut` bytes (the connection is half-closed).
std::string truncated_multipart(int port, const TestFile& file, std::size_t cut) {
  const std::string boundary = "----rsmTruncated";
  std::string fields;
  const std::string query = file.query(1).substr(1);
  std::size_t start = 0;
  while (start < query.size()) {
    const auto amp = query.find('&', start);
    const std::string pair = query.substr(start, amp - start);
    const auto eq = pair.find('=');
    fields += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + pair.substr(0, eq) + "\"\r\n\r\n" +
              pair.substr(eq + 1) + "\r\n";
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  const std::string body = fields + "--" + boundary +
                           "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob\"\r\n"
                           "Content-Type: application/octet-stream\r\n\r\n" +
                           file.chunk_bytes(1) + "\r\n--" + boundary + "--\r\n";
  RawConnection connection(port);
  REQUIRE(connection.connected());
  connection.send("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Test-User: alice\r\n"
                  "Content-Type: multipart/form-data; boundary=" + boundary + "\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, std::min(cut, body.size() - 1)));
  connection.shutdown_write();
  return connection.receive_until("\r\n\r\n}");
}

}  // namespace

TEST_CASE("a multipart body cut short is incomplete_body (422, retryable), not invalid_body", "[findings]") {
  // Found by the fault proxy (tests/reliability/faults.test.mjs, fault `truncate`): CivetWeb's
  // mg_handle_form_request returns -1 on a premature end of the body before it reports any field, and
  // the endpoint then answers 400 invalid_body, which resumable.js and the widget treat as permanent:
  // one cut connection fails the whole file.
  TestServer server;
  auto file = make_file("cut-multipart", 64 * 1024, 11, 64 * 1024);
  for (std::size_t cut : {0u, 200u, 1500u, 9000u, 40000u, 65000u}) {
    const std::string reply = truncated_multipart(server.port(), file, cut);
    INFO("cut after " << cut << " body bytes: " << reply.substr(0, 200));
    CHECK(reply.rfind("HTTP/1.1 422", 0) == 0);
    CHECK(reply.find("\"incomplete_body\"") != std::string::npos);
  }
  // Nothing was recorded, and the chunk then uploads normally.
  const auto status = http.request("GET", server.url("/upload/status?identifier=cut-multipart"), {"X-Test-User: alice"});
  CHECK((status.status == 404 || status.json()["received"].empty()));
  CHECK(http.request("POST", server.url("/upload" + file.query(1)), {"X-Test-User: alice"}, file.chunk_bytes(1)).status == 200);
}

TEST_CASE("a persisted timestamp out of range is refused as corrupt state, not overflowed", "[findings]") {
  // Found by fuzz_upload_state (UBSan: signed overflow in std::chrono): decode_manifest accepts any
  // 64-bit createdUnix (and decode_final_record any completedUnix); last_activity() and collect_stale()
  // then convert e.g. 9223372036854775807 s to nanoseconds, which overflows (undefined behaviour; in
  // practice a garbage age, so the upload is collected at once or never).
  TestServer server;
  auto file = make_file("far-future", 2 * 4096, 5, 4096);
  REQUIRE(http.request("POST", server.url("/upload" + file.query(1)), {"X-Test-User: alice"}, file.chunk_bytes(1)).status == 200);
  std::filesystem::path manifest;
  for (const auto& entry : std::filesystem::directory_iterator(server.chunk_dir())) manifest = entry.path() / "manifest.json";
  auto text = read_file(manifest);
  auto json = nlohmann::json::parse(text);
  json["createdUnix"] = std::numeric_limits<std::int64_t>::max();
  std::ofstream(manifest, std::ios::trunc) << json.dump();
  server.restart();  // load() reads the manifest back
  const auto status = http.request("GET", server.url("/upload/status?identifier=far-future"), {"X-Test-User: alice"});
  INFO(status.body);
  CHECK(status.status == 404);  // skipped like any corrupt manifest
  server.endpoint().collect_stale();
}

TEST_CASE("a torn record at the end of pieces.log does not hide the chunks recorded after it", "[findings]") {
  // Found by the power-loss test (tests/reliability/power_loss.test.mjs, torn model): a power cut
  // right after a record's append can leave pieces.log longer by zeros (its size written, not its
  // bytes). The reader stops at that record, as it should, but the restarted store appended its
  // next records after it: at the following start they were ignored too, and chunks acknowledged
  // in between were lost.
  TestServer server;
  auto file = make_file("torn-tail", 4 * 4096, 3, 4096);
  REQUIRE(http.request("POST", server.url("/upload" + file.query(1)), {"X-Test-User: alice"}, file.chunk_bytes(1)).status == 200);
  std::filesystem::path log;
  for (const auto& entry : std::filesystem::directory_iterator(server.chunk_dir())) log = entry.path() / "pieces.log";
  { std::ofstream(log, std::ios::app | std::ios::binary) << std::string(56, '\0'); }  // the torn record
  server.restart();
  REQUIRE(http.request("POST", server.url("/upload" + file.query(2)), {"X-Test-User: alice"}, file.chunk_bytes(2)).status == 200);
  server.restart();
  const auto status = http.request("GET", server.url("/upload/status?identifier=torn-tail"), {"X-Test-User: alice"});
  INFO(status.body);
  REQUIRE(status.status == 200);
  CHECK(status.json()["received"] == nlohmann::json::parse("[[1, 2]]"));
}

TEST_CASE("an upload whose removal a crash interrupted is gone after a restart, not half there", "[findings]") {
  // Found by the power-loss test: remove() deleted an upload's files one by one, so a crash inside a
  // claim could leave manifest.json and pieces.log without final.json and without data, loaded
  // again as a partial upload whose release could never finish. The store now takes the directory
  // away with one rename (<id>.removed) before deleting anything; what a crash leaves of that is
  // deleted at the next start.
  TestServer server;
  auto file = make_file("interrupted-removal", 2 * 4096, 4, 4096);
  REQUIRE(http.request("POST", server.url("/upload" + file.query(1)), {"X-Test-User: alice"}, file.chunk_bytes(1)).status == 200);
  std::filesystem::path dir;
  for (const auto& entry : std::filesystem::directory_iterator(server.chunk_dir())) dir = entry.path();
  std::filesystem::rename(dir, dir.string() + ".removed");  // the rename was durable, the deletion cut short
  std::filesystem::remove(dir.string() + ".removed/manifest.json");
  server.restart();
  const auto status = http.request("GET", server.url("/upload/status?identifier=interrupted-removal"), {"X-Test-User: alice"});
  CHECK(status.status == 404);
  CHECK(std::filesystem::is_empty(server.chunk_dir()));
}

TEST_CASE("a release whose rename a crash cut off is finished at the next start, and its file is the source", "[findings]") {
  // Found by the power-loss test after the store began opening descriptors on use: final.json was
  // written and synced, the rename of data into upload_to was lost, and at the next start the
  // durable release could not sync the data (the upload counted as released already), so the file
  // never reached upload_to and the claim handed out a location with nothing there.
  TestServer server;
  auto file = make_file("rename-lost", 2 * 4096 + 7, 5, 4096);
  REQUIRE(http.request("POST", server.url("/upload" + file.query(1)), {"X-Test-User: alice"}, file.chunk_bytes(1)).status == 200);
  const auto done = http.request("POST", server.url("/upload" + file.query(2)), {"X-Test-User: alice"}, file.chunk_bytes(2));
  REQUIRE(done.json()["status"] == "complete");
  std::filesystem::path released, dir;
  for (const auto& entry : std::filesystem::directory_iterator(server.upload_to())) released = entry.path();
  for (const auto& entry : std::filesystem::directory_iterator(server.chunk_dir())) dir = entry.path();
  server.restart([&] { std::filesystem::rename(released, dir / "data"); });  // as if the rename never happened
  const auto status = http.request("GET", server.url("/upload/status?identifier=rename-lost"), {"X-Test-User: alice"});
  INFO(status.body);
  CHECK(status.json()["token"] == done.json()["token"]);
  REQUIRE(std::filesystem::exists(released));
  std::ifstream in(released, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(bytes == std::string(file.bytes.begin(), file.bytes.end()));
  CHECK_FALSE(std::filesystem::exists(dir / "data"));
}
