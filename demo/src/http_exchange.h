// One HTTP request and its response, over CivetWeb's C API: what the demo's route handlers see.
// Handlers build a Response value; send_response() writes it with the demo's security headers.
// Nothing here throws into CivetWeb: the router catches everything (app.cpp).
#pragma once

#include <civetweb.h>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "file_download.h"
#include "form_data.h"
#include "html.h"

namespace resumable::demo {

struct Response {
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // beyond the standard ones
  // A download (file_download.h: Range requests, HEAD, ETag), always an attachment of type
  // application/octet-stream. `body` and `headers` are then unused.
  std::filesystem::path file;
  std::string download_name;
  std::optional<DownloadSource> source;  // a download from elsewhere than a file (an S3 object)

  static Response page(int status, const Html& html);
  static Response redirect(std::string location);  // 303 See Other: after a form post
  static Response download(std::filesystem::path file, std::string download_name);
  static Response download(DownloadSource source, std::string download_name);
};

// Why a form body could not be read.
enum class FormError { wrong_content_type, too_large, incomplete };

class Request {
 public:
  explicit Request(mg_connection* connection);

  mg_connection* connection() const { return connection_; }
  std::string_view method() const { return method_; }
  bool is_get_or_head() const { return method_ == "GET" || method_ == "HEAD"; }
  bool is_post() const { return method_ == "POST"; }
  std::string_view path() const { return path_; }

  std::optional<std::string> header(const char* name) const;
  std::optional<std::string> cookie(const char* name) const;
  std::optional<std::string> query_value(const char* name) const;

  // Reads an application/x-www-form-urlencoded body of at most `max_bytes`.
  std::variant<FormError, FormFields> read_form(std::size_t max_bytes) const;

 private:
  mg_connection* connection_;
  std::string method_;
  std::string path_;
  std::string query_;
};

// Writes `response` (status line, headers, body) to the connection; `head` omits the body.
// Returns the HTTP status sent.
int send_response(mg_connection* connection, const Response& response, bool head);

// A Set-Cookie value for the session cookie: HttpOnly, SameSite=Strict, Path=/; with Max-Age when
// `max_age_seconds` is given (0 deletes the cookie), otherwise it lasts until the browser closes.
std::string session_cookie(std::string_view name, std::string_view value, std::optional<long long> max_age_seconds);

}  // namespace resumable::demo
