#include "reply_writer.h"

namespace resumable::civetweb {

const char* connection_header(mg_connection* connection, bool close) {
  const char* keep_alive = mg_get_option(mg_get_context(connection), "enable_keep_alive");
  const bool kept = !close && keep_alive != nullptr && mg_strcasecmp(keep_alive, "yes") == 0;
  return kept ? "" : "Connection: close\r\n";
}

void write_interim(mg_connection* connection, const http::Reply& reply) {
  std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " ";
  // CivetWeb does not know 104 (draft-ietf-httpbis-resumable-upload's suggested value).
  head += reply.status == 104 ? "Upload Resumption Supported" : mg_get_response_code_text(connection, reply.status);
  head += "\r\n";
  for (const auto& header : reply.headers) head += header + "\r\n";
  head += "\r\n";
  mg_write(connection, head.data(), head.size());
}

void write_reply(mg_connection* connection, const http::Reply& reply) {
  std::string extra;
  for (const auto& header : reply.headers) extra += header + "\r\n";
  const char* reason = mg_get_response_code_text(connection, reply.status);
  if (reply.stream) {
    mg_printf(connection,
              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\nCache-Control: no-store\r\n"
              "X-Content-Type-Options: nosniff\r\n%s%s\r\n",
              reply.status, reason, reply.content_type.c_str(), connection_header(connection, reply.close), extra.c_str());
    bool open = true;
    reply.stream([&](std::string_view piece) {
      if (open && !piece.empty()) open = mg_send_chunk(connection, piece.data(), static_cast<unsigned>(piece.size())) > 0;
      return open;
    });
    if (open) mg_send_chunk(connection, "", 0);  // the last chunk
    return;
  }
  if (reply.content_type.empty()) {
    mg_printf(connection, "HTTP/1.1 %d %s\r\nCache-Control: no-store\r\n%s%s\r\n", reply.status, reason,
              connection_header(connection, reply.close), extra.c_str());
    return;
  }
  mg_printf(connection,
            "HTTP/1.1 %d %s\r\n"
            "Content-Type: %s\r\n"
            "Content-Length: %zu\r\n"
            "Cache-Control: no-store\r\n"
            "X-Content-Type-Options: nosniff\r\n"
            "%s%s"
            "\r\n",
            reply.status, reason, reply.content_type.c_str(), reply.body.size(),
            connection_header(connection, reply.close), extra.c_str());
  mg_write(connection, reply.body.data(), reply.body.size());
}

}  // namespace resumable::civetweb
