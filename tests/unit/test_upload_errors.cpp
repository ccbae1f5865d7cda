// Every row of the protocol's error table, provoked over HTTP, and the table in docs/protocol.md
// checked against the one in the code.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <source_location>
#include <set>
#include <thread>

#include "record_codec.h"
#include "resumable/image_signature.h"
#include "resumable/slot_store.h"
#include "server_fixture.h"
#include "status_map.h"
#include "ietf_status.h"
#include "tus_status.h"

using namespace resumable;
using namespace resumable::testing;

namespace {

const std::vector<std::string> alice = {"X-Test-User: alice"};
const HttpClient http;

// A store that delegates to the filesystem one but fails on demand: "no space" for files over a
// size, I/O errors for one file name. It also shows a custom store plugging in.
class FaultyStore final : public UploadStore {
 public:
  FaultyStore(std::shared_ptr<UploadStore> inner, std::uint64_t space) : inner_(std::move(inner)), space_(space) {}
  StorageStatus create(const UploadManifest& manifest, std::unique_ptr<StoredUpload>& out) override {
    if (manifest.total_size.value_or(0) > space_) return {StorageCode::no_space, "test: no space"};
    auto status = inner_->create(manifest, out);
    if (status && manifest.file_name == "io-error.bin") out = std::make_unique<FailingWrites>(std::move(out));
    if (status && manifest.file_name == "in-order.bin") out = std::make_unique<NoReadBack>(std::move(out));
    return status;
  }
  StorageStatus open(const std::string& id, RecordedUpload& out) override { return inner_->open(id, out); }
  std::vector<std::string> list() override { return inner_->list(); }
  StorageStatus remove(const std::string& id, bool released) override { return inner_->remove(id, released); }

 private:
  class FailingWrites final : public StoredUpload {
   public:
    explicit FailingWrites(std::unique_ptr<StoredUpload> inner) : inner_(std::move(inner)) {}
    StorageStatus write_at(std::uint64_t, const void*, std::size_t) override {
      return {StorageCode::io_error, "test: device error"};
    }
    StorageStatus commit_piece(const PieceRecord& piece) override { return inner_->commit_piece(piece); }
    StorageStatus update_manifest(const UploadManifest& m) override { return inner_->update_manifest(m); }
    StorageStatus release(FinalRecord& final) override { return inner_->release(final); }
    ReadBack* read_back() override { return inner_->read_back(); }

   private:
    std::unique_ptr<StoredUpload> inner_;
  };
  // A store that cannot read back what it wrote (like S3 during a multipart upload).
  class NoReadBack final : public StoredUpload {
   public:
    explicit NoReadBack(std::unique_ptr<StoredUpload> inner) : inner_(std::move(inner)) {}
    StorageStatus write_at(std::uint64_t o, const void* d, std::size_t n) override { return inner_->write_at(o, d, n); }
    StorageStatus commit_piece(const PieceRecord& piece) override { return inner_->commit_piece(piece); }
    StorageStatus update_manifest(const UploadManifest& m) override { return inner_->update_manifest(m); }
    StorageStatus release(FinalRecord& final) override { return inner_->release(final); }

   private:
    std::unique_ptr<StoredUpload> inner_;
  };
  std::shared_ptr<UploadStore> inner_;
  std::uint64_t space_;
};

void configure_limits(EndpointOptions& options) {
  options.limits.max_file_size = 10 * 65536;
  options.limits.min_chunk_size = 1024;
  options.limits.max_chunk_size = 65536;
  options.limits.max_chunks = 8;
  options.limits.allowed_extensions = {"bin", "TXT"};
  options.limits.allowed_types = {"application/octet-stream", "text/*"};
  options.limits.max_uploads_per_principal = 2;
  options.limits.chunk_wait = std::chrono::milliseconds(300);
}

// The limits above over a store with 6 × 64 KiB of space.
const ServerSetup faulty_store{false, [](std::shared_ptr<UploadStore> filesystem) -> std::shared_ptr<UploadStore> {
                                return std::make_shared<FaultyStore>(std::move(filesystem), 6 * 65536);
                              }, 20000, 20};

HttpResponse post(TestServer& server, const TestFile& file, std::uint64_t number, const std::vector<std::string>& overrides = {},
                  const std::vector<std::string>& headers = alice) {
  return http.request("POST", server.url("/upload" + file.query(number, overrides)), headers, file.chunk_bytes(number));
}

// Codes only the tus front-end gives (their provokers use a tus mount, with tus statuses).
bool tus_only(ErrorCode code) {
  return code == ErrorCode::unsupported_version || code == ErrorCode::offset_mismatch ||
         code == ErrorCode::unsupported_content_type || code == ErrorCode::not_a_partial_upload ||
         code == ErrorCode::partial_upload_unfinished || code == ErrorCode::final_upload_immutable;
}

void expect_error(const HttpResponse& reply, ErrorCode code,
                  std::source_location where = std::source_location::current()) {
  const auto& info = error_info(code);
  INFO("expected at line " << where.line() << "; reply: " << reply.status << " " << reply.body);
  CHECK(reply.status == (tus_only(code) ? tus::tus_status(code) : resumablejs::http_status(code)));
  CHECK(reply.error_code() == std::string(info.id));
  const auto body = reply.json();
  REQUIRE(body.is_object());
  CHECK(body["status"] == "error");
  CHECK(body["message"] == std::string(info.meaning));
  CHECK(body["retryable"] == info.retryable);
}

}  // namespace

