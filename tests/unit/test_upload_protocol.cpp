// The upload endpoint over real HTTP: chunk uploads in both parameter families and body encodings,
// test GETs, status, cancel, final results and claims.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <thread>

#include "resumable/memory_store.h"
#include "resumable/widget_assets.h"
#include "server_fixture.h"

using namespace resumable;
using namespace resumable::testing;

namespace {

const std::vector<std::string> alice = {"X-Test-User: alice"};
const HttpClient http;

HttpResponse send_chunk(TestServer& server, const TestFile& file, std::uint64_t number,
                        const std::vector<std::string>& overrides = {},
                        const std::vector<std::string>& headers = alice) {
  return http.request("POST", server.url("/upload" + file.query(number, overrides)), headers, file.chunk_bytes(number));
}

HttpResponse upload_all(TestServer& server, const TestFile& file, const std::vector<std::string>& headers = alice) {
  HttpResponse last;
  for (std::uint64_t k = 1; k <= file.chunk_count(); ++k) {
    last = send_chunk(server, file, k, {}, headers);
    if (last.status != 200) break;
  }
  return last;
}

}  // namespace

TEST_CASE("a file uploaded as raw chunks is released byte-identical with its tree digest", "[endpoint]") {
  TestServer server;
  auto file = make_file("raw-upload", 5 * 65536 + 1234);
  for (std::uint64_t k = 1; k < file.chunk_count(); ++k) {
    const auto reply = send_chunk(server, file, k);
    REQUIRE(reply.status == 200);
    CHECK(reply.json()["status"] == "chunk_stored");
    // CivetWeb's keep-alive is off here, so every reply must say the connection closes.
    CHECK(reply.headers.find("Connection: close\r\n") != std::string::npos);
    CHECK(reply.json()["received"] == k);
  }
  const auto final = send_chunk(server, file, file.chunk_count());
  REQUIRE(final.status == 200);
  const auto result = final.json();
  CHECK(result["status"] == "complete");
  CHECK(result["size"] == file.bytes.size());
  CHECK(result["fileDigest"] == file.file_digest_hex());
  CHECK(result["token"].get<std::string>().size() == 64);
  REQUIRE(server.completions() == 1);

  const auto claimed = server.endpoint().claim_upload(result["token"], "alice");
  REQUIRE(std::holds_alternative<ClaimedUpload>(claimed));
  const auto& c = std::get<ClaimedUpload>(claimed);
  CHECK(c.size == file.bytes.size());
  CHECK(c.file_name == "data.bin");
  CHECK(std::filesystem::path(c.location).parent_path() == server.upload_to());
  CHECK(read_file(c.location) == std::string(file.bytes.begin(), file.bytes.end()));
  // The partial data and record are gone; only the released file remains.
  CHECK(std::filesystem::is_empty(server.chunk_dir()));
}

