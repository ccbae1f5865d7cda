// JSON replies of the protocol: errors from the error table, chunk acknowledgements, final results
// and status documents. Every reply states its length and says `Connection: close` when the server
// will close the connection: when CivetWeb's keep-alive is off, or when `close` is set (replies sent
// before the request body was read, whose unread bytes would otherwise be taken for a next request).
#pragma once

#include <civetweb.h>

#include <nlohmann/json.hpp>

#include "resumable/errors.h"
#include "upload_registry.h"

namespace resumable {

void send_json(mg_connection* connection, int status, const nlohmann::json& body, bool close = false,
               const char* extra_headers = "");
void send_error(mg_connection* connection, ErrorCode code, bool close = false);
// 405 with the `Allow` header HTTP requires.
void send_method_not_allowed(mg_connection* connection, const char* allowed_methods);
// "Connection: close\r\n" or "", as described above.
const char* connection_header(mg_connection* connection, bool close);
void send_no_content(mg_connection* connection, bool close = false);

nlohmann::json to_json(const FinalResult& result);
nlohmann::json to_json(const ChunkStored& stored);
nlohmann::json to_json(const UploadStatus& status);

}  // namespace resumable
