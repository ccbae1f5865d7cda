// Writes a front-end's Reply on a CivetWeb connection. Every reply states its length and says
// `Connection: close` when the server will close the connection: when CivetWeb's keep-alive is
// off, or when the reply asks for it (sent before the request body was read). A streamed reply is
// sent in chunked transfer encoding.
#pragma once

#include <civetweb.h>

#include "front_end.h"

namespace resumable::civetweb {

void write_reply(mg_connection* connection, const http::Reply& reply);
// An informational reply (status 1xx, headers only) ahead of the final one; CivetWeb 1.15 has no
// call for these, so it is written raw, as the adapter writes `100 Continue`.
void write_interim(mg_connection* connection, const http::Reply& reply);
// "Connection: close\r\n" or "", as described above.
const char* connection_header(mg_connection* connection, bool close);

}  // namespace resumable::civetweb
