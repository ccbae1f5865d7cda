#include "http_reply.h"

namespace resumable {

using nlohmann::json;

namespace {

void send_headers(mg_connection* connection, int status, const char* content_type, std::size_t length, bool close,
                  const char* extra_headers) {
  mg_printf(connection,
            "HTTP/1.1 %d %s\r\n"
            "Content-Type: %s\r\n"
            "Content-Length: %zu\r\n"
            "Cache-Control: no-store\r\n"
            "X-Content-Type-Options: nosniff\r\n"
            "%s%s"
            "\r\n",
            status, mg_get_response_code_text(connection, status), content_type, length,
            connection_header(connection, close), extra_headers);
}

}  // namespace

const char* connection_header(mg_connection* connection, bool close) {
  const char* keep_alive = mg_get_option(mg_get_context(connection), "enable_keep_alive");
  const bool kept = !close && keep_alive != nullptr && mg_strcasecmp(keep_alive, "yes") == 0;
  return kept ? "" : "Connection: close\r\n";
}

void send_json(mg_connection* connection, int status, const json& body, bool close, const char* extra_headers) {
  const std::string text = body.dump(-1, ' ', false, json::error_handler_t::replace);
  send_headers(connection, status, "application/json; charset=utf-8", text.size(), close, extra_headers);
  mg_write(connection, text.data(), text.size());
}

void send_method_not_allowed(mg_connection* connection, const char* allowed_methods) {
  const ErrorInfo& info = error_info(ErrorCode::method_not_allowed);
  const std::string allow = std::string("Allow: ") + allowed_methods + "\r\n";
  send_json(connection, info.http_status,
            {{"status", "error"}, {"error", info.id}, {"message", info.meaning}, {"retryable", info.retryable}}, true,
            allow.c_str());
}

void send_error(mg_connection* connection, ErrorCode code, bool close) {
  const ErrorInfo& info = error_info(code);
  send_json(connection, info.http_status,
            {{"status", "error"},
             {"error", info.id},
             {"message", info.meaning},
             {"retryable", info.retryable}},
            close);
}

void send_no_content(mg_connection* connection, bool close) {
  mg_printf(connection, "HTTP/1.1 204 No Content\r\nCache-Control: no-store\r\n%s\r\n",
            connection_header(connection, close));
}

json to_json(const FinalResult& result) {
  return {{"status", "complete"},
          {"token", result.token},
          {"identifier", result.identifier},
          {"fileName", result.file_name},
          {"size", result.size},
          {"chunkCount", result.chunk_count},
          {"blake2b256", core::to_hex(result.digest)}};
}

json to_json(const ChunkStored& stored) {
  json body = {{"status", "chunk_stored"},
               {"chunk", stored.number},
               {"received", stored.received},
               {"chunkCount", stored.chunk_count}};
  if (stored.duplicate) body["duplicate"] = true;
  return body;
}

json to_json(const UploadStatus& status) {
  json ranges = json::array();
  json digests = json::array();
  for (const auto& [number, digest] : status.chunks) {
    if (!ranges.empty() && ranges.back()[1].get<std::uint64_t>() + 1 == number) {
      ranges.back()[1] = number;
    } else {
      ranges.push_back({number, number});
    }
    digests.push_back(core::to_hex(digest));
  }
  return {{"status", "partial"},
          {"identifier", status.identifier},
          {"fileName", status.file_name},
          {"totalSize", status.total_size},
          {"chunkSize", status.chunk_size},
          {"chunkCount", status.chunk_count},
          {"received", std::move(ranges)},
          {"digests", std::move(digests)},
          {"fileDigest", status.declared_file_digest ? json(core::to_hex(*status.declared_file_digest)) : json()}};
}

}  // namespace resumable
