// The resumable.js front-end as declarative rows: request (method, path, query, headers, body, form
// fields) → reply (status, headers, JSON body), run in order against one upload core over the
// in-memory store, without CivetWeb's server. The driver plays the adapter's part: routing by the
// front-end's allowed methods, then the exchange, its body fed through the sink.
#include <catch2/catch.hpp>

#include "front_end.h"
#include "query_params.h"
#include "resumable/memory_store.h"
#include "resumable/upload_core.h"
#include "resumable_front_end.h"
#include "server_fixture.h"

using namespace resumable;
using namespace resumable::testing;
using nlohmann::json;

namespace {

struct Row {
  std::string method;
  std::string path;   // below the mount
  std::string query;  // with the leading '?', or empty
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers = {};
  // Multipart: the form fields before the file part; the body is then the file part's bytes.
  std::optional<std::map<std::string, std::string>> fields = std::nullopt;
  // Expected:
  int status = 200;
  json body_has = json::object();  // each key must be present with this value
  std::vector<std::string> headers_have = {};
};

class RowView final : public http::RequestView {
 public:
  explicit RowView(const Row& row) : row_(row) {}
  std::string_view method() const override { return row_.method; }
  std::string_view path() const override { return row_.path; }
  std::optional<http::ParamValue> query_param(std::string_view name, std::size_t max_bytes) const override {
    return civetweb::query_param(row_.query.empty() ? "" : std::string_view(row_.query).substr(1), name, max_bytes);
  }
  std::optional<std::string_view> header(std::string_view name) const override {
    for (const auto& [key, value] : row_.headers) {
      if (key == name) return std::string_view(value);
    }
    return std::nullopt;
  }
  std::optional<std::uint64_t> content_length() const override {
    if (auto declared = header("Content-Length")) return std::stoull(std::string(*declared));
    return row_.body.size();
  }

 private:
  const Row& row_;
};

// What the adapter does with a request, minus authorization and sockets.
http::Reply run(http::FrontEnd& front_end, const Row& row, const std::string& principal) {
  const auto allowed = front_end.allowed_methods(row.path);
  if (!allowed) return front_end.error_reply(ErrorCode::not_found, true);
  if (allowed->find(row.method) == std::string::npos) {
    auto reply = front_end.error_reply(ErrorCode::method_not_allowed, true);
    reply.headers.push_back("Allow: " + *allowed);
    return reply;
  }
  RowView view(row);
  const auto exchange = front_end.exchange(view, principal);
  auto started = exchange->start();
  if (auto* reply = std::get_if<http::Reply>(&started)) return *reply;
  if (row.fields) {
    const http::ParamLookup fields = [&](std::string_view name) -> std::optional<http::ParamValue> {
      const auto it = row.fields->find(std::string(name));
      if (it == row.fields->end()) return std::nullopt;
      return http::ParamValue{it->second, false};
    };
    if (!exchange->file_part(fields)) return *exchange->finish(http::BodyEnd::complete);
  }
  std::string_view body = row.body;
  while (!body.empty()) {
    const auto buffer = exchange->sink().next_buffer();
    const std::size_t n = std::min(buffer.size(), body.size());
    std::memcpy(buffer.data(), body.data(), n);
    body.remove_prefix(n);
    if (!exchange->sink().received(n)) break;
  }
  return *exchange->finish(http::BodyEnd::complete);
}

void check_rows(http::FrontEnd& front_end, const std::vector<Row>& rows) {
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    const auto reply = run(front_end, row, "alice");
    INFO("row " << i << ": " << row.method << " " << row.path << row.query.substr(0, 80) << " -> " << reply.status << " "
                << reply.body);
    CHECK(reply.status == row.status);
    if (!row.body_has.empty()) {
      CHECK(reply.content_type == "application/json; charset=utf-8");
      const auto body = json::parse(reply.body, nullptr, false);
      REQUIRE(body.is_object());
      for (const auto& [key, value] : row.body_has.items()) {
        INFO("key " << key);
        CHECK(body.contains(key));
        if (body.contains(key)) CHECK(body[key] == value);
      }
    }
    for (const auto& header : row.headers_have) {
      CHECK(std::find(reply.headers.begin(), reply.headers.end(), header) != reply.headers.end());
    }
  }
}

UploadLimits row_limits() {
  UploadLimits limits;
  limits.io_buffer_bytes = 4096;
  limits.write_threads = 0;
  return limits;
}

json error(const char* code) { return {{"status", "error"}, {"error", code}}; }

// The form fields resumable.js sends with a multipart chunk.
std::map<std::string, std::string> fields_of(const TestFile& file, std::uint64_t number) {
  return {{"resumableChunkNumber", std::to_string(number)},
          {"resumableChunkSize", std::to_string(file.chunk_size)},
          {"resumableCurrentChunkSize", std::to_string(file.span(number).size)},
          {"resumableTotalSize", std::to_string(file.bytes.size())},
          {"resumableTotalChunks", std::to_string(file.chunk_count())},
          {"resumableIdentifier", file.identifier},
          {"resumableFilename", file.file_name}};
}

}  // namespace

