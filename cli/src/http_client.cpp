#include "http_client.h"

#include <curl/curl.h>

#include <cctype>
#include <cstring>
#include <string_view>
#include <utility>

namespace resumable::cli {

namespace {

using Clock = std::chrono::steady_clock;

struct EasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
struct ListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

bool header_is(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char a = static_cast<char>(std::tolower(static_cast<unsigned char>(line[i])));
    if (a != name[i]) return false;
  }
  return true;
}

std::string header_value(std::string_view line, std::size_t name_length) {
  std::string_view value = line.substr(name_length + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
  return std::string(value);
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view lower_case_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_case_name) return value;
  }
  return std::nullopt;
}

struct HttpClient::Transfer {
  RequestId id = 0;
  std::unique_ptr<CURL, EasyDeleter> easy;
  std::unique_ptr<curl_slist, ListDeleter> headers;
  HttpRequest request;
  HttpResponse response;
  OnDone on_done;
  OnProgress on_progress;
  const TransferSettings* settings = nullptr;
  // Stall and response timeouts, checked from libcurl's progress callback (about once a second
  // when nothing moves, more often when bytes do).
  Clock::time_point last_movement = Clock::now();
  std::optional<Clock::time_point> body_sent_at;
  curl_off_t last_up = -1, last_down = -1;

  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* self) {
    auto& transfer = *static_cast<Transfer*>(self);
    const std::string_view line(data, size * count);
    if (line.rfind("HTTP/", 0) == 0) {  // a new reply head (after a 100 Continue, say)
      transfer.response.retry_after.reset();
      transfer.response.date.reset();
      transfer.response.headers.clear();
      return size * count;
    }
    // Bounded: a reply's head is small, a hostile one must not grow without end.
    if (const auto colon = line.find(':'); colon != std::string_view::npos && colon > 0 && transfer.response.headers.size() < 256) {
      std::string name(line.substr(0, colon));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      transfer.response.headers.emplace_back(std::move(name), header_value(line, colon));
    }
    if (header_is(line, "retry-after")) {
      transfer.response.retry_after = header_value(line, 11);
    } else if (header_is(line, "date")) {
      transfer.response.date = header_value(line, 4);
    }
    return size * count;
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* self) {
    auto& transfer = *static_cast<Transfer*>(self);
    constexpr std::size_t reply_limit = 16 << 20;  // status replies of huge uploads are a few MiB at most
    if (transfer.response.body.size() + size * count > reply_limit) return 0;
    transfer.response.body.append(data, size * count);
    return size * count;
  }

  static int on_progress_tick(void* self, curl_off_t, curl_off_t down, curl_off_t, curl_off_t up) {
    auto& transfer = *static_cast<Transfer*>(self);
    const auto now = Clock::now();
    if (up != transfer.last_up || down != transfer.last_down) {
      if (up != transfer.last_up && transfer.on_progress) transfer.on_progress(static_cast<std::uint64_t>(up));
      transfer.last_up = up;
      transfer.last_down = down;
      transfer.last_movement = now;
    }
    const std::uint64_t body_size = transfer.request.body ? transfer.request.body->size() : 0;
    const bool waiting_for_reply = down == 0 && static_cast<std::uint64_t>(up) >= body_size;
    if (waiting_for_reply) {
      if (!transfer.body_sent_at) transfer.body_sent_at = now;
      if (now - *transfer.body_sent_at > transfer.settings->response_timeout) {
        transfer.response.timed_out = true;
        return 1;
      }
    } else if (now - transfer.last_movement > transfer.settings->stall_timeout) {
      transfer.response.timed_out = true;
      return 1;
    }
    return 0;
  }
};

HttpClient::HttpClient(TransferSettings settings) : settings_(std::move(settings)) {
  static const bool initialized = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  (void)initialized;
  multi_ = curl_multi_init();
  share_ = curl_share_init();
  curl_share_setopt(static_cast<CURLSH*>(share_), CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE);
}

HttpClient::~HttpClient() {
  for (auto& [id, transfer] : transfers_) curl_multi_remove_handle(static_cast<CURLM*>(multi_), transfer->easy.get());
  transfers_.clear();
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
  curl_share_cleanup(static_cast<CURLSH*>(share_));  // after every easy handle that used it
}

