// The S3 client and the S3 store against a real radosgw (tests/support/ceph_fixture.sh starts a
// single-node Ceph and sets RESUMABLE_S3_* and the AWS_* credentials): each S3 call the store
// uses, retries through an outage, then the store's contract (parts, staging, release, remove).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>

#include "resumable/s3_client.h"
#include "resumable/s3_store.h"
#include "resumable/secure_random.h"
#include "core_requests.h"

using namespace resumable;

namespace {

constexpr std::uint64_t MiB = std::uint64_t{1} << 20;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) FAIL(std::string(name) + " is not set: run through tests/support/ceph_fixture.sh");
  return value;
}

S3Options options_from_fixture() {
  S3Options options;
  options.endpoint = env("RESUMABLE_S3_ENDPOINT");
  options.bucket = env("RESUMABLE_S3_BUCKET");
  options.region = env("RESUMABLE_S3_REGION");
  return options;  // credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
}

std::unique_ptr<S3Client> client(S3Options options = options_from_fixture()) {
  std::string error;
  auto made = S3Client::create(std::move(options), &error);
  INFO(error);
  REQUIRE(made);
  return made;
}

std::string random_bytes(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; i += 8) {
    const std::uint64_t word = random();
    std::memcpy(bytes.data() + i, &word, std::min<std::size_t>(8, size - i));
  }
  return bytes;
}

void fixture(const char* command) {
  const std::string line = "bash " + env("RESUMABLE_CEPH_FIXTURE") + " " + command;
  REQUIRE(std::system(line.c_str()) == 0);
}

std::string unique(const std::string& name) { return "t/" + core::random_hex(8) + "/" + name; }

}  // namespace

TEST_CASE("S3 client: puts, gets whole and by range, lists and deletes objects", "[s3][client]") {
  auto s3 = client();
  const std::string dir = unique("");
  const std::string body = random_bytes(3 * MiB + 17, 1);
  REQUIRE(s3->put_object(dir + "a", body));
  REQUIRE(s3->put_object(dir + "b/c", "small"));
  std::string read;
  REQUIRE(s3->get_object(dir + "a", read));
  CHECK(read == body);
  REQUIRE(s3->get_object(dir + "a", read, MiB + 3, 1000));
  CHECK(read == body.substr(MiB + 3, 1000));
  CHECK(s3->head_object(dir + "a"));
  CHECK(s3->head_object(dir + "missing").code == StorageCode::not_found);
  CHECK(s3->get_object(dir + "missing", read).code == StorageCode::not_found);

  std::vector<S3ObjectInfo> objects;
  std::vector<std::string> prefixes;
  REQUIRE(s3->list_objects(dir, objects, "/", &prefixes));
  REQUIRE(objects.size() == 1);
  CHECK(objects[0].key == dir + "a");
  CHECK(objects[0].size == body.size());
  CHECK(prefixes == std::vector<std::string>{dir + "b/"});
  REQUIRE(s3->list_objects(dir, objects));
  CHECK(objects.size() == 2);

  REQUIRE(s3->delete_object(dir + "a"));
  REQUIRE(s3->delete_object(dir + "a"));  // gone already: still success
  CHECK(s3->head_object(dir + "a").code == StorageCode::not_found);
}

TEST_CASE("S3 client: lists more keys than one page holds", "[s3][client]") {
  auto s3 = client();
  const std::string dir = unique("");
  for (int i = 0; i < 1005; ++i) REQUIRE(s3->put_object(dir + std::to_string(i), "x"));
  std::vector<S3ObjectInfo> objects;
  REQUIRE(s3->list_objects(dir, objects));
  CHECK(objects.size() == 1005);
}

TEST_CASE("S3 client: a conditional put keeps the first object (If-None-Match: *)", "[s3][client]") {
  auto s3 = client();
  const std::string key = unique("final.json");
  REQUIRE(s3->put_object(key, "first", true));
  CHECK(s3->put_object(key, "second", true).code == StorageCode::conflict);
  std::string read;
  REQUIRE(s3->get_object(key, read));
  CHECK(read == "first");
}

