// The JSON shape of an error reply, shared by front-ends that speak JSON and by the adapter's own
// refusals (widget files, heads CivetWeb refuses):
//   {"status": "error", "error": "<stable code>", "message": "<meaning>", "retryable": <bool>}
#pragma once

#include <nlohmann/json.hpp>

#include "front_end.h"

namespace resumable::http {

Reply json_reply(int status, const nlohmann::json& body, bool close = false);
nlohmann::json error_body(ErrorCode code);
Reply json_error(ErrorCode code, int status, bool close = false);

}  // namespace resumable::http
