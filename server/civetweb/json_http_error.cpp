// resumable::json_http_error (declared in resumable/upload_endpoint.h): JSON bodies for request
// heads CivetWeb refuses before any handler runs.
#include "json_error.h"
#include "reply_writer.h"
#include "resumable/upload_endpoint.h"

namespace resumable {

int json_http_error(mg_connection* connection, int status, const char*) {
  switch (status) {
    case 400:  // "Malformed message": unparsable, over max_request_size or cut off by the timeout
    case 413:  // "Message too large", "URI too long", "Header fields too large" in other versions
    case 414:
    case 431:
      break;
    default:
      return 1;
  }
  try {
    civetweb::write_reply(connection, http::json_error(ErrorCode::malformed_request, 400, true));
  } catch (...) {
    return 1;  // let CivetWeb answer with its own page
  }
  return 0;
}

}  // namespace resumable
