#include "http_exchange.h"

#include <cstring>

#include "file_download.h"

namespace resumable::demo {

namespace {

// Pages run only the demo's own scripts and the widget's (whose Worker compiles the wasm core).
constexpr const char* content_security_policy =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

std::optional<std::string> lookup_variable(const char* data, std::size_t length, const char* name) {
  if (data == nullptr) return std::nullopt;
  std::string value(length + 1, '\0');  // a decoded value is never longer than the data it came from
  const int found = mg_get_var(data, length, name, value.data(), value.size());
  if (found < 0) return std::nullopt;
  value.resize(static_cast<std::size_t>(found));
  return value;
}

}  // namespace

Response Response::page(int status, const Html& html) {
  Response response;
  response.status = status;
  response.body = html.str();
  return response;
}

Response Response::redirect(std::string location) {
  Response response;
  response.status = 303;
  response.headers.emplace_back("Location", std::move(location));
  return response;
}

Response Response::download(std::filesystem::path file, std::string download_name) {
  Response response;
  response.file = std::move(file);
  response.download_name = std::move(download_name);
  return response;
}

Response Response::download(DownloadSource source, std::string download_name) {
  Response response;
  response.source = std::move(source);
  response.download_name = std::move(download_name);
  return response;
}

Request::Request(mg_connection* connection) : connection_(connection) {
  const mg_request_info* info = mg_get_request_info(connection);
  method_ = info->request_method != nullptr ? info->request_method : "";
  path_ = info->local_uri != nullptr ? info->local_uri : "";
  query_ = info->query_string != nullptr ? info->query_string : "";
}

std::optional<std::string> Request::header(const char* name) const {
  const char* value = mg_get_header(connection_, name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::optional<std::string> Request::cookie(const char* name) const {
  const char* header = mg_get_header(connection_, "Cookie");
  if (header == nullptr) return std::nullopt;
  std::string value(std::strlen(header) + 1, '\0');
  const int found = mg_get_cookie(header, name, value.data(), value.size());
  if (found < 0) return std::nullopt;
  value.resize(static_cast<std::size_t>(found));
  return value;
}

std::optional<std::string> Request::query_value(const char* name) const {
  return lookup_variable(query_.c_str(), query_.size(), name);
}

std::variant<FormError, FormFields> Request::read_form(std::size_t max_bytes) const {
  const char* type = mg_get_header(connection_, "Content-Type");
  constexpr std::string_view urlencoded = "application/x-www-form-urlencoded";
  if (type == nullptr || mg_strncasecmp(type, urlencoded.data(), urlencoded.size()) != 0) {
    return FormError::wrong_content_type;
  }
  const long long declared = mg_get_request_info(connection_)->content_length;
  if (declared > static_cast<long long>(max_bytes)) return FormError::too_large;
  std::string body;
  char buffer[8192];
  for (;;) {
    const int n = mg_read(connection_, buffer, sizeof buffer);
    if (n < 0) return FormError::incomplete;
    if (n == 0) break;
    body.append(buffer, static_cast<std::size_t>(n));
    if (body.size() > max_bytes) return FormError::too_large;
  }
  if (declared >= 0 && body.size() != static_cast<std::size_t>(declared)) return FormError::incomplete;
  return FormFields::parse(body);
}

int send_response(mg_connection* connection, const Response& response, bool head) {
  if (!response.file.empty()) return send_file_download(connection, response.file, response.download_name, head);
  if (response.source) return send_download(connection, *response.source, response.download_name, head);
  std::string extra;
  for (const auto& [name, value] : response.headers) extra += name + ": " + value + "\r\n";

  mg_printf(connection,
            "HTTP/1.1 %d %s\r\n"
            "Content-Type: %s\r\n"
            "Content-Length: %zu\r\n"
            "Cache-Control: no-store\r\n"
            "X-Content-Type-Options: nosniff\r\n"
            "X-Frame-Options: DENY\r\n"
            "Referrer-Policy: same-origin\r\n"
            "Content-Security-Policy: %s\r\n"
            "Connection: close\r\n"
            "%s\r\n",
            response.status, mg_get_response_code_text(connection, response.status), response.content_type.c_str(),
            response.body.size(), content_security_policy, extra.c_str());
  if (!head && !response.body.empty()) mg_write(connection, response.body.data(), response.body.size());
  return response.status;
}

std::string session_cookie(std::string_view name, std::string_view value, std::optional<long long> max_age_seconds) {
  std::string cookie = std::string(name) + "=" + std::string(value) + "; Path=/; HttpOnly; SameSite=Strict";
  if (max_age_seconds) cookie += "; Max-Age=" + std::to_string(*max_age_seconds);
  return cookie;
}

}  // namespace resumable::demo