HttpClient::RequestId HttpClient::start(HttpRequest request, OnDone on_done, OnProgress on_progress) {
  auto transfer = std::make_unique<Transfer>();
  transfer->id = next_id_++;
  transfer->request = std::move(request);
  transfer->on_done = std::move(on_done);
  transfer->on_progress = std::move(on_progress);
  transfer->settings = &settings_;
  transfer->easy.reset(curl_easy_init());
  CURL* easy = transfer->easy.get();
  const HttpRequest& r = transfer->request;
  curl_slist* list = nullptr;
  for (const auto& header : r.headers) list = curl_slist_append(list, header.c_str());
  // The server answers 100-continue, but waiting for it costs a round trip per chunk; a refusal
  // still arrives before much of the body has gone.
  list = curl_slist_append(list, "Expect:");
  if (!r.content_type.empty()) list = curl_slist_append(list, ("Content-Type: " + r.content_type).c_str());
  transfer->headers.reset(list);

  curl_easy_setopt(easy, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, transfer.get());
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, transfer.get());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Transfer::on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, transfer.get());
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &Transfer::on_progress_tick);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, transfer.get());
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings_.response_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "resumable-cli/" RESUMABLE_CLI_VERSION);
  curl_easy_setopt(easy, CURLOPT_SHARE, static_cast<CURLSH*>(share_));
  // "" turns the cookie engine on without a file; the jar is read once, into the shared store.
  curl_easy_setopt(easy, CURLOPT_COOKIEFILE, cookies_loaded_ ? "" : settings_.cookie_jar.c_str());
  cookies_loaded_ = true;
  if (!settings_.cookie_jar.empty()) curl_easy_setopt(easy, CURLOPT_COOKIEJAR, settings_.cookie_jar.c_str());
  if (settings_.insecure) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!settings_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, settings_.ca_file.c_str());
  if (settings_.max_send_speed > 0) {
    curl_easy_setopt(easy, CURLOPT_MAX_SEND_SPEED_LARGE, static_cast<curl_off_t>(settings_.max_send_speed));
  }
  if (r.method == "POST" || r.method == "PUT" || r.method == "PATCH") {
    static const std::uint8_t nothing = 0;
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, r.body && !r.body->empty() ? r.body->data() : &nothing);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body ? r.body->size() : 0));
    if (r.method != "POST") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  } else if (r.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);  // a HEAD reply's Content-Length announces no body
  } else if (r.method != "GET") {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  }
  const RequestId id = transfer->id;
  curl_multi_add_handle(static_cast<CURLM*>(multi_), easy);
  transfers_.emplace(id, std::move(transfer));
  return id;
}

void HttpClient::abort(RequestId id) {
  const auto it = transfers_.find(id);
  if (it == transfers_.end()) return;
  curl_multi_remove_handle(static_cast<CURLM*>(multi_), it->second->easy.get());
  transfers_.erase(it);
}

void HttpClient::finish(Transfer& transfer, int curl_code) {
  CURL* easy = transfer.easy.get();
  HttpResponse response = std::move(transfer.response);
  if (curl_code == CURLE_OK) {
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response.status);
  } else {
    response.status = 0;
    response.body.clear();
    response.transport_error = response.timed_out ? "timed out" : curl_easy_strerror(static_cast<CURLcode>(curl_code));
    switch (curl_code) {
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_SSL_CERTPROBLEM:
      case CURLE_SSL_ISSUER_ERROR:
      case CURLE_SSL_CRL_BADFILE:
      case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        // A device's self-signed certificate fails the same way on every attempt: say how to trust it.
        response.transport_final = true;
        response.transport_error += " (trust the server's certificate with --cacert FILE, or skip the check with --insecure)";
        break;
      case CURLE_UNSUPPORTED_PROTOCOL:
      case CURLE_URL_MALFORMAT:
        response.transport_final = true;
        break;
      default:
        break;
    }
  }
  OnDone on_done = std::move(transfer.on_done);
  const RequestId id = transfer.id;
  curl_multi_remove_handle(static_cast<CURLM*>(multi_), easy);
  transfers_.erase(id);  // `transfer` is gone from here on
  on_done(std::move(response));
}

void HttpClient::poll(Milliseconds timeout) {
  auto* multi = static_cast<CURLM*>(multi_);
  int running = 0;
  curl_multi_perform(multi, &running);
  // With no transfer, curl_multi_poll still waits out the timeout: the caller's retry timers.
  curl_multi_poll(multi, nullptr, 0, static_cast<int>(timeout.count()), nullptr);
  curl_multi_perform(multi, &running);
  // Collect the finished ones first: their callbacks may start or abort other requests.
  std::vector<std::pair<RequestId, int>> finished;
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
    if (message->msg != CURLMSG_DONE) continue;
    void* pointer = nullptr;
    curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &pointer);
    finished.emplace_back(static_cast<Transfer*>(pointer)->id, static_cast<int>(message->data.result));
  }
  for (const auto& [id, code] : finished) {
    const auto it = transfers_.find(id);
    if (it != transfers_.end()) finish(*it->second, code);
  }
}

}  // namespace resumable::cli