TEST_CASE("S3 client: a multipart upload with parts out of order, a part sent again and a copied part", "[s3][client]") {
  auto s3 = client();
  const std::string key = unique("object.bin");
  const std::string one = random_bytes(5 * MiB, 2), two = random_bytes(6 * MiB, 3), three = random_bytes(MiB + 5, 4);
  const std::string source = unique("staged");
  REQUIRE(s3->put_object(source, three));
  std::string upload_id;
  REQUIRE(s3->create_multipart_upload(key, upload_id));
  std::string etag;
  REQUIRE(s3->upload_part(key, upload_id, 2, random_bytes(6 * MiB, 99), etag));  // replaced below: the last one wins
  REQUIRE(s3->upload_part(key, upload_id, 2, two, etag));
  REQUIRE(s3->upload_part(key, upload_id, 1, one, etag));
  REQUIRE(s3->upload_part_copy(key, upload_id, 3, source, etag));
  CHECK(s3->upload_part(key, upload_id, 10001, "x", etag).code == StorageCode::io_error);

  std::vector<S3Part> parts;
  REQUIRE(s3->list_parts(key, upload_id, parts));
  REQUIRE(parts.size() == 3);
  CHECK(parts[0].number == 1);
  CHECK(parts[1].size == two.size());
  CHECK(parts[2].size == three.size());
  std::vector<S3MultipartInfo> uploads;
  REQUIRE(s3->list_multipart_uploads(key, uploads));
  CHECK(uploads.size() == 1);

  REQUIRE(s3->complete_multipart_upload(key, upload_id, parts));
  std::string read;
  REQUIRE(s3->get_object(key, read));
  CHECK(read == one + two + three);
  REQUIRE(s3->list_multipart_uploads(key, uploads));
  CHECK(uploads.empty());
}

TEST_CASE("S3 client: an aborted multipart upload is gone from ListMultipartUploads", "[s3][client]") {
  auto s3 = client();
  const std::string key = unique("aborted.bin");
  std::string upload_id, etag;
  REQUIRE(s3->create_multipart_upload(key, upload_id));
  REQUIRE(s3->upload_part(key, upload_id, 1, random_bytes(MiB, 5), etag));
  REQUIRE(s3->abort_multipart_upload(key, upload_id));
  REQUIRE(s3->abort_multipart_upload(key, upload_id));  // gone already: still success
  std::vector<S3MultipartInfo> uploads;
  REQUIRE(s3->list_multipart_uploads(key, uploads));
  CHECK(uploads.empty());
  std::vector<S3Part> parts;
  CHECK(s3->list_parts(key, upload_id, parts).code == StorageCode::not_found);
}

TEST_CASE("S3 client: virtual-host style reaches the same bucket", "[s3][client]") {
  auto path_style = client();
  S3Options options = options_from_fixture();
  // radosgw's rgw_dns_name is localhost; libcurl resolves <bucket>.localhost to the loopback.
  const auto port = options.endpoint.substr(options.endpoint.rfind(':'));
  options.endpoint = "http://localhost" + port;
  options.path_style = false;
  auto virtual_host = client(options);
  const std::string key = unique("vhost");
  REQUIRE(virtual_host->put_object(key, "by virtual host"));
  std::string read;
  REQUIRE(path_style->get_object(key, read));
  CHECK(read == "by virtual host");
}

TEST_CASE("S3 client: a wrong secret is refused at once, not retried", "[s3][client]") {
  S3Options options = options_from_fixture();
  options.access_key_id = env("AWS_ACCESS_KEY_ID");
  options.secret_access_key = "not-the-secret";
  auto s3 = client(options);
  const StorageStatus status = s3->put_object(unique("denied"), "x");
  CHECK(status.code == StorageCode::io_error);
  CHECK(status.detail.find("403") != std::string::npos);
  CHECK(s3->retries() == 0);
}

