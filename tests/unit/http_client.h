// A small libcurl client for the server tests, plus a raw-socket client for what curl will not send
// (truncated bodies, Expect: 100-continue handshakes).
#pragma once

#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace resumable::testing {

struct HttpResponse {
  long status = 0;
  std::string body;
  std::string headers;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string error_code() const {
    const auto j = json();
    return j.is_object() && j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : "";
  }
};

struct MultipartPart {
  std::string name;
  std::string value;
  std::string file_name;  // non-empty: a file part
};

class HttpClient {
 public:
  HttpClient() { curl_global_init(CURL_GLOBAL_DEFAULT); }

  HttpResponse request(const std::string& method, const std::string& url, const std::vector<std::string>& headers = {},
                       const std::string& body = {}, bool chunked = false) const {
    CURL* curl = curl_easy_init();
    HttpResponse response;
    curl_slist* header_list = nullptr;
    for (const auto& h : headers) header_list = curl_slist_append(header_list, h.c_str());
    if (chunked) header_list = curl_slist_append(header_list, "Transfer-Encoding: chunked");
    header_list = curl_slist_append(header_list, "Expect:");  // no 100-continue round trip unless a test asks
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
    BodyReader reader{body, 0};
    if (method == "POST" || method == "PUT" || method == "PATCH") {
      // A read callback, not POSTFIELDS: chunked bodies must not stop at the first NUL byte.
      curl_easy_setopt(curl, CURLOPT_POST, 1L);
      curl_easy_setopt(curl, CURLOPT_READFUNCTION, &HttpClient::read_body);
      curl_easy_setopt(curl, CURLOPT_READDATA, &reader);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, chunked ? curl_off_t{-1} : static_cast<curl_off_t>(body.size()));
    }
    configure(curl, response);
    curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    curl_slist_free_all(header_list);
    curl_easy_cleanup(curl);
    return response;
  }

  HttpResponse multipart(const std::string& url, const std::vector<std::string>& headers,
                         const std::vector<MultipartPart>& parts) const {
    CURL* curl = curl_easy_init();
    HttpResponse response;
    curl_slist* header_list = nullptr;
    for (const auto& h : headers) header_list = curl_slist_append(header_list, h.c_str());
    header_list = curl_slist_append(header_list, "Expect:");
    curl_mime* mime = curl_mime_init(curl);
    for (const auto& part : parts) {
      curl_mimepart* p = curl_mime_addpart(mime);
      curl_mime_name(p, part.name.c_str());
      curl_mime_data(p, part.value.data(), part.value.size());
      if (!part.file_name.empty()) {
        curl_mime_filename(p, part.file_name.c_str());
        curl_mime_type(p, "application/octet-stream");
      }
    }
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
    curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
    configure(curl, response);
    curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    curl_mime_free(mime);
    curl_slist_free_all(header_list);
    curl_easy_cleanup(curl);
    return response;
  }

 private:
  struct BodyReader {
    const std::string& body;
    std::size_t position;
  };
  static std::size_t read_body(char* buffer, std::size_t size, std::size_t count, void* source) {
    auto* reader = static_cast<BodyReader*>(source);
    const std::size_t n = std::min(size * count, reader->body.size() - reader->position);
    std::memcpy(buffer, reader->body.data() + reader->position, n);
    reader->position += n;
    return n;
  }
  static std::size_t append(char* data, std::size_t size, std::size_t count, void* target) {
    static_cast<std::string*>(target)->append(data, size * count);
    return size * count;
  }
  static void configure(CURL* curl, HttpResponse& response) {
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &HttpClient::append);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &HttpClient::append);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  }
};

// A plain TCP connection to 127.0.0.1:port for hand-written requests.
class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    timeval timeout{30, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  ~RawConnection() { close(); }

  bool connected() const { return connected_; }
  bool send(const std::string& data) const {
    std::size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }
  // Reads until `marker` appears or the peer closes; returns what was read.
  std::string receive_until(const std::string& marker) const {
    std::string data;
    char buffer[4096];
    while (data.find(marker) == std::string::npos) {
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      data.append(buffer, static_cast<std::size_t>(n));
    }
    return data;
  }
  void shutdown_write() const { ::shutdown(fd_, SHUT_WR); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
  bool connected_ = false;
};

}  // namespace resumable::testing
