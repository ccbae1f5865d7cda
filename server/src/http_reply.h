// JSON replies of the protocol: errors from the error table, chunk acknowledgements, final results
// and status documents. Every reply states its length; `close` adds `Connection: close` for replies
// sent before the request body was read.
#pragma once

#include <civetweb.h>

#include <nlohmann/json.hpp>

#include "resumable/errors.h"
#include "upload_registry.h"

namespace resumable {

void send_json(mg_connection* connection, int status, const nlohmann::json& body, bool close = false);
void send_error(mg_connection* connection, ErrorCode code, bool close = false);
void send_no_content(mg_connection* connection, bool close = false);

nlohmann::json to_json(const FinalResult& result);
nlohmann::json to_json(const ChunkStored& stored);
nlohmann::json to_json(const UploadStatus& status);

}  // namespace resumable
