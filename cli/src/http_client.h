// HTTP requests on libcurl's multi interface, knowing nothing of the upload protocol: many
// transfers at once on one thread, each with a stall timeout (no byte moving in either direction)
// and a response timeout (no reply after the body was sent), both enforced here because libcurl's
// own low-speed limit cannot tell the two apart.
//
// Contract: one HttpClient per thread, driven by poll(); every callback runs inside poll() (or
// never, for a request aborted first). Request bodies are shared with the caller and must not change
// while in flight. No exceptions escape (a libcurl failure becomes a response with status 0).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace resumable::cli {

using Milliseconds = std::chrono::milliseconds;

struct TransferSettings {
  Milliseconds stall_timeout{30000};
  Milliseconds response_timeout{120000};
  bool insecure = false;          // do not verify the server's certificate (a device's self-signed one)
  std::string ca_file;            // extra CA bundle to verify against; empty: the system's
  std::uint64_t max_send_speed = 0;  // bytes per second per transfer; 0: unlimited
  // Cookies are shared by all requests (an anonymous mount's scope cookie, docs/protocol.md); with a
  // jar file they are read from it first and written back, so a later run is in the same scope.
  std::string cookie_jar;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::shared_ptr<const std::vector<std::uint8_t>> body;  // sent for POST, PUT and PATCH; null: none
  std::string content_type;
};

struct HttpResponse {
  long status = 0;  // 0: no reply (see transport_error, timed_out)
  std::string body;
  std::optional<std::string> retry_after;  // the Retry-After header's text
  std::optional<std::string> date;         // the Date header's text
  // Every header of the final reply head, names in lower case (tus says where things stand in them).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string transport_error;             // libcurl's reason when status is 0
  // With status 0: retrying cannot help (an untrusted certificate, an unsupported URL).
  bool transport_final = false;
  bool timed_out = false;

  // The first header of that name (lower case), if any.
  std::optional<std::string> header(std::string_view lower_case_name) const;
};

class HttpClient {
 public:
  using RequestId = std::uint64_t;
  using OnDone = std::function<void(HttpResponse)>;
  using OnProgress = std::function<void(std::uint64_t body_bytes_sent)>;

  explicit HttpClient(TransferSettings settings);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Starts a request; on_done is called once from a later poll(), unless abort() comes first.
  RequestId start(HttpRequest request, OnDone on_done, OnProgress on_progress = {});
  // Stops a request; its callbacks are never called. Unknown or finished ids are ignored.
  void abort(RequestId id);
  // Moves every transfer forward, waiting at most `timeout` for the network; calls callbacks.
  void poll(Milliseconds timeout);
  std::size_t active() const { return transfers_.size(); }

 private:
  struct Transfer;
  void finish(Transfer& transfer, int curl_code);

  TransferSettings settings_;
  void* multi_;  // CURLM*, owned
  void* share_;  // CURLSH*, owned: the cookies
  bool cookies_loaded_ = false;
  RequestId next_id_ = 1;
  std::map<RequestId, std::unique_ptr<Transfer>> transfers_;
};

}  // namespace resumable::cli