TEST_CASE("docs/protocol.md holds exactly the code's error table", "[errors]") {
  const std::string doc = read_file(RESUMABLE_PROTOCOL_DOC);
  const auto begin = doc.find("<!-- error-table:begin -->");
  const auto end = doc.find("<!-- error-table:end -->");
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  // Rows look like: | `code` | 400 | 400 | 400 | meaning | what to do | (statuses: resumable.js, tus, IETF draft)
  std::istringstream table(doc.substr(begin, end - begin));
  std::vector<std::tuple<std::string, int, int, int, std::string, std::string>> documented;
  for (std::string line; std::getline(table, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    std::istringstream row(line.substr(1));
    for (std::string cell; std::getline(row, cell, '|');) {
      const auto first = cell.find_first_not_of(' ');
      const auto last = cell.find_last_not_of(' ');
      cells.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
    }
    REQUIRE(cells.size() >= 6);
    documented.emplace_back(cells[0].substr(1, cells[0].size() - 2), std::stoi(cells[1]), std::stoi(cells[2]),
                            std::stoi(cells[3]), cells[4], cells[5]);
  }
  const auto code_table = error_table();
  REQUIRE(documented.size() == code_table.size());
  for (std::size_t i = 0; i < code_table.size(); ++i) {
    INFO("row " << i);
    CHECK(std::get<0>(documented[i]) == code_table[i].id);
    CHECK(std::get<1>(documented[i]) == resumablejs::http_status(code_table[i].code));
    CHECK(std::get<2>(documented[i]) == tus::tus_status(code_table[i].code));
    CHECK(std::get<3>(documented[i]) == ietf::ietf_status(code_table[i].code));
    CHECK(std::get<4>(documented[i]) == code_table[i].meaning);
    CHECK(std::get<5>(documented[i]) == code_table[i].client_action);
  }
  std::set<std::string_view> ids;
  for (const auto& e : code_table) ids.insert(e.id);
  CHECK(ids.size() == code_table.size());
}

TEST_CASE("access errors: unauthenticated and forbidden, before any byte is written", "[errors]") {
  TestServer login([](EndpointOptions& o) { o.access = Access::login_required; });
  auto file = make_file("auth", 1000);
  expect_error(post(login, file, 1, {}, {}), ErrorCode::unauthenticated);
  expect_error(http.request("GET", login.url("/upload/status?identifier=auth")), ErrorCode::unauthenticated);
  CHECK(std::filesystem::is_empty(login.chunk_dir()));

  TestServer staff([](EndpointOptions& o) { o.access = Access::staff_required; });
  expect_error(post(staff, file, 1, {}, {}), ErrorCode::unauthenticated);
  expect_error(post(staff, file, 1, {}, {"X-Test-User: bob"}), ErrorCode::forbidden);
  CHECK(std::filesystem::is_empty(staff.chunk_dir()));
  CHECK(post(staff, file, 1, {}, {"X-Test-User: carol;staff"}).status == 200);

  // verify_request (e.g. a CSRF header) refuses even on a mount that allows anonymous uploads.
  TestServer anonymous([](EndpointOptions& o) {
    o.access = Access::anonymous_allowed;
    o.verify_request = [](mg_connection* c) {
      const char* token = mg_get_header(c, "X-CSRF-Token");
      return token != nullptr && std::string(token) == "right";
    };
  });
  expect_error(post(anonymous, file, 1, {}, {}), ErrorCode::forbidden);
  expect_error(post(anonymous, file, 1, {}, {"X-CSRF-Token: wrong"}), ErrorCode::forbidden);
  CHECK(std::filesystem::is_empty(anonymous.chunk_dir()));
  CHECK(post(anonymous, file, 1, {}, {"X-CSRF-Token: right"}).status == 200);
}

TEST_CASE("request errors: not found, method, parameters, geometry, body", "[errors]") {
  TestServer server(configure_limits, faulty_store);
  auto file = make_file("request-errors", 3 * 4096 + 5, 3, 4096);
  expect_error(http.request("GET", server.url("/upload/nothing-here"), alice), ErrorCode::not_found);
  const auto patch = http.request("PATCH", server.url("/upload" + file.query(1)), alice);
  expect_error(patch, ErrorCode::method_not_allowed);
  CHECK(patch.headers.find("Allow: GET, POST, PUT, DELETE\r\n") != std::string::npos);
  const auto post_status = http.request("POST", server.url("/upload/status?identifier=x"), alice);
  expect_error(post_status, ErrorCode::method_not_allowed);
  CHECK(post_status.headers.find("Allow: GET\r\n") != std::string::npos);

  expect_error(post(server, file, 1, {"resumableChunkNumber=one"}), ErrorCode::invalid_parameter);
  expect_error(post(server, file, 1, {"resumableTotalSize=-5"}), ErrorCode::invalid_parameter);
  expect_error(post(server, file, 1, {"resumableTotalSize=99999999999999999999999"}), ErrorCode::invalid_parameter);
  expect_error(post(server, file, 1, {"resumableIdentifier="}), ErrorCode::invalid_parameter);
  expect_error(post(server, file, 1, {"resumableFilename=a\nb.bin"}), ErrorCode::invalid_parameter);
  expect_error(post(server, file, 1, {"resumableIdentifier=" + std::string(300, 'i')}), ErrorCode::invalid_parameter);
  expect_error(post(server, file, 1, {"chunkDigest=xyz"}), ErrorCode::invalid_parameter);
  expect_error(http.request("GET", server.url("/upload/status"), alice), ErrorCode::invalid_parameter);

  expect_error(post(server, file, 1, {"resumableCurrentChunkSize=4095"}), ErrorCode::invalid_geometry);
  expect_error(http.request("POST", server.url("/upload" + file.query(4)), alice, std::string(4096, 'x')),
               ErrorCode::invalid_geometry);  // chunk number past N
  expect_error(post(server, file, 1, {"resumableTotalChunks=9"}), ErrorCode::invalid_geometry);
  expect_error(post(server, file, 1, {"resumableChunkSize=100"}), ErrorCode::chunk_size_not_allowed);
  expect_error(post(server, file, 1, {"resumableChunkSize=1048576"}), ErrorCode::chunk_size_not_allowed);

  // A body longer or shorter than the current chunk size.
  expect_error(http.request("POST", server.url("/upload" + file.query(1)), alice, file.chunk_bytes(1) + "x"),
               ErrorCode::invalid_body);
  expect_error(http.request("POST", server.url("/upload" + file.query(1)), alice, file.chunk_bytes(1) + "x", true),
               ErrorCode::invalid_body);
  expect_error(http.request("POST", server.url("/upload" + file.query(1)), alice, file.chunk_bytes(1).substr(1), true),
               ErrorCode::incomplete_body);
  expect_error(http.multipart(server.url("/upload" + file.query(1)), alice, {{"other", "x", ""}}), ErrorCode::invalid_body);
  expect_error(http.multipart(server.url("/upload" + file.query(1)), alice, {{"file", file.chunk_bytes(1).substr(9), "b"}}),
               ErrorCode::incomplete_body);
  // None of the refused requests left data behind, and the file still uploads.
  for (std::uint64_t k = 1; k <= file.chunk_count(); ++k) REQUIRE(post(server, file, k).status == 200);
  CHECK(server.completions() == 1);
}

TEST_CASE("limit errors: file size, chunk count, type, concurrent uploads", "[errors]") {
  TestServer server(configure_limits, faulty_store);
  auto big = make_file("too-big", 11 * 65536, 1, 65536);
  expect_error(post(server, big, 1), ErrorCode::file_too_large);
  auto many = make_file("too-many", 9 * 2048, 1, 2048);
  expect_error(post(server, many, 1), ErrorCode::too_many_chunks);
  auto exe = make_file("bad-type", 1000);
  exe.file_name = "setup.exe";
  expect_error(post(server, exe, 1), ErrorCode::type_not_allowed);
  auto txt = make_file("txt-ok", 1000);
  txt.file_name = "notes.TxT";
  CHECK(post(server, txt, 1, {"resumableType=text/plain"}).status == 200);
  expect_error(post(server, txt, 1, {"resumableType=image/png", "resumableIdentifier=png"}), ErrorCode::type_not_allowed);
  CHECK(std::filesystem::is_empty(server.upload_to()) == false);  // txt-ok finished (one chunk)

  auto first = make_file("open-1", 3 * 4096, 1, 4096);
  auto second = make_file("open-2", 3 * 4096, 2, 4096);
  auto third = make_file("open-3", 3 * 4096, 3, 4096);
  REQUIRE(post(server, first, 1).status == 200);
  REQUIRE(post(server, second, 1).status == 200);
  expect_error(post(server, third, 1), ErrorCode::too_many_uploads);
  CHECK(post(server, third, 1, {}, {"X-Test-User: bob"}).status == 200);  // the limit is per principal
  REQUIRE(http.request("DELETE", server.url("/upload?identifier=open-1"), alice).status == 204);
  CHECK(post(server, third, 1).status == 200);
}

TEST_CASE("consistency errors: upload, chunk and digest conflicts", "[errors]") {
  TestServer server(configure_limits, faulty_store);
  auto file = make_file("conflicts", 3 * 4096, 4, 4096);
  REQUIRE(post(server, file, 1).status == 200);
  auto changed_total = file;
  changed_total.bytes.resize(3 * 4096 + 100);
  expect_error(post(server, changed_total, 2), ErrorCode::upload_conflict);
  expect_error(post(server, file, 2, {"resumableFilename=other.bin"}), ErrorCode::upload_conflict);
  expect_error(post(server, file, 1, {"chunkDigest=" + file.chunk_digest(2)}), ErrorCode::chunk_conflict);
  auto corrupted = file;
  corrupted.bytes[4096 + 10] ^= 0x01;  // chunk 2's bytes change, its declared digest stays the original's
  expect_error(http.request("POST", server.url("/upload" + file.query(2)), alice, corrupted.chunk_bytes(2)),
               ErrorCode::chunk_digest_mismatch);
  CHECK(http.request("GET", server.url("/upload" + file.query(2)), alice).status == 204);  // not recorded
}

TEST_CASE("storage errors: insufficient storage and internal errors are clear and leave nothing", "[errors]") {
  TestServer server(configure_limits, faulty_store);
  auto large = make_file("no-space", 7 * 65536, 1, 65536);  // within max_file_size, beyond the storage's space
  expect_error(post(server, large, 1), ErrorCode::insufficient_storage);
  auto broken = make_file("device-error", 3 * 4096, 1, 4096);
  broken.file_name = "io-error.bin";
  expect_error(post(server, broken, 1), ErrorCode::internal_error);
  CHECK(http.request("GET", server.url("/upload" + broken.query(1)), alice).status == 204);
  CHECK(std::filesystem::is_empty(server.upload_to()));
}

TEST_CASE("upload_not_found for status, claims and foreign tokens", "[errors]") {
  TestServer server;
  expect_error(http.request("GET", server.url("/upload/status?identifier=nope"), alice), ErrorCode::upload_not_found);
  const auto claimed = server.endpoint().claim_upload(std::string(64, '0'), "alice");
  REQUIRE(std::holds_alternative<ErrorCode>(claimed));
  CHECK(std::get<ErrorCode>(claimed) == ErrorCode::upload_not_found);
}

TEST_CASE("chunk_busy when another request keeps writing the same chunk", "[errors]") {
  TestServer server(configure_limits, faulty_store);
  auto file = make_file("busy", 3 * 4096, 6, 4096);
  RawConnection slow(server.port());
  REQUIRE(slow.connected());
  // Headers and half the body: the server now holds chunk 1 for this request.
  REQUIRE(slow.send("POST /upload" + file.query(1) + " HTTP/1.1\r\nHost: x\r\nX-Test-User: alice\r\n" +
                    "Content-Type: application/octet-stream\r\nContent-Length: 4096\r\n\r\n" +
                    file.chunk_bytes(1).substr(0, 2048)));
  // Wait until the slow request has started (its upload exists), then race it.
  for (int i = 0; i < 200 && http.request("GET", server.url("/upload/status?identifier=busy"), alice).status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  expect_error(post(server, file, 1), ErrorCode::chunk_busy);
  // The slow request finishes; the chunk is then a duplicate for everyone else.
  REQUIRE(slow.send(file.chunk_bytes(1).substr(2048)));
  CHECK(slow.receive_until("}").find("HTTP/1.1 200") != std::string::npos);
  CHECK(post(server, file, 1).json()["duplicate"] == true);
}

TEST_CASE("request heads CivetWeb refuses get JSON errors too: malformed_request", "[errors]") {
  TestServer server;  // installs resumable::json_http_error as the context's http_error callback
  const auto refused = [&](const std::string& request) {
    RawConnection connection(server.port());
    REQUIRE(connection.connected());
    connection.send(request);  // may fail part-way: the server answers and closes early
    return connection.receive_until("}");
  };
  const std::string long_query = refused("GET /upload/status?identifier=" + std::string(64 * 1024, 'q') +
                                         " HTTP/1.1\r\nHost: x\r\n\r\n");
  INFO(long_query);
  CHECK(long_query.find("HTTP/1.1 400") == 0);
  CHECK(long_query.find("\"error\":\"malformed_request\"") != std::string::npos);
  const std::string garbage = refused("\x16\x03\x01 hello there\r\n\r\n");
  INFO(garbage);
  CHECK(garbage.find(" 400 ") != std::string::npos);
  CHECK(garbage.find("\"error\":\"malformed_request\"") != std::string::npos);
  // Statuses CivetWeb reports for other reasons keep its own handling.
  CHECK(json_http_error(nullptr, 404, "") == 1);
}

// Sends `head` and the first `prefix` bytes of `body`, then drips one byte every 50 ms; returns the
// reply and how long the server took to give it.
std::pair<std::string, double> drip_body(int port, const std::string& head, const std::string& body, std::size_t prefix) {
  RawConnection connection(port);
  REQUIRE(connection.connected());
  const auto started = std::chrono::steady_clock::now();
  REQUIRE(connection.send(head + body.substr(0, prefix)));
  std::atomic<bool> replied{false};
  std::thread dripper([&] {
    for (std::size_t i = prefix; i < body.size() && !replied; ++i) {
      if (!connection.send(body.substr(i, 1))) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  const std::string reply = connection.receive_until("}");
  replied = true;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  dripper.join();
  return {reply, seconds};
}

#if RESUMABLE_EXPECT_BODY_WATCHDOG
// Only the watchdog thread can end a body that still drips in (mg_read returns once all the bytes
// it was asked for have arrived); a build without it bounds bodies by request_timeout_ms only.
TEST_CASE("body_too_slow ends a dripping body, raw or multipart, while others are served", "[errors]") {
  TestServer server([](EndpointOptions& options) {
    options.limits.body_grace = std::chrono::milliseconds(500);
    options.limits.body_min_rate = 16 * 1024;  // allowance: 0.5 s + (received + 4 KiB) / 16 KiB/s
    options.limits.io_buffer_bytes = 4096;
  });
  auto file = make_file("dripping", 2 * 65536, 8);
  const std::string raw_head = "POST /upload" + file.query(1) + " HTTP/1.1\r\nHost: x\r\nX-Test-User: alice\r\n" +
                               "Content-Type: application/octet-stream\r\nContent-Length: 65536\r\n\r\n";
  const std::string part = "--XyZ12345\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob\"\r\n"
                           "Content-Type: application/octet-stream\r\n\r\n" + file.chunk_bytes(2) + "\r\n--XyZ12345--\r\n";
  const std::string multipart_head = "POST /upload" + file.query(2) + " HTTP/1.1\r\nHost: x\r\nX-Test-User: alice\r\n" +
                                     "Content-Type: multipart/form-data; boundary=XyZ12345\r\nContent-Length: " +
                                     std::to_string(part.size()) + "\r\n\r\n";
  // Without the watchdog, a byte every 50 ms would hold each request for about an hour.
  auto raw = std::async(std::launch::async, [&] { return drip_body(server.port(), raw_head, file.chunk_bytes(1), 5000); });
  auto multipart = std::async(std::launch::async, [&] { return drip_body(server.port(), multipart_head, part, 5000); });
  // Meanwhile another client uploads a whole file.
  auto other = make_file("meanwhile", 3 * 65536 + 1, 9);
  HttpResponse last;
  for (std::uint64_t k = 1; k <= other.chunk_count(); ++k) last = post(server, other, k);
  CHECK(last.json()["status"] == "complete");
  for (auto* dripping : {&raw, &multipart}) {
    const auto [reply, seconds] = dripping->get();
    INFO((dripping == &raw ? "raw body: " : "multipart body: ") << reply);
    CHECK(reply.find("HTTP/1.1 408") == 0);
    CHECK(reply.find("\"error\":\"body_too_slow\"") != std::string::npos);
    CHECK(reply.find("\"retryable\":true") != std::string::npos);
    CHECK(seconds > 0.5);  // not before its allowance
    CHECK(seconds < 5.0);  // about 0.5 + 0.55 s, checked every 0.25 s
  }
  // Nothing of the cut chunks was recorded; a normal retry stores them.
  const auto status = http.request("GET", server.url("/upload/status?identifier=dripping"), alice);
  CHECK((status.status == 404 || status.json()["received"].empty()));
  CHECK(post(server, file, 1).status == 200);
  CHECK(post(server, file, 2).json()["status"] == "complete");
}
#endif

TEST_CASE("a body that stops arriving is ended by request_timeout_ms, nothing recorded, others served", "[errors]") {
  TestServer server({}, {true, {}, 1000, 20});
  auto file = make_file("stalled", 2 * 65536, 8);
  RawConnection stalled(server.port());
  REQUIRE(stalled.connected());
  const auto started = std::chrono::steady_clock::now();
  REQUIRE(stalled.send("POST /upload" + file.query(1) + " HTTP/1.1\r\nHost: x\r\nX-Test-User: alice\r\n" +
                       "Content-Type: application/octet-stream\r\nContent-Length: 65536\r\n\r\n" +
                       file.chunk_bytes(1).substr(0, 1000)));
  // Meanwhile another client uploads a whole file.
  auto other = make_file("meanwhile-stalled", 3 * 65536 + 1, 9);
  HttpResponse last;
  for (std::uint64_t k = 1; k <= other.chunk_count(); ++k) last = post(server, other, k);
  CHECK(last.json()["status"] == "complete");
  const std::string reply = stalled.receive_until("}");  // the server closes the connection
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(reply);
  CHECK(seconds < 10.0);
  CHECK(reply.find("chunk_stored") == std::string::npos);
  const auto status = http.request("GET", server.url("/upload/status?identifier=stalled"), alice);
  CHECK((status.status == 404 || status.json()["received"].empty()));
  CHECK(post(server, file, 1).status == 200);  // the retry stores it
}

// A reply read off a raw connection, as HttpClient would give it.
HttpResponse parse_raw_reply(const std::string& raw) {
  HttpResponse reply;
  if (raw.rfind("HTTP/1.1 ", 0) == 0) reply.status = std::stol(raw.substr(9, 3));
  const auto end = raw.find("\r\n\r\n");
  reply.headers = raw.substr(0, end);
  if (end != std::string::npos) reply.body = raw.substr(end + 4);
  return reply;
}

namespace {

// A device's two firmware slots and record area as files, for a TestServer on the slot store
// (server/stores/slot): opened again at every (re)start, as a device reboots.
struct SlotDevice {
  TempDir dir;
  std::shared_ptr<FirmwareSlots> slots;
  void configure(EndpointOptions& o) {
    constexpr std::uint64_t slot_bytes = 1 << 20;
    std::string error;
    FirmwareSlots::Options flash;
    flash.slot_a = open_file_flash(dir.path() / "slot-a.img", slot_bytes, 4096, &error);
    flash.slot_b = open_file_flash(dir.path() / "slot-b.img", slot_bytes, 4096, &error);
    flash.boot_state_file = dir.path() / "boot-state.json";
    slots = FirmwareSlots::open(std::move(flash), &error);
    if (!slots) throw std::runtime_error("slots: " + error);
    SlotStoreOptions store;
    store.slots = slots;
    store.records = open_file_flash(dir.path() / "records.img", 16384, 4096, &error);
    PublicKey key{};
    SecretKey secret{};
    make_signing_keys(key, secret);  // a key nobody signs with: every image is refused
    store.public_key = key;
    o.store = make_slot_store(std::move(store), &error);
    if (!o.store) throw std::runtime_error("slot store: " + error);
  }
};

}  // namespace

TEST_CASE("every error code in the table is provoked by some test", "[errors]") {
  // One provoking request per row of the table, each checked like the tests above: a code without
  // a row here, or a row that no longer gets its code, fails.
  TestServer server(configure_limits, faulty_store);
  TestServer login;
  TestServer csrf([](EndpointOptions& o) { o.verify_request = [](mg_connection*) { return false; }; });
  TestServer tus_mount([](EndpointOptions& o) { o.tus_path = "/files"; });
  // A tus upload of 10 bytes with 4 stored; its URL.
  const auto tus_upload = [&] {
    const std::vector<std::string> headers = {"X-Test-User: alice", "Tus-Resumable: 1.0.0", "Upload-Length: 10"};
    const auto created = http.request("POST", tus_mount.url("/files"), headers);
    const auto at = created.headers.find("Location: ");
    REQUIRE(at != std::string::npos);
    const std::string url = tus_mount.url(created.headers.substr(at + 10, created.headers.find('\r', at) - at - 10));
    http.request("PATCH", url, {"X-Test-User: alice", "Tus-Resumable: 1.0.0", "Upload-Offset: 0",
                                "Content-Type: application/offset+octet-stream"}, "abcd");
    return url;
  };
  // A tus partial upload (Upload-Concat: partial) of 4 bytes, with all of them or 2; its URL.
  const std::vector<std::string> tus_alice = {"X-Test-User: alice", "Tus-Resumable: 1.0.0"};
  const auto with = [&](std::vector<std::string> headers) {
    headers.insert(headers.begin(), tus_alice.begin(), tus_alice.end());
    return headers;
  };
  const auto location_of = [&](const HttpResponse& created) {
    const auto at = created.headers.find("Location: ");
    REQUIRE(at != std::string::npos);
    return tus_mount.url(created.headers.substr(at + 10, created.headers.find('\r', at) - at - 10));
  };
  const auto tus_partial = [&](bool finished) {
    const std::string url =
        location_of(http.request("POST", tus_mount.url("/files"), with({"Upload-Concat: partial", "Upload-Length: 4"})));
    http.request("PATCH", url, with({"Upload-Offset: 0", "Content-Type: application/offset+octet-stream"}),
                 finished ? "abcd" : "ab");
    return url;
  };
  const auto concatenate = [&](const std::string& urls) {
    return http.request("POST", tus_mount.url("/files"), with({"Upload-Concat: final;" + urls}));
  };
  TestServer slow([](EndpointOptions& o) {
    o.limits.body_grace = std::chrono::milliseconds(200);
    o.limits.body_min_rate = 16 * 1024;
    o.limits.io_buffer_bytes = 4096;
  });
  // Each row uploads as a principal of its own, so that rows never meet (the mount allows two
  // unfinished uploads per principal).
  int serial = 0;
  std::vector<std::string> user;
  const auto fresh = [&](std::size_t size, std::uint64_t chunk_size = 4096) {
    ++serial;
    user = {"X-Test-User: provoker-" + std::to_string(serial)};
    return make_file("provoke-" + std::to_string(serial), size, static_cast<std::uint32_t>(serial), chunk_size);
  };
  SlotDevice slot_device;
  TestServer slot_server([&](EndpointOptions& o) { slot_device.configure(o); });
  const std::map<ErrorCode, std::function<HttpResponse()>> provokers = {
      {ErrorCode::unauthenticated, [&] { return post(login, fresh(1000), 1, {}, {}); }},
      {ErrorCode::forbidden, [&] { return post(csrf, fresh(1000), 1); }},
      {ErrorCode::not_found, [&] { return http.request("GET", server.url("/upload/nothing-here"), alice); }},
      {ErrorCode::method_not_allowed, [&] { return http.request("PATCH", server.url("/upload"), alice); }},
      {ErrorCode::unsupported_version,
       [&] { return http.request("POST", tus_mount.url("/files"), {"X-Test-User: alice", "Upload-Length: 10"}); }},
      {ErrorCode::offset_mismatch,
       [&] {
         return http.request("PATCH", tus_upload(), {"X-Test-User: alice", "Tus-Resumable: 1.0.0", "Upload-Offset: 2",
                                                     "Content-Type: application/offset+octet-stream"}, "cdef");
       }},
      {ErrorCode::unsupported_content_type,
       [&] {
         return http.request("PATCH", tus_upload(), {"X-Test-User: alice", "Tus-Resumable: 1.0.0", "Upload-Offset: 4",
                                                     "Content-Type: text/plain"}, "efgh");
       }},
      {ErrorCode::not_a_partial_upload, [&] { return concatenate(tus_partial(true) + " " + tus_upload()); }},
      {ErrorCode::partial_upload_unfinished, [&] { return concatenate(tus_partial(true) + " " + tus_partial(false)); }},
      {ErrorCode::final_upload_immutable,
       [&] {
         const auto created = concatenate(tus_partial(true));
         REQUIRE(created.status == 201);
         return http.request("PATCH", location_of(created),
                             with({"Upload-Offset: 4", "Content-Type: application/offset+octet-stream"}), "efgh");
       }},
      {ErrorCode::malformed_request,
       [&] {
         RawConnection connection(server.port());
         connection.send("\x16\x03\x01 hello there\r\n\r\n");
         return parse_raw_reply(connection.receive_until("}"));
       }},
      {ErrorCode::invalid_parameter, [&] {
         const auto file = fresh(1000);
         return post(server, file, 1, {"resumableChunkNumber=one"}, user);
       }},
      {ErrorCode::invalid_geometry, [&] {
         const auto file = fresh(3 * 4096);
         return post(server, file, 1, {"resumableTotalChunks=9"}, user);
       }},
      {ErrorCode::chunk_size_not_allowed, [&] {
         const auto file = fresh(3 * 4096);
         return post(server, file, 1, {"resumableChunkSize=100"}, user);
       }},
      {ErrorCode::invalid_body,
       [&] {
         const auto file = fresh(3 * 4096);
         return http.request("POST", server.url("/upload" + file.query(1)), user, file.chunk_bytes(1) + "x");
       }},
      {ErrorCode::upload_conflict,
       [&] {
         const auto file = fresh(3 * 4096);
         post(server, file, 1, {}, user);
         return post(server, file, 2, {"resumableFilename=other.bin"}, user);
       }},
      {ErrorCode::chunk_conflict,
       [&] {
         const auto file = fresh(3 * 4096);
         post(server, file, 1, {}, user);
         return post(server, file, 1, {"chunkDigest=" + file.chunk_digest(2)}, user);
       }},
      {ErrorCode::file_digest_mismatch,
       [&] {
         auto file = fresh(4096);
         file.file_digest = std::string(64, 'a');
         return post(server, file, 1, {}, user);
       }},
      {ErrorCode::file_too_large, [&] {
         const auto file = fresh(11 * 65536, 65536);
         return post(server, file, 1, {}, user);
       }},
      {ErrorCode::too_many_chunks, [&] {
         const auto file = fresh(9 * 2048, 2048);
         return post(server, file, 1, {}, user);
       }},
      {ErrorCode::type_not_allowed,
       [&] {
         auto file = fresh(1000);
         file.file_name = "setup.exe";
         return post(server, file, 1, {}, user);
       }},
      {ErrorCode::chunk_digest_mismatch,
       [&] {
         const auto file = fresh(3 * 4096);
         return http.request("POST", server.url("/upload" + file.query(2)), user, file.chunk_bytes(3));
       }},
      {ErrorCode::incomplete_body,
       [&] {
         const auto file = fresh(3 * 4096);
         return http.request("POST", server.url("/upload" + file.query(1)), user, file.chunk_bytes(1).substr(1), true);
       }},
#if RESUMABLE_EXPECT_BODY_WATCHDOG
      {ErrorCode::body_too_slow,
       [&] {
         const auto file = fresh(2 * 65536, 65536);
         const std::string head = "POST /upload" + file.query(1) + " HTTP/1.1\r\nHost: x\r\nX-Test-User: alice\r\n" +
                                  "Content-Type: application/octet-stream\r\nContent-Length: 65536\r\n\r\n";
         return parse_raw_reply(drip_body(slow.port(), head, file.chunk_bytes(1), 100).first);
       }},
#endif
      {ErrorCode::too_many_uploads,
       [&] {
         TestServer limited([](EndpointOptions& o) { o.limits.max_uploads_per_principal = 1; });
         post(limited, fresh(3 * 4096), 1);
         return post(limited, fresh(3 * 4096), 1);
       }},
      {ErrorCode::upload_not_found,
       [&] { return http.request("GET", server.url("/upload/status?identifier=never-uploaded"), alice); }},
      {ErrorCode::update_pending,
       [&] {
         REQUIRE(slot_device.slots->mark_pending({Slot::b, 10, {}, "pending-token"}));
         const auto response = post(slot_server, fresh(8192, 4096), 1, {}, user);
         REQUIRE(slot_device.slots->rollback());
         return response;
       }},
      {ErrorCode::slot_busy,
       [&] {
         const auto receiving = fresh(8192, 4096);
         const auto receiver = user;
         post(slot_server, receiving, 1, {}, receiver);  // an update being received
         const auto response = post(slot_server, fresh(8192, 4096), 1, {}, user);
         http.request("DELETE", slot_server.url("/upload?identifier=" + receiving.identifier), receiver);
         return response;
       }},
      {ErrorCode::slot_active,
       [&] {
         const auto file = fresh(8192, 4096);
         post(slot_server, file, 1, {}, user);
         // Across a restart the boot state says B runs (a bootloader's fallback): the update's slot.
         slot_server.restart([&] {
           std::ofstream(slot_device.dir.path() / "boot-state.json") << R"({"running":"b","pending":null})" << '\n';
         });
         const auto response = post(slot_server, file, 2, {}, user);
         http.request("DELETE", slot_server.url("/upload?identifier=" + file.identifier), user);
         slot_server.restart([&] {
           std::ofstream(slot_device.dir.path() / "boot-state.json") << R"({"running":"a","pending":null})" << '\n';
         });
         return response;
       }},
      {ErrorCode::image_rejected,
       [&] {
         const auto file = fresh(4096, 4096);  // all of it at once, and unsigned
         return post(slot_server, file, 1, {}, user);
       }},
      {ErrorCode::chunk_busy,
       [&] {
         const auto file = fresh(3 * 4096);
         RawConnection holder(server.port());
         holder.send("POST /upload" + file.query(1) + " HTTP/1.1\r\nHost: x\r\n" + user[0] + "\r\n" +
                     "Content-Type: application/octet-stream\r\nContent-Length: 4096\r\n\r\n" +
                     file.chunk_bytes(1).substr(0, 100));
         for (int i = 0; i < 200 && http.request("GET", server.url("/upload/status?identifier=" + file.identifier),
                                                 user).status != 200; ++i) {
           std::this_thread::sleep_for(std::chrono::milliseconds(10));
         }
         return post(server, file, 1, {}, user);
       }},
      {ErrorCode::out_of_order,
       [&] {
         auto file = fresh(3 * 4096);
         file.file_name = "in-order.bin";  // this store cannot read back: the file hash needs chunk 1 first
         return post(server, file, 2, {}, user);
       }},
      {ErrorCode::server_busy,
       [&] {
         // The status of an upload with more chunks than a page, on a mount that streams none at once.
         TestServer busy([](EndpointOptions& o) {
           o.limits.max_streamed_replies = 0;
           o.limits.chunk_wait = std::chrono::milliseconds(100);
         });
         const auto file = fresh(2000 * 64, 64);
         post(busy, file, 1, {}, user);
         busy.restart([&] {
           std::filesystem::path dir = *std::filesystem::directory_iterator(busy.chunk_dir());
           std::ofstream log(dir / "pieces.log", std::ios::binary | std::ios::app);
           for (std::uint64_t k = 2; k <= 2000; ++k) {
             const std::uint64_t offset = (k - 1) * 64;
             const auto digest = core::chunk_digest(std::span(file.bytes.data() + offset, 64), offset, file.bytes.size());
             const auto record = encode_piece_record({offset, 64, *digest, 1, {}});
             log.write(reinterpret_cast<const char*>(record.data()), static_cast<std::streamsize>(record.size()));
           }
         });
         return http.request("GET", busy.url("/upload/status?identifier=" + file.identifier), user);
       }},
      {ErrorCode::insufficient_storage, [&] {
         const auto file = fresh(7 * 65536, 65536);
         return post(server, file, 1, {}, user);
       }},
      {ErrorCode::internal_error,
       [&] {
         auto file = fresh(3 * 4096);
         file.file_name = "io-error.bin";
         return post(server, file, 1, {}, user);
       }},
  };
  for (const auto& row : error_table()) {
    INFO("error code " << row.id);
#if !RESUMABLE_EXPECT_BODY_WATCHDOG
    if (row.code == ErrorCode::body_too_slow) continue;  // only the watchdog gives it (see above)
#endif
    const auto provoker = provokers.find(row.code);
    REQUIRE(provoker != provokers.end());
    expect_error(provoker->second(), row.code);
  }
  CHECK(provokers.size() == error_table().size() - (RESUMABLE_EXPECT_BODY_WATCHDOG ? 0 : 1));
}
