// Sends a stored file as a download, with single byte ranges (RFC 9110) so interrupted downloads
// resume: 200 for the whole file, 206 with its Content-Range, 416 for a range past the end, 304 for
// a matching If-None-Match; If-Range falls back to the whole file when the file changed.
//
// Why not mg_send_file: CivetWeb 1.15 answers a range that ends past the file ("bytes=10-999999")
// with a Content-Length one byte longer than what it sends, and a range that starts at or past the
// end with a malformed 206 (or no complete reply), so a download client would hang or fail.
#pragma once

#include <civetweb.h>

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <variant>

namespace resumable::demo {

struct WholeFile {};
struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t length = 0;
};
struct UnsatisfiableRange {};
using RangeChoice = std::variant<WholeFile, ByteRange, UnsatisfiableRange>;

// What to send for a Range header (nullptr: none) and a file of `size` bytes. Forms accepted:
// "bytes=A-B", "bytes=A-", "bytes=-N". Other units, syntax errors and several ranges are ignored
// (the whole file), as RFC 9110 allows.
RangeChoice choose_range(const char* range_header, std::uint64_t size);

// What a download sends: a file on disk, or an S3 object (document_objects.h). `read` fills `out`
// with up to `length` bytes from `offset` (fewer only at the end); false when that fails (the
// response is then cut short: the client sees a body shorter than Content-Length).
struct DownloadSource {
  std::uint64_t size = 0;
  std::string etag;  // quoted, e.g. "\"1f-2a\"": names these exact bytes
  std::time_t last_modified = 0;
  std::size_t read_bytes = 256 * 1024;  // asked of `read` at once: what one request to the source is worth
  std::function<bool(std::uint64_t offset, std::size_t length, std::string& out)> read;
};

// Writes the whole response. `download_name` is the name offered to the user (Content-Disposition);
// the type is always application/octet-stream, so no uploaded file is ever rendered by this origin.
// Returns the HTTP status sent.
int send_download(mg_connection* connection, const DownloadSource& source, std::string_view download_name, bool head);

// send_download of a file on disk; 404 if it cannot be opened.
int send_file_download(mg_connection* connection, const std::filesystem::path& file, std::string_view download_name,
                       bool head);

}  // namespace resumable::demo