TEST_CASE("a chunk past 4 GiB lands at its offset in the partial file (64-bit offsets on 32-bit builds too)", "[endpoint]") {
  // The partial file is sparse: created at its full size at the first chunk, written at offsets.
  // A 32-bit off_t (armhf without _FILE_OFFSET_BITS=64) would cut both the size and the offset.
  TestServer server;
  auto chunk = make_file("past-4-gib", 1 << 20);
  chunk.chunk_size = 1 << 20;
  chunk.send_chunk_digest = false;  // its tree digest depends on offset and file size; resumable.js sends none
  const std::uint64_t total = (std::uint64_t{4} << 30) + 2 * chunk.chunk_size;
  const auto reply = http.request("POST", server.url("/upload" + chunk.query(1, {
      "resumableChunkNumber=4097", "resumableTotalSize=" + std::to_string(total), "resumableTotalChunks=4098"})),
      alice, chunk.chunk_bytes(1));
  REQUIRE(reply.status == 200);
  CHECK(reply.json()["status"] == "chunk_stored");

  std::vector<std::filesystem::path> uploads;
  for (const auto& entry : std::filesystem::directory_iterator(server.chunk_dir())) {
    if (entry.is_directory()) uploads.push_back(entry.path());
  }
  REQUIRE(uploads.size() == 1);
  const int fd = ::open((uploads[0] / "data").c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  struct stat info {};
  REQUIRE(::fstat(fd, &info) == 0);
  CHECK(static_cast<std::uint64_t>(info.st_size) == total);
  std::vector<std::uint8_t> stored(chunk.bytes.size());
  const auto got = ::pread(fd, stored.data(), stored.size(), static_cast<off_t>(std::uint64_t{4} << 30));
  ::close(fd);
  CHECK(got == static_cast<ssize_t>(stored.size()));
  CHECK(stored == chunk.bytes);
}

TEST_CASE("chunks ahead of the digest frontier inside one leaf are read back in order, in more pieces than the ring holds",
          "[endpoint]") {
  // 24 KiB chunks all lie inside the file's first leaf: the frontier reads each back (its head) once
  // the ones before it are in. 4 KiB buffers, a ring of 3: each chunk read back reuses every buffer
  // twice. With write threads the reads run ahead on the pool; without, one after the other.
  for (const std::size_t write_threads : {std::size_t{4}, std::size_t{0}}) {
    INFO("write_threads " << write_threads);
    TestServer server([&](EndpointOptions& options) {
      options.limits.io_buffer_bytes = 4096;
      options.limits.io_buffers = 3;
      options.limits.write_threads = write_threads;
    });
    auto file = make_file("read-back-" + std::to_string(write_threads), 4 * 6 * 4096 + 777, 13, 6 * 4096);
    // Declared, so that only heads are read (without it each chunk read back is checked whole).
    file.file_digest = file.file_digest_hex();
    for (std::uint64_t k = file.chunk_count(); k > 1; --k) REQUIRE(send_chunk(server, file, k).status == 200);
    const auto last = send_chunk(server, file, 1);  // reads back chunks 2..n into the first leaf
    REQUIRE(last.status == 200);
    CHECK(last.json()["status"] == "complete");
    CHECK(last.json()["fileDigest"] == file.file_digest_hex());
  }
}

TEST_CASE("multipart bodies with resumable.js and flow.js parameter names are accepted", "[endpoint]") {
  TestServer server;
  for (const std::string& prefix : {std::string("resumable"), std::string("flow")}) {
    auto file = make_file("multipart-" + prefix, 3 * 65536 + 17, 11);
    HttpResponse reply;
    for (std::uint64_t k = 1; k <= file.chunk_count(); ++k) {
      const auto s = file.span(k);
      std::vector<MultipartPart> parts = {
          {prefix + "ChunkNumber", std::to_string(k), ""},
          {prefix + "ChunkSize", std::to_string(file.chunk_size), ""},
          {prefix + "CurrentChunkSize", std::to_string(s.size), ""},
          {prefix + "TotalSize", std::to_string(file.bytes.size()), ""},
          {prefix + "Identifier", file.identifier, ""},
          {prefix + "Filename", file.file_name, ""},
          {prefix + "RelativePath", file.file_name, ""},
          {prefix + "TotalChunks", std::to_string(file.chunk_count()), ""},
          {"file", file.chunk_bytes(k), "blob"},
      };
      reply = http.multipart(server.url("/upload"), alice, parts);
      INFO(prefix << " chunk " << k << ": " << reply.body);
      REQUIRE(reply.status == 200);
    }
    CHECK(reply.json()["status"] == "complete");
    CHECK(reply.json()["fileDigest"] == file.file_digest_hex());
  }
}

TEST_CASE("a multipart file part before its parameters is refused", "[endpoint]") {
  TestServer server;
  auto file = make_file("late-params", 1000);
  const auto reply = http.multipart(server.url("/upload"), alice,
                                    {{"file", file.chunk_bytes(1), "blob"}, {"resumableChunkNumber", "1", ""}});
  CHECK(reply.status == 400);
  CHECK(reply.error_code() == "invalid_parameter");
}

TEST_CASE("the last chunk may absorb the remainder or be short (forceChunkSize)", "[endpoint]") {
  TestServer server;
  auto absorbing = make_file("absorb", 2 * 65536 - 1);  // one chunk of 2C-1 bytes
  REQUIRE(absorbing.chunk_count() == 1);
  CHECK(upload_all(server, absorbing).json()["fileDigest"] == absorbing.file_digest_hex());

  auto forced = make_file("forced", 2 * 65536 - 1);
  forced.force_chunk_size = true;
  REQUIRE(forced.chunk_count() == 2);
  CHECK(upload_all(server, forced).json()["fileDigest"] == forced.file_digest_hex());

  auto empty = make_file("empty", 0);
  CHECK(upload_all(server, empty).json()["fileDigest"] == empty.file_digest_hex());
}

TEST_CASE("test GETs answer present, absent or the final result", "[endpoint]") {
  TestServer server;
  auto file = make_file("testget", 3 * 65536);
  REQUIRE(http.request("GET", server.url("/upload" + file.query(1)), alice).status == 204);  // no upload yet
  REQUIRE(send_chunk(server, file, 1).status == 200);
  const auto present = http.request("GET", server.url("/upload" + file.query(1)), alice);
  CHECK(present.status == 200);
  CHECK(present.json()["status"] == "chunk_present");
  CHECK(http.request("GET", server.url("/upload" + file.query(2)), alice).status == 204);
  // "present" only when the stored digest is the one asked about.
  const auto other_digest = file.query(1, {"chunkDigest=" + std::string(64, 'a')});
  CHECK(http.request("GET", server.url("/upload" + other_digest), alice).status == 204);
  // A test GET never creates an upload.
  auto unknown = make_file("never-created", 100);
  CHECK(http.request("GET", server.url("/upload" + unknown.query(1)), alice).status == 204);
  CHECK(http.request("GET", server.url("/upload/status?identifier=never-created"), alice).status == 404);

  REQUIRE(send_chunk(server, file, 2).status == 200);
  const auto last = send_chunk(server, file, 3);
  REQUIRE(last.json()["status"] == "complete");
  const auto after = http.request("GET", server.url("/upload" + file.query(2)), alice);
  CHECK(after.status == 200);
  CHECK(after.json() == last.json());  // every request that observes completion returns the same result
}

TEST_CASE("one status request tells which chunks the server holds, with their digests", "[endpoint]") {
  TestServer server;
  auto file = make_file("status", 6 * 65536, 5);
  file.file_digest = file.file_digest_hex();
  for (std::uint64_t k : {1, 2, 4, 6}) REQUIRE(send_chunk(server, file, k).status == 200);
  for (const char* param : {"identifier", "resumableIdentifier", "flowIdentifier"}) {
    const auto reply = http.request("GET", server.url(std::string("/upload/status?") + param + "=status"), alice);
    REQUIRE(reply.status == 200);
    const auto status = reply.json();
    CHECK(status["status"] == "partial");
    CHECK(status["chunkCount"] == 6);
    CHECK(status["totalSize"] == 6 * 65536);
    CHECK(status["received"] == nlohmann::json::parse("[[1,2],[4,4],[6,6]]"));
    CHECK(status["digests"] == nlohmann::json({file.chunk_digest(1), file.chunk_digest(2), file.chunk_digest(4),
                                               file.chunk_digest(6)}));
    CHECK(status["fileDigest"] == file.file_digest_hex());
  }
  for (std::uint64_t k : {3, 5}) REQUIRE(send_chunk(server, file, k).status == 200);
  const auto done = http.request("GET", server.url("/upload/status?identifier=status"), alice);
  CHECK(done.json()["status"] == "complete");
}

TEST_CASE("a duplicate chunk is acknowledged without being rewritten", "[endpoint]") {
  TestServer server;
  auto file = make_file("duplicate", 3 * 65536);
  REQUIRE(send_chunk(server, file, 2).status == 200);
  const auto again = send_chunk(server, file, 2);
  CHECK(again.status == 200);
  CHECK(again.json()["duplicate"] == true);
  CHECK(again.json()["received"] == 1);
  // A retry without a digest but with different bytes does not overwrite the stored chunk.
  auto changed = file;
  changed.send_chunk_digest = false;
  std::string garbage(65536, 'x');
  const auto overwrite = http.request("POST", server.url("/upload" + changed.query(2)), alice, garbage);
  CHECK(overwrite.json()["duplicate"] == true);
  REQUIRE(send_chunk(server, file, 1).status == 200);
  CHECK(send_chunk(server, file, 3).json()["fileDigest"] == file.file_digest_hex());
}

TEST_CASE("cancel deletes an upload's data and a later upload starts afresh", "[endpoint]") {
  TestServer server;
  auto file = make_file("cancel-me", 3 * 65536);
  REQUIRE(send_chunk(server, file, 1).status == 200);
  REQUIRE_FALSE(std::filesystem::is_empty(server.chunk_dir()));
  CHECK(http.request("DELETE", server.url("/upload?identifier=cancel-me"), alice).status == 204);
  CHECK(std::filesystem::is_empty(server.chunk_dir()));
  CHECK(http.request("GET", server.url("/upload/status?identifier=cancel-me"), alice).status == 404);
  CHECK(http.request("DELETE", server.url("/upload?identifier=cancel-me"), alice).status == 204);  // idempotent
  CHECK(upload_all(server, file).json()["fileDigest"] == file.file_digest_hex());
  // Cancelling a finished, unclaimed upload deletes the released file too.
  CHECK(http.request("DELETE", server.url("/upload?identifier=cancel-me"), alice).status == 204);
  CHECK(std::filesystem::is_empty(server.upload_to()));
}

TEST_CASE("a first chunk whose connection drops leaves no upload behind", "[endpoint]") {
  TestServer server;
  auto file = make_file("dropped-first", 3 * 65536);
  {
    RawConnection connection(server.port());
    REQUIRE(connection.connected());
    REQUIRE(connection.send("POST /upload" + file.query(1) + " HTTP/1.1\r\nHost: x\r\nX-Test-User: alice\r\n" +
                            "Content-Type: application/octet-stream\r\nContent-Length: 65536\r\n\r\n" +
                            file.chunk_bytes(1).substr(0, 1000)));
    // Wait until the server has created the upload for this request, then drop the connection.
    HttpResponse status;
    for (int i = 0; i < 500; ++i) {
      status = http.request("GET", server.url("/upload/status?identifier=dropped-first"), alice);
      if (status.status == 200) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    REQUIRE(status.status == 200);
  }
  // The request fails when its body ends early; the empty upload it created is removed with it
  // (forgotten first, then its directory removed: wait for both).
  HttpResponse status;
  for (int i = 0; i < 500; ++i) {
    status = http.request("GET", server.url("/upload/status?identifier=dropped-first"), alice);
    if (status.status == 404 && std::filesystem::is_empty(server.chunk_dir())) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(status.status == 404);
  CHECK(std::filesystem::is_empty(server.chunk_dir()));
}

TEST_CASE("a declared file digest is verified before the file is released", "[endpoint]") {
  TestServer server;
  auto good = make_file("declared-good", 4 * 65536 + 3);
  good.file_digest = good.file_digest_hex();
  CHECK(upload_all(server, good).json()["status"] == "complete");

  auto bad = make_file("declared-bad", 4 * 65536 + 3, 99);
  bad.file_digest = good.file_digest_hex();  // the digest of another file
  HttpResponse last;
  for (std::uint64_t k = 1; k <= bad.chunk_count(); ++k) last = send_chunk(server, bad, k);
  CHECK(last.status == 409);
  CHECK(last.error_code() == "file_digest_mismatch");
  CHECK(server.completions() == 1);
  CHECK(http.request("GET", server.url("/upload/status?identifier=declared-bad"), alice).status == 404);
}

TEST_CASE("a file digest declared after the first chunks is recorded, survives a restart and is verified",
          "[endpoint]") {
  TestServer server;
  auto file = make_file("late-digest", 4 * 65536, 31);
  REQUIRE(send_chunk(server, file, 1).status == 200);  // no fileDigest yet
  auto wrong = file;
  wrong.file_digest = std::string(64, 'e');  // declared by chunk 2 (wrongly)
  REQUIRE(send_chunk(server, wrong, 2).status == 200);
  CHECK(http.request("GET", server.url("/upload/status?identifier=late-digest"), alice).json()["fileDigest"] ==
        std::string(64, 'e'));
  server.restart();
  // A different declaration is now a conflict; chunks without one are fine.
  auto other = file;
  other.file_digest = file.file_digest_hex();
  CHECK(send_chunk(server, other, 3).error_code() == "upload_conflict");
  REQUIRE(send_chunk(server, file, 3).status == 200);
  const auto last = send_chunk(server, file, 4);
  CHECK(last.error_code() == "file_digest_mismatch");
  CHECK(server.completions() == 0);

  auto good = make_file("late-digest-good", 4 * 65536, 32);
  for (std::uint64_t k = 1; k <= 4; ++k) {
    if (k == 3) good.file_digest = good.file_digest_hex();
    REQUIRE(send_chunk(server, good, k).status == 200);
  }
  CHECK(server.completions() == 1);
}

TEST_CASE("an upload recorded before the tree digest resumes: its chunks are asked again, its old digest dropped",
          "[endpoint]") {
  TestServer server;
  auto file = make_file("older-records", 3 * 65536 + 9, 33);
  file.file_digest = file.file_digest_hex();
  REQUIRE(send_chunk(server, file, 1).status == 200);
  REQUIRE(send_chunk(server, file, 2).status == 200);
  server.restart([&] {
    // As an older build left it: a version 2 manifest declaring a plain BLAKE2b-256 file digest,
    // and 56-byte piece records of plain digests.
    const auto dir = *std::filesystem::directory_iterator(server.chunk_dir());
    std::ifstream in(dir.path() / "manifest.json");
    auto manifest = nlohmann::json::parse(in);
    in.close();
    manifest["version"] = 2;
    manifest["declaredFileDigest"] = core::to_hex(core::blake2b256(file.bytes.data(), file.bytes.size()));
    std::ofstream(dir.path() / "manifest.json", std::ios::trunc) << manifest.dump();
    std::ofstream(dir.path() / "pieces.log", std::ios::binary | std::ios::trunc) << std::string(2 * 56, 'x');
  });
  const auto status = http.request("GET", server.url("/upload/status?identifier=older-records"), alice);
  REQUIRE(status.status == 200);
  CHECK(status.json()["received"] == nlohmann::json::array());  // asked again: their digests were another algorithm's
  CHECK(status.json()["fileDigest"].is_null());
  for (std::uint64_t k = 1; k < file.chunk_count(); ++k) REQUIRE(send_chunk(server, file, k).status == 200);
  const auto last = send_chunk(server, file, file.chunk_count());
  REQUIRE(last.json()["status"] == "complete");
  CHECK(last.json()["fileDigest"] == file.file_digest_hex());
  server.restart();  // the records written since are the new ones, and read as such
  CHECK(http.request("GET", server.url("/upload/status?identifier=older-records"), alice).json()["status"] == "complete");
}

TEST_CASE("Expect: 100-continue is answered before the body is sent", "[endpoint]") {
  TestServer server;
  auto file = make_file("expect", 1000);
  RawConnection connection(server.port());
  REQUIRE(connection.connected());
  REQUIRE(connection.send("POST /upload" + file.query(1) + " HTTP/1.1\r\nHost: x\r\nX-Test-User: alice\r\n" +
                          "Content-Type: application/octet-stream\r\nContent-Length: 1000\r\n" +
                          "Expect: 100-continue\r\n\r\n"));
  const auto interim = connection.receive_until("\r\n\r\n");
  REQUIRE(interim.rfind("HTTP/1.1 100 Continue", 0) == 0);
  REQUIRE(connection.send(file.chunk_bytes(1)));
  const auto reply = connection.receive_until("}");
  CHECK(reply.find("HTTP/1.1 200") != std::string::npos);
  CHECK(reply.find("\"complete\"") != std::string::npos);
}

namespace {

// Threads of this process now (each ctest runs one test case in a process of its own).
std::size_t thread_count() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++count;
  return count;
}

}  // namespace

TEST_CASE("the endpoint starts exactly the threads its build switches promise", "[endpoint][profile]") {
  // The device profile (RESUMABLE_PROFILE=device) promises none beside CivetWeb's workers; the
  // host's are the writer threads, the collector and the body watchdog, each behind its switch.
  CHECK(device_profile == static_cast<bool>(RESUMABLE_EXPECT_DEVICE_PROFILE));
  const UploadLimits defaults;
  const std::size_t promised = (RESUMABLE_EXPECT_WRITE_BEHIND ? defaults.write_threads : 0) +
                               (RESUMABLE_EXPECT_COLLECTOR_THREAD ? 1 : 0) + (RESUMABLE_EXPECT_BODY_WATCHDOG ? 1 : 0);
#if RESUMABLE_EXPECT_DEVICE_PROFILE
  CHECK(promised == 0);
  // One body buffer per receiving request, within the 64 KiB per upload connection the device aims at.
  CHECK(defaults.io_buffer_bytes * defaults.io_buffers <= 64 * 1024);
  CHECK(defaults.idle_io_buffers == 0);
  CHECK_FALSE(FilesystemStoreOptions{}.direct_io);
#endif
  {
    const std::size_t before = thread_count();
    EndpointOptions options;  // every default but the store: collection every 10 min, a minimum body rate
    options.store = std::make_shared<MemoryStore>();
    options.log = [](const std::string&) {};
    std::string error;
    const auto endpoint = UploadEndpoint::create(std::move(options), &error);
    REQUIRE(endpoint);
    CHECK(thread_count() - before == promised);
  }
  // Nor does receiving and releasing a file start one later (CivetWeb's workers are all started).
  TestServer server([](EndpointOptions& o) { o.collect_interval = std::chrono::minutes(10); });
  const std::size_t serving = thread_count();
  auto file = make_file("no-late-threads", 3 * 65536 + 5);
  REQUIRE(upload_all(server, file).json()["status"] == "complete");
  CHECK(thread_count() == serving);
}

TEST_CASE("the widget's files are served from memory below the mount", "[endpoint]") {
  TestServer server;
  const auto assets = widget::embedded_assets();
  // Builds with the widget compile it in (the WebAssembly build, RESUMABLE_WIDGET_ASSETS); the others
  // serve nothing there. Either way the table must be what the build promised.
#if RESUMABLE_EXPECT_WIDGET_ASSETS
  std::set<std::string> paths;
  for (const auto& asset : assets) paths.insert(std::string(asset.path));
  for (const char* expected : {"/resumable-widget.js", "/resumable-widget.mjs", "/resumable-hash-worker.js",
                               "/resumable-widget.css", "/resumable_core.js", "/resumable_core.wasm"}) {
    CHECK(paths.count(expected) == 1);
  }
#else
  CHECK(assets.empty());
  CHECK(http.request("GET", server.url("/upload/widget/resumable-widget.js"), alice).status == 404);
#endif
  for (const auto& asset : assets) {
    INFO(asset.path);
    const auto reply = http.request("GET", server.url("/upload/widget" + std::string(asset.path)), alice);
    CHECK(reply.status == 200);
    CHECK(reply.body == std::string(reinterpret_cast<const char*>(asset.data), asset.size));
    CHECK(asset.size > 0);
    CHECK(reply.headers.find("Content-Type: " + std::string(asset.content_type)) != std::string::npos);
  }
  const auto reply = http.request("GET", server.url("/upload/widget/no-such-file.js"), alice);
  CHECK(reply.status == 404);
  CHECK(reply.error_code() == "not_found");
  CHECK(http.request("GET", server.url("/upload/elsewhere"), alice).error_code() == "not_found");
}

TEST_CASE("pages on allowed origins get CORS answers; others get none", "[endpoint][cors]") {
  TestServer server([](EndpointOptions& o) {
    o.cross_origin.allowed_origins = {"http://pages.example"};
    o.cross_origin.allow_credentials = true;
  });
  auto file = make_file("cors", 2 * 4096, 41, 4096);
  const std::vector<std::string> from_page = {"X-Test-User: alice", "Origin: http://pages.example"};
  // Preflight: answered before authorization (browsers send no credentials with it).
  const auto preflight = http.request("OPTIONS", server.url("/upload"), {"Origin: http://pages.example",
      "Access-Control-Request-Method: POST", "Access-Control-Request-Headers: x-csrf-token, content-type"});
  CHECK(preflight.status == 204);
  CHECK(preflight.headers.find("Access-Control-Allow-Origin: http://pages.example\r\n") != std::string::npos);
  CHECK(preflight.headers.find("Access-Control-Allow-Credentials: true\r\n") != std::string::npos);
  CHECK(preflight.headers.find("Access-Control-Allow-Methods: GET, POST, PUT, DELETE\r\n") != std::string::npos);
  CHECK(preflight.headers.find("Access-Control-Allow-Headers: x-csrf-token, content-type\r\n") != std::string::npos);
  const auto foreign_preflight = http.request("OPTIONS", server.url("/upload"),
                                              {"Origin: http://elsewhere.example", "Access-Control-Request-Method: POST"});
  CHECK(foreign_preflight.status == 403);
  CHECK(foreign_preflight.headers.find("Access-Control-Allow-Origin") == std::string::npos);
  // Every reply to the allowed page carries them, errors included, so that the page can read them.
  const auto stored = http.request("POST", server.url("/upload" + file.query(1)), from_page, file.chunk_bytes(1));
  CHECK(stored.status == 200);
  CHECK(stored.headers.find("Access-Control-Allow-Origin: http://pages.example\r\n") != std::string::npos);
  CHECK(stored.headers.find("Vary: Origin\r\n") != std::string::npos);
  const auto refused = http.request("GET", server.url("/upload/status?identifier=cors"), {"Origin: http://pages.example"});
  CHECK(refused.status == 401);
  CHECK(refused.headers.find("Access-Control-Allow-Origin: http://pages.example\r\n") != std::string::npos);
  // Another origin's page gets the same reply without them: its browser keeps it from the page.
  const auto foreign = http.request("GET", server.url("/upload/status?identifier=cors"),
                                    {"X-Test-User: alice", "Origin: http://elsewhere.example"});
  CHECK(foreign.status == 200);
  CHECK(foreign.headers.find("Access-Control-Allow-Origin") == std::string::npos);
}

TEST_CASE("without allowed origins no CORS header is sent; widget files allow any origin", "[endpoint][cors]") {
  TestServer server;
  const auto preflight = http.request("OPTIONS", server.url("/upload"),
                                      {"Origin: http://pages.example", "Access-Control-Request-Method: POST"});
  CHECK(preflight.status == 403);
  const auto status = http.request("GET", server.url("/upload/status?identifier=x"),
                                   {"X-Test-User: alice", "Origin: http://pages.example"});
  CHECK(status.headers.find("Access-Control-Allow-Origin") == std::string::npos);
  for (const auto& asset : widget::embedded_assets()) {
    const auto reply = http.request("GET", server.url("/upload/widget" + std::string(asset.path)), {});
    CHECK(reply.headers.find("Access-Control-Allow-Origin: *\r\n") != std::string::npos);
  }
}

TEST_CASE("a wildcard origin is answered with * and never with credentials", "[endpoint][cors]") {
  TestServer server([](EndpointOptions& o) {
    o.cross_origin.allowed_origins = {"*"};
    o.cross_origin.allow_credentials = true;  // ignored for a wildcard
  });
  const auto reply = http.request("GET", server.url("/upload/status?identifier=x"),
                                  {"X-Test-User: alice", "Origin: http://anywhere.example"});
  CHECK(reply.headers.find("Access-Control-Allow-Origin: *\r\n") != std::string::npos);
  CHECK(reply.headers.find("Access-Control-Allow-Credentials") == std::string::npos);
}
