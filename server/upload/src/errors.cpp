#include "resumable/errors.h"

namespace resumable {

namespace {

// Order is the documented order (docs/protocol.md lists the rows in this order).
constexpr ErrorInfo table[] = {
    {ErrorCode::unauthenticated, "unauthenticated",
     "The request carries no accepted credentials, and the mount does not allow anonymous uploads.",
     "Log in, then start again.", false},
    {ErrorCode::forbidden, "forbidden",
     "The principal may not use this endpoint (e.g. a staff-only mount).",
     "Stop; do not retry.", false},
    {ErrorCode::not_found, "not_found",
     "No such path below the endpoint.",
     "Stop; fix the URL.", false},
    {ErrorCode::method_not_allowed, "method_not_allowed",
     "The method is not one the path accepts.",
     "Stop; use the documented method.", false},
    {ErrorCode::unsupported_version, "unsupported_version",
     "The request names a protocol version this endpoint does not speak (tus: Tus-Resumable other than 1.0.0; IETF draft: an Upload-Draft-Interop-Version other than 3 to 8).",
     "Stop; use a version the endpoint lists (tus: Tus-Version).", false},
    {ErrorCode::malformed_request, "malformed_request",
     "The request line and headers were refused before any handler: not valid HTTP, larger than the server's limit (e.g. a very long query string), or not complete within the request timeout.",
     "Stop; fix the client (shorten the query string or headers).", false},
    {ErrorCode::invalid_parameter, "invalid_parameter",
     "A parameter is missing, not a number, too long or contains control characters.",
     "Stop; fix the request.", false},
    {ErrorCode::invalid_geometry, "invalid_geometry",
     "The chunk number, chunk size or current chunk size is inconsistent with the total size and chunk count.",
     "Stop; the client's chunking is wrong.", false},
    {ErrorCode::chunk_size_not_allowed, "chunk_size_not_allowed",
     "The chunk size is outside the sizes this mount accepts.",
     "Stop; configure an accepted chunk size.", false},
    {ErrorCode::invalid_body, "invalid_body",
     "The body is malformed (bad multipart, no file part, parameters after the file part) or its length differs from the current chunk size.",
     "Stop; fix the request.", false},
    {ErrorCode::upload_conflict, "upload_conflict",
     "The identifier names an upload whose size, chunk size, chunk count, file name or file digest differ from this request's.",
     "Stop; use a new identifier for a different file.", false},
    {ErrorCode::chunk_conflict, "chunk_conflict",
     "The chunk is already stored with a different digest than this request names: the local file changed.",
     "Stop; start a new upload of the changed file.", false},
    {ErrorCode::offset_mismatch, "offset_mismatch",
     "The request appends at an offset other than the upload's current offset (tus: Upload-Offset).",
     "Ask for the current offset (tus: HEAD), then send from there.", false},
    {ErrorCode::file_digest_mismatch, "file_digest_mismatch",
     "All chunks arrived but the file's digest differs from the declared file digest; the upload was discarded.",
     "Start the upload again.", false},
    {ErrorCode::file_too_large, "file_too_large",
     "The total size exceeds the mount's maximum file size.",
     "Stop; the file is too large.", false},
    {ErrorCode::too_many_chunks, "too_many_chunks",
     "The chunk count exceeds the mount's maximum.",
     "Stop; use a larger chunk size.", false},
    {ErrorCode::type_not_allowed, "type_not_allowed",
     "The file's extension or MIME type is not accepted by this mount.",
     "Stop; the file type is refused.", false},
    {ErrorCode::unsupported_content_type, "unsupported_content_type",
     "The body's Content-Type is not the one the protocol requires (tus: application/offset+octet-stream).",
     "Stop; fix the client.", false},
    {ErrorCode::chunk_digest_mismatch, "chunk_digest_mismatch",
     "The chunk's bytes do not match its declared digest; nothing was recorded.",
     "Retry the chunk.", true},
    {ErrorCode::incomplete_body, "incomplete_body",
     "The body ended before the current chunk size was received; nothing was recorded.",
     "Retry the chunk.", true},
    {ErrorCode::body_too_slow, "body_too_slow",
     "The body arrived slower than the mount's minimum rate and was cut off; nothing was recorded.",
     "Retry the chunk; on a slow link, use smaller chunks.", true},
    {ErrorCode::too_many_uploads, "too_many_uploads",
     "The principal already has the maximum number of unfinished (or of finished, unclaimed) uploads, or the server holds as many uploads as it takes.",
     "Retry later, or finish or cancel another upload.", true},
    {ErrorCode::upload_not_found, "upload_not_found",
     "The principal has no upload with this identifier (status request).",
     "Start the upload from its first chunk.", false},
    {ErrorCode::chunk_busy, "chunk_busy",
     "Another request is still writing this chunk.",
     "Retry the chunk after a short delay.", true},
    {ErrorCode::out_of_order, "out_of_order",
     "This server's storage takes an upload's bytes in order only, and an earlier chunk is still missing.",
     "Retry the chunk after the earlier ones are stored.", true},
    {ErrorCode::server_busy, "server_busy",
     "The server is sending as many large replies (the status of uploads with many chunks) as it allows at once.",
     "Retry after a short delay.", true},
    {ErrorCode::insufficient_storage, "insufficient_storage",
     "The server has no space for this upload.",
     "Retry later.", true},
    {ErrorCode::internal_error, "internal_error",
     "An unexpected server failure; nothing was recorded.",
     "Report it; retrying may help.", true},
};

}  // namespace

std::span<const ErrorInfo> error_table() { return table; }

const ErrorInfo& error_info(ErrorCode code) {
  for (const auto& entry : table) {
    if (entry.code == code) return entry;
  }
  return table[sizeof(table) / sizeof(table[0]) - 1];  // internal_error; unreachable for valid codes
}

}  // namespace resumable
