#include "resumable/errors.h"

namespace resumable {

namespace {

// Statuses follow what the unmodified clients do with them (docs/protocol.md): 4xx codes that
// resumable.js and flow.js treat as permanent for requests a client must not repeat; 422, 429, 503
// and 507 for what a retry can fix.
constexpr ErrorInfo table[] = {
    {ErrorCode::unauthenticated, "unauthenticated", 401,
     "The request carries no accepted credentials, and the mount does not allow anonymous uploads.",
     "Log in, then start again.", false},
    {ErrorCode::forbidden, "forbidden", 403,
     "The principal may not use this endpoint (e.g. a staff-only mount).",
     "Stop; do not retry.", false},
    {ErrorCode::not_found, "not_found", 404,
     "No such path below the endpoint.",
     "Stop; fix the URL.", false},
    {ErrorCode::method_not_allowed, "method_not_allowed", 405,
     "The method is not one the path accepts.",
     "Stop; use the documented method.", false},
    {ErrorCode::malformed_request, "malformed_request", 400,
     "The request line and headers were refused before any handler: not valid HTTP, larger than the server's limit (e.g. a very long query string), or not complete within the request timeout.",
     "Stop; fix the client (shorten the query string or headers).", false},
    {ErrorCode::invalid_parameter, "invalid_parameter", 400,
     "A parameter is missing, not a number, too long or contains control characters.",
     "Stop; fix the request.", false},
    {ErrorCode::invalid_geometry, "invalid_geometry", 400,
     "The chunk number, chunk size or current chunk size is inconsistent with the total size and chunk count.",
     "Stop; the client's chunking is wrong.", false},
    {ErrorCode::chunk_size_not_allowed, "chunk_size_not_allowed", 400,
     "The chunk size is outside the sizes this mount accepts.",
     "Stop; configure an accepted chunk size.", false},
    {ErrorCode::invalid_body, "invalid_body", 400,
     "The body is malformed (bad multipart, no file part, parameters after the file part) or its length differs from the current chunk size.",
     "Stop; fix the request.", false},
    {ErrorCode::upload_conflict, "upload_conflict", 409,
     "The identifier names an upload whose size, chunk size, chunk count, file name or file digest differ from this request's.",
     "Stop; use a new identifier for a different file.", false},
    {ErrorCode::chunk_conflict, "chunk_conflict", 409,
     "The chunk is already stored with a different digest than this request names: the local file changed.",
     "Stop; start a new upload of the changed file.", false},
    {ErrorCode::file_digest_mismatch, "file_digest_mismatch", 409,
     "All chunks arrived but the file's BLAKE2b-256 differs from the declared file digest; the upload was discarded.",
     "Start the upload again.", false},
    {ErrorCode::file_too_large, "file_too_large", 413,
     "The total size exceeds the mount's maximum file size.",
     "Stop; the file is too large.", false},
    {ErrorCode::too_many_chunks, "too_many_chunks", 413,
     "The chunk count exceeds the mount's maximum.",
     "Stop; use a larger chunk size.", false},
    {ErrorCode::type_not_allowed, "type_not_allowed", 415,
     "The file's extension or MIME type is not accepted by this mount.",
     "Stop; the file type is refused.", false},
    {ErrorCode::chunk_digest_mismatch, "chunk_digest_mismatch", 422,
     "The chunk's bytes do not match its declared digest; nothing was recorded.",
     "Retry the chunk.", true},
    {ErrorCode::incomplete_body, "incomplete_body", 422,
     "The body ended before the current chunk size was received; nothing was recorded.",
     "Retry the chunk.", true},
    {ErrorCode::body_too_slow, "body_too_slow", 408,
     "The body arrived slower than the mount's minimum rate and was cut off; nothing was recorded.",
     "Retry the chunk; on a slow link, use smaller chunks.", true},
    {ErrorCode::too_many_uploads, "too_many_uploads", 429,
     "The principal already has the maximum number of unfinished uploads.",
     "Retry later, or finish or cancel another upload.", true},
    {ErrorCode::upload_not_found, "upload_not_found", 404,
     "The principal has no upload with this identifier (status request).",
     "Start the upload from its first chunk.", false},
    {ErrorCode::chunk_busy, "chunk_busy", 503,
     "Another request is still writing this chunk.",
     "Retry the chunk after a short delay.", true},
    {ErrorCode::insufficient_storage, "insufficient_storage", 507,
     "The server has no space for this upload.",
     "Retry later.", true},
    {ErrorCode::internal_error, "internal_error", 500,
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