TEST_CASE("S3 client: refused connections are retried with bounded backoff, then unavailable", "[s3][client][retry]") {
  S3Options options = options_from_fixture();
  options.endpoint = "http://127.0.0.1:9";  // discard: nothing listens
  options.max_attempts = 4;
  options.first_backoff = std::chrono::milliseconds(100);
  options.max_backoff = std::chrono::milliseconds(200);
  auto s3 = client(options);
  const auto start = std::chrono::steady_clock::now();
  const StorageStatus status = s3->put_object("x", "x");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  INFO(status.detail);
  CHECK(status.code == StorageCode::unavailable);
  CHECK(s3->requests_sent() == 4);
  CHECK(s3->retries() == 3);
  // Delays of [50, 100], [100, 200], [100, 200] ms.
  CHECK(elapsed >= std::chrono::milliseconds(250));
  CHECK(elapsed < std::chrono::milliseconds(2000));
}

namespace {

// An S3 endpoint that throttles every request (503 SlowDown), as AWS does under load; radosgw 16
// has no request rate limit to provoke it with.
class ThrottlingEndpoint {
 public:
  ThrottlingEndpoint() {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listener_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    REQUIRE(getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port_ = ntohs(address.sin_port);
    REQUIRE(listen(listener_, 16) == 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~ThrottlingEndpoint() {
    stopping_ = true;
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_; }

 private:
  void serve() {
    while (!stopping_) {
      const int connection = accept(listener_, nullptr, nullptr);
      if (connection < 0) return;
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const auto n = read(connection, buffer, sizeof buffer);
        if (n <= 0) break;
        request.append(buffer, static_cast<std::size_t>(n));
      }
      ++requests_;
      const std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>"
                               "<Message>Please reduce your request rate.</Message></Error>";
      const std::string reply = "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
      (void)!write(connection, reply.data(), reply.size());
      close(connection);
    }
  }

  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

}  // namespace

TEST_CASE("S3 client: 503 SlowDown is retried with backoff, then unavailable (retryable), never io_error",
          "[s3][client][retry]") {
  ThrottlingEndpoint throttling;
  S3Options options = options_from_fixture();
  options.endpoint = throttling.url();
  options.max_attempts = 3;
  options.first_backoff = std::chrono::milliseconds(20);
  auto s3 = client(options);
  const StorageStatus status = s3->put_object("throttled", "x");
  INFO(status.detail);
  CHECK(status.code == StorageCode::unavailable);
  CHECK(status.detail.find("SlowDown") != std::string::npos);
  CHECK(throttling.requests() == 3);
  CHECK(s3->retries() == 2);
}

TEST_CASE("S3 client: radosgw stopped for a moment; a request retried until it is back succeeds", "[s3][client][retry]") {
  S3Options options = options_from_fixture();
  options.max_attempts = 30;
  options.max_backoff = std::chrono::milliseconds(500);
  auto s3 = client(options);
  const std::string key = unique("outage");
  REQUIRE(s3->put_object(key, "before"));
  fixture("rgw-stop");
  std::thread restart([] {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    fixture("rgw-start");
  });
  const StorageStatus status = s3->put_object(key, "during");
  restart.join();
  INFO(status.detail);
  CHECK(status);
  CHECK(s3->retries() >= 2);
  std::string read;
  REQUIRE(s3->get_object(key, read));
  CHECK(read == "during");
}

// ---- the store ---------------------------------------------------------------------------------

namespace {

std::shared_ptr<UploadStore> store(const std::string& prefix) {
  S3StoreOptions options;
  options.s3 = options_from_fixture();
  options.prefix = prefix;
  std::string error;
  auto made = make_s3_store(options, &error);
  INFO(error);
  REQUIRE(made);
  return made;
}

UploadManifest manifest(std::uint64_t size) {
  UploadManifest m;
  m.upload_id = core::random_hex(16);
  m.principal = "alice";
  m.identifier = "file-" + m.upload_id;
  m.file_name = "photo.JPG";
  m.total_size = size;
  m.created_unix = 1700000000;
  return m;
}

PieceRecord piece_record(std::uint64_t offset, std::uint64_t size) {
  PieceRecord piece;
  piece.offset = offset;
  piece.size = size;
  piece.digest.fill(static_cast<std::uint8_t>(offset / MiB));
  piece.first_leaf = offset / MiB;
  return piece;
}

// Writes and commits bytes [offset, offset + size) of `file` as one piece, in two writes.
void store_piece(StoredUpload& upload, const std::string& file, std::uint64_t offset, std::uint64_t size) {
  REQUIRE(upload.prepare_piece(offset, size));
  const std::uint64_t half = size / 2;
  REQUIRE(upload.write_at(offset + half, file.data() + offset + half, size - half));
  REQUIRE(upload.write_at(offset, file.data() + offset, half));
  const StorageStatus committed = upload.commit_piece(piece_record(offset, size));
  INFO(committed.detail);
  REQUIRE(committed);
}

FinalRecord final_record() {
  FinalRecord final;
  final.token = core::random_hex(32);
  final.completed_unix = 1700000100;
  return final;
}

std::size_t multipart_uploads(S3Client& s3, const std::string& prefix) {
  std::vector<S3MultipartInfo> uploads;
  REQUIRE(s3.list_multipart_uploads(prefix, uploads));
  return uploads.size();
}

std::size_t objects_under(S3Client& s3, const std::string& prefix) {
  std::vector<S3ObjectInfo> objects;
  REQUIRE(s3.list_objects(prefix, objects));
  return objects.size();
}

}  // namespace

TEST_CASE("S3 store: pieces of 5 MiB and more are parts; release completes the object; a restart sees every record",
          "[s3][store]") {
  const std::string prefix = unique("");
  auto s3 = client();
  const std::string file = random_bytes(20 * MiB + 123, 7);
  const UploadManifest m = manifest(file.size());
  std::unique_ptr<StoredUpload> upload;
  REQUIRE(store(prefix)->create(m, upload));
  CHECK(multipart_uploads(*s3, prefix) == 1);
  // Out of order, 8 MiB chunks, the last one longer (resumable.js: between one and two chunks).
  store_piece(*upload, file, 8 * MiB, 12 * MiB + 123);
  store_piece(*upload, file, 0, 8 * MiB);
  // Only the last piece is staged (copied inside S3 at release: no byte through the server).
  CHECK(objects_under(*s3, prefix + "uploads/" + m.upload_id + "/staged/") == 1);

  // Another store over the same bucket (a restart) finds the upload and its pieces.
  auto restarted = store(prefix);
  CHECK(restarted->list() == std::vector<std::string>{m.upload_id});
  RecordedUpload recorded;
  REQUIRE(restarted->open(m.upload_id, recorded));
  CHECK(recorded.manifest.identifier == m.identifier);
  REQUIRE(recorded.pieces.size() == 2);
  CHECK(recorded.pieces[0].offset == 0);
  CHECK(recorded.pieces[1].size == 12 * MiB + 123);
  CHECK(recorded.pieces_durable);
  CHECK_FALSE(recorded.final);

  FinalRecord final = final_record();
  const StorageStatus released = recorded.upload->release(final);
  INFO(released.detail);
  REQUIRE(released);
  CHECK(final.location == prefix + "files/" + m.upload_id + ".jpg");
  std::string object;
  REQUIRE(s3->get_object(final.location, object));
  CHECK(object == file);
  CHECK(multipart_uploads(*s3, prefix) == 0);

  // Release again (a restart after a crash in the middle): the same final record, nothing else.
  FinalRecord again = final_record();
  REQUIRE(upload->release(again));
  CHECK(again.token == final.token);
  RecordedUpload reopened;
  REQUIRE(store(prefix)->open(m.upload_id, reopened));
  REQUIRE(reopened.final);
  CHECK(reopened.final->token == final.token);

  // The claim's removal keeps the released object; a removal with the file deletes it too.
  REQUIRE(store(prefix)->remove(m.upload_id, false));
  CHECK(objects_under(*s3, prefix + "uploads/") == 0);
  CHECK(s3->head_object(final.location));
  CHECK(store(prefix)->open(m.upload_id, reopened).code == StorageCode::not_found);
}

TEST_CASE("S3 store: pieces under 5 MiB are staged as objects and combined into parts at release", "[s3][store]") {
  const std::string prefix = unique("");
  auto s3 = client();
  const std::string file = random_bytes(12 * MiB + 5, 8);
  const UploadManifest m = manifest(file.size());
  std::unique_ptr<StoredUpload> upload;
  REQUIRE(store(prefix)->create(m, upload));
  // 1 MiB chunks (resumable.js's default), the last one 2 MiB + 5, in a shuffled order.
  std::vector<std::uint64_t> offsets;
  for (std::uint64_t o = 0; o < 11 * MiB; o += MiB) offsets.push_back(o);
  std::shuffle(offsets.begin(), offsets.end(), std::mt19937(3));
  for (const auto o : offsets) store_piece(*upload, file, o, o == 10 * MiB ? 2 * MiB + 5 : MiB);
  const std::string staged = prefix + "uploads/" + m.upload_id + "/staged/";
  CHECK(objects_under(*s3, staged) == 11);

  FinalRecord final = final_record();
  const StorageStatus released = upload->release(final);
  INFO(released.detail);
  REQUIRE(released);
  std::string object;
  REQUIRE(s3->get_object(final.location, object));
  CHECK(object == file);
  CHECK(objects_under(*s3, staged) == 0);  // deleted once the object is complete
  CHECK(multipart_uploads(*s3, prefix) == 0);
}

TEST_CASE("S3 store: a file of one small piece is copied inside S3 into its only part", "[s3][store]") {
  const std::string prefix = unique("");
  auto s3 = client();
  const std::string file = random_bytes(300 * 1024, 9);
  const UploadManifest m = manifest(file.size());
  std::unique_ptr<StoredUpload> upload;
  REQUIRE(store(prefix)->create(m, upload));
  store_piece(*upload, file, 0, file.size());
  FinalRecord final = final_record();
  REQUIRE(upload->release(final));
  std::string object;
  REQUIRE(s3->get_object(final.location, object));
  CHECK(object == file);
}

TEST_CASE("S3 store: remove aborts the multipart upload and deletes staged pieces and records", "[s3][store]") {
  const std::string prefix = unique("");
  auto s3 = client();
  const std::string file = random_bytes(16 * MiB, 10);
  const UploadManifest m = manifest(file.size());
  std::unique_ptr<StoredUpload> upload;
  REQUIRE(store(prefix)->create(m, upload));
  store_piece(*upload, file, 0, 8 * MiB);
  store_piece(*upload, file, 8 * MiB, MiB);
  CHECK(multipart_uploads(*s3, prefix) == 1);
  CHECK(objects_under(*s3, prefix) > 0);
  REQUIRE(store(prefix)->remove(m.upload_id, false));
  CHECK(multipart_uploads(*s3, prefix) == 0);
  CHECK(objects_under(*s3, prefix) == 0);
  CHECK(store(prefix)->list().empty());
  REQUIRE(store(prefix)->remove(m.upload_id, false));  // gone already: still success
}

TEST_CASE("S3 store: a released upload removed with its file leaves nothing", "[s3][store]") {
  const std::string prefix = unique("");
  auto s3 = client();
  const std::string file = random_bytes(6 * MiB, 11);
  const UploadManifest m = manifest(file.size());
  std::unique_ptr<StoredUpload> upload;
  REQUIRE(store(prefix)->create(m, upload));
  store_piece(*upload, file, 0, file.size());
  FinalRecord final = final_record();
  REQUIRE(upload->release(final));
  REQUIRE(store(prefix)->remove(m.upload_id, true));
  CHECK(objects_under(*s3, prefix) == 0);
}

TEST_CASE("S3 store: a small chunk before a large last chunk joins it in the last part", "[s3][store]") {
  // resumable.js with 4 MiB chunks and a 9 MiB file: chunks of 4 and 5 MiB (the last one longer).
  const std::string prefix = unique("");
  auto s3 = client();
  const std::string file = random_bytes(9 * MiB + 1000, 12);
  const UploadManifest m = manifest(file.size());
  std::unique_ptr<StoredUpload> upload;
  REQUIRE(store(prefix)->create(m, upload));
  store_piece(*upload, file, 4 * MiB, 5 * MiB + 1000);
  store_piece(*upload, file, 0, 4 * MiB);
  FinalRecord final = final_record();
  const StorageStatus released = upload->release(final);
  INFO(released.detail);
  REQUIRE(released);
  std::string object;
  REQUIRE(s3->get_object(final.location, object));
  CHECK(object == file);
}

TEST_CASE("S3 store: pieces of mixed sizes appended in order (tus) are staged where a short run needs them",
          "[s3][store]") {
  // tus with 18 MiB PATCH requests: pieces of 16 and 2 MiB alternate, in order.
  const std::string prefix = unique("");
  auto s3 = client();
  const std::string file = random_bytes(54 * MiB, 13);
  const UploadManifest m = manifest(file.size());
  std::unique_ptr<StoredUpload> upload;
  REQUIRE(store(prefix)->create(m, upload));
  for (std::uint64_t o = 0; o < file.size(); o += 18 * MiB) {
    store_piece(*upload, file, o, 16 * MiB);
    store_piece(*upload, file, o + 16 * MiB, 2 * MiB);
  }
  // Parts at 0 and 36 MiB; staged: the 2 MiB at 16, the 16 MiB at 18 that joins it (a run of 2 MiB
  // is too short), the 2 MiB at 34 (the run is 20 MiB then, so the piece at 36 is a part again)
  // and the last piece.
  CHECK(objects_under(*s3, prefix + "uploads/" + m.upload_id + "/staged/") == 4);
  FinalRecord final = final_record();
  const StorageStatus released = upload->release(final);
  INFO(released.detail);
  REQUIRE(released);
  std::string object;
  REQUIRE(s3->get_object(final.location, object));
  CHECK(object == file);
}

TEST_CASE("S3 store: a run of small pieces under 5 MiB between parts that came first fails release (io_error, the "
          "upload stays)", "[s3][store]") {
  const std::string prefix = unique("");
  auto s3 = client();
  const std::string file = random_bytes(36 * MiB, 14);
  const UploadManifest m = manifest(file.size());
  std::unique_ptr<StoredUpload> upload;
  REQUIRE(store(prefix)->create(m, upload));
  store_piece(*upload, file, 0, 16 * MiB);
  store_piece(*upload, file, 18 * MiB, 16 * MiB);  // a part: nothing before it is known yet
  store_piece(*upload, file, 16 * MiB, 2 * MiB);   // staged, squeezed between two parts
  store_piece(*upload, file, 34 * MiB, 2 * MiB);
  FinalRecord final = final_record();
  const StorageStatus released = upload->release(final);
  CHECK(released.code == StorageCode::io_error);
  CHECK(multipart_uploads(*s3, prefix) == 1);  // nothing lost: the upload is still there
  REQUIRE(store(prefix)->remove(m.upload_id, false));
}