TEST_CASE("resumable.js front-end rows: chunks, tests, status, cancel and their errors", "[handler]") {
  auto store = std::make_shared<MemoryStore>();
  UploadCore core(store, row_limits(), {{}, [](const std::string&) {}});
  resumablejs::ResumableFrontEnd front_end(core);
  const auto file = make_file("rows", 3 * 4096 + 5, 31, 4096);
  auto wrong_total = file;
  wrong_total.bytes.resize(file.bytes.size() + 1);
  const std::string digest = file.file_digest_hex();
  const std::string id = "?identifier=rows";

  check_rows(front_end, {
      {"GET", "", file.query(1), "", {}, {}, 204},
      {"GET", "/status", id, "", {}, {}, 404, error("upload_not_found")},
      {"POST", "", file.query(1), file.chunk_bytes(1), {}, {}, 200,
       {{"status", "chunk_stored"}, {"chunk", 1}, {"received", 1}, {"chunkCount", 3}}},
      {"POST", "", file.query(1), file.chunk_bytes(1), {}, {}, 200, {{"status", "chunk_stored"}, {"duplicate", true}}},
      {"GET", "", file.query(1), "", {}, {}, 200, {{"status", "chunk_present"}, {"chunk", 1}}},
      {"GET", "/status", id, "", {}, {}, 200,
       {{"status", "partial"}, {"received", json::parse("[[1,1]]")}, {"digests", json::array({file.chunk_digest(1)})},
        {"totalSize", file.bytes.size()}, {"chunkSize", 4096}, {"chunkCount", 3}, {"fileDigest", nullptr}}},
      {"POST", "", file.query(3), file.chunk_bytes(2) + "xxxxx", {}, {}, 422, error("chunk_digest_mismatch")},
      {"POST", "", file.query(2), file.chunk_bytes(2) + "x", {}, {}, 400, error("invalid_body")},
      {"POST", "", file.query(2), file.chunk_bytes(2), {{"Content-Length", "10"}}, {}, 400, error("invalid_body")},
      {"POST", "", wrong_total.query(2), wrong_total.chunk_bytes(2), {}, {}, 409, error("upload_conflict")},
      {"POST", "", file.query(2, {"resumableChunkNumber=two"}), "", {}, {}, 400, error("invalid_parameter")},
      {"POST", "", file.query(2, {"resumableTotalChunks=7"}), "", {}, {}, 400, error("invalid_geometry")},
      {"POST", "", "", file.chunk_bytes(2), {{"Content-Type", "multipart/form-data; boundary=x"}}, fields_of(file, 2), 200,
       {{"status", "chunk_stored"}, {"chunk", 2}, {"received", 2}}},
      {"POST", "", "", "", {{"Content-Type", "multipart/form-data; boundary=x"}}, std::map<std::string, std::string>{},
       400, error("invalid_parameter")},
      {"PUT", "", file.query(3), file.chunk_bytes(3), {}, {}, 200,
       {{"status", "complete"}, {"identifier", "rows"}, {"size", file.bytes.size()}, {"chunkCount", 3},
        {"fileDigest", digest}, {"digestAlgorithm", "rsm-tree-v1"}}},
      {"GET", "/status", id, "", {}, {}, 200, {{"status", "complete"}, {"fileDigest", digest}}},
      {"GET", "", file.query(2), "", {}, {}, 200, {{"status", "complete"}}},
      {"DELETE", "", id, "", {}, {}, 204},
      {"GET", "/status", id, "", {}, {}, 404, error("upload_not_found")},
      {"PATCH", "", "", "", {}, {}, 405, error("method_not_allowed"), {"Allow: GET, POST, PUT, DELETE"}},
      {"POST", "/status", id, "", {}, {}, 405, error("method_not_allowed"), {"Allow: GET"}},
      {"GET", "/elsewhere", "", "", {}, {}, 404, error("not_found")},
  });
  CHECK(store->upload_count() == 0);
}

TEST_CASE("resumable.js front-end rows over a store without read-back: chunks in order only", "[handler]") {
  auto store = std::make_shared<MemoryStore>(MemoryStoreOptions{.read_back = false});
  UploadCore core(store, row_limits(), {{}, [](const std::string&) {}});
  resumablejs::ResumableFrontEnd front_end(core);
  const auto file = make_file("in-order", 2 * 4096 + 1, 32, 4096);
  check_rows(front_end, {
      {"POST", "", file.query(2), file.chunk_bytes(2), {}, {}, 503, {{"error", "out_of_order"}, {"retryable", true}}},
      {"POST", "", file.query(1), file.chunk_bytes(1), {}, {}, 200, {{"status", "chunk_stored"}}},
      {"POST", "", file.query(2), file.chunk_bytes(2), {}, {}, 200,
       {{"status", "complete"}, {"fileDigest", file.file_digest_hex()}}},
  });
}
