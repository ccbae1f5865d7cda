#include "json_error.h"

namespace resumable::http {

using nlohmann::json;

Reply json_reply(int status, const json& body, bool close) {
  Reply reply;
  reply.status = status;
  reply.content_type = "application/json; charset=utf-8";
  reply.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  reply.close = close;
  return reply;
}

json error_body(ErrorCode code) {
  const ErrorInfo& info = error_info(code);
  return {{"status", "error"}, {"error", info.id}, {"message", info.meaning}, {"retryable", info.retryable}};
}

Reply json_error(ErrorCode code, int status, bool close) {
  Reply reply = json_reply(status, error_body(code), close);
  // A busy server (or its storage, S3 throttling or away) says when to come back; the widget and
  // the command honour Retry-After.
  if (code == ErrorCode::server_busy) reply.headers.push_back("Retry-After: 1");
  return reply;
}

}  // namespace resumable::http
