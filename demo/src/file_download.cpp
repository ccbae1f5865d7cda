#include "file_download.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace resumable::demo {

namespace {

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::optional<std::uint64_t> parse_position(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

std::string http_date(std::time_t time) {
  std::tm parts{};
  gmtime_r(&time, &parts);
  char text[40];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &parts);
  return text;
}

bool is_attr_char(unsigned char c) {  // RFC 8187 attr-char
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != '\0' && std::strchr("!#$&+-.^_`|~", c) != nullptr);
}

// Content-Disposition: a plain-ASCII fallback and the exact UTF-8 name (RFC 6266). The name came
// from a client, so anything that could end the header or the quoted string is replaced.
std::string attachment_disposition(std::string_view file_name) {
  std::string fallback;
  std::string encoded;
  for (const char c : file_name) {
    const auto byte = static_cast<unsigned char>(c);
    const bool plain = byte >= 0x20 && byte < 0x7F && c != '"' && c != '\\';
    fallback += plain ? c : '_';
    if (is_attr_char(byte)) {
      encoded += c;
    } else {
      static constexpr char hex[] = "0123456789ABCDEF";
      encoded += '%';
      encoded += hex[byte >> 4];
      encoded += hex[byte & 0x0F];
    }
  }
  if (fallback.empty()) fallback = "download";
  return "attachment; filename=\"" + fallback + "\"; filename*=UTF-8''" + encoded;
}

void send_status_only(mg_connection* connection, int status, const std::string& headers) {
  mg_printf(connection, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n%sConnection: close\r\n\r\n", status,
            mg_get_response_code_text(connection, status), headers.c_str());
}

}  // namespace

RangeChoice choose_range(const char* range_header, std::uint64_t size) {
  if (range_header == nullptr) return WholeFile{};
  std::string_view spec = range_header;
  constexpr std::string_view unit = "bytes=";
  if (spec.substr(0, unit.size()) != unit) return WholeFile{};
  spec.remove_prefix(unit.size());
  const std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos || spec.find(',') != std::string_view::npos) return WholeFile{};
  const std::string_view first_text = spec.substr(0, dash);
  const std::string_view last_text = spec.substr(dash + 1);

  if (first_text.empty()) {  // suffix: the last N bytes
    const auto suffix = parse_position(last_text);
    if (!suffix) return WholeFile{};
    if (*suffix == 0 || size == 0) return UnsatisfiableRange{};
    const std::uint64_t length = std::min(*suffix, size);
    return ByteRange{size - length, length};
  }
  const auto first = parse_position(first_text);
  if (!first) return WholeFile{};
  std::uint64_t last = size == 0 ? 0 : size - 1;
  if (!last_text.empty()) {
    const auto given = parse_position(last_text);
    if (!given || *given < *first) return WholeFile{};  // invalid: ignored
    last = std::min(*given, last);
  }
  if (*first >= size) return UnsatisfiableRange{};
  return ByteRange{*first, last - *first + 1};
}

int send_file_download(mg_connection* connection, const std::filesystem::path& file, std::string_view download_name,
                       bool head) {
  const auto fd = std::make_shared<FileDescriptor>(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat status {};
  if (fd->get() < 0 || ::fstat(fd->get(), &status) != 0 || !S_ISREG(status.st_mode)) {
    send_status_only(connection, 404, "");
    return 404;
  }
  DownloadSource source;
  source.size = static_cast<std::uint64_t>(status.st_size);
  char etag[64];
  std::snprintf(etag, sizeof etag, "\"%" PRIx64 "-%" PRIx64 "\"", source.size,
                static_cast<std::uint64_t>(status.st_mtim.tv_sec) * 1000000000u +
                    static_cast<std::uint64_t>(status.st_mtim.tv_nsec));
  source.etag = etag;
  source.last_modified = status.st_mtim.tv_sec;
  source.read = [fd](std::uint64_t offset, std::size_t length, std::string& out) {
    out.resize(length);
    const ssize_t got = ::pread(fd->get(), out.data(), length, static_cast<off_t>(offset));
    if (got <= 0) return false;  // the file shrank or failed
    out.resize(static_cast<std::size_t>(got));
    return true;
  };
  return send_download(connection, source, download_name, head);
}

int send_download(mg_connection* connection, const DownloadSource& source, std::string_view download_name, bool head) {
  const std::uint64_t size = source.size;
  const char* etag = source.etag.c_str();
  const std::string last_modified = http_date(source.last_modified);
  const std::string common = std::string("ETag: ") + etag + "\r\nLast-Modified: " + last_modified +
                             "\r\nAccept-Ranges: bytes\r\nCache-Control: private, no-cache\r\n"
                             "X-Content-Type-Options: nosniff\r\n";

  const char* if_none_match = mg_get_header(connection, "If-None-Match");
  if (if_none_match != nullptr && (std::strcmp(if_none_match, etag) == 0 || std::strcmp(if_none_match, "*") == 0)) {
    send_status_only(connection, 304, common);
    return 304;
  }
  // If-Range: resume only if the file is still the one the client has the first part of.
  const char* if_range = mg_get_header(connection, "If-Range");
  const bool same_file = if_range == nullptr || std::strcmp(if_range, etag) == 0 || last_modified == if_range;
  const RangeChoice choice = same_file ? choose_range(mg_get_header(connection, "Range"), size) : WholeFile{};
  if (std::holds_alternative<UnsatisfiableRange>(choice)) {
    send_status_only(connection, 416, common + "Content-Range: bytes */" + std::to_string(size) + "\r\n");
    return 416;
  }

  ByteRange span{0, size};
  int http_status = 200;
  std::string range_header;
  if (const auto* range = std::get_if<ByteRange>(&choice)) {
    span = *range;
    http_status = 206;
    range_header = "Content-Range: bytes " + std::to_string(span.first) + "-" +
                   std::to_string(span.first + span.length - 1) + "/" + std::to_string(size) + "\r\n";
  }
  mg_printf(connection,
            "HTTP/1.1 %d %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %" PRIu64
            "\r\n%s%sContent-Disposition: %s\r\nConnection: close\r\n\r\n",
            http_status, mg_get_response_code_text(connection, http_status), span.length, range_header.c_str(),
            common.c_str(), attachment_disposition(download_name).c_str());
  if (head) return http_status;

  std::string buffer;
  std::uint64_t offset = span.first;
  std::uint64_t remaining = span.length;
  while (remaining > 0) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, source.read_bytes));
    if (!source.read(offset, want, buffer) || buffer.empty()) break;  // the short body tells the client
    if (mg_write(connection, buffer.data(), buffer.size()) <= 0) break;  // client went away
    offset += buffer.size();
    remaining -= std::min<std::uint64_t>(remaining, buffer.size());
  }
  return http_status;
}

}  // namespace resumable::demo
