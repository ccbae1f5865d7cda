#include "resumable/s3_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <random>
#include <thread>

#include "xml_tree.h"

namespace resumable {

namespace {

struct EasyFree {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
using EasyHandle = std::unique_ptr<CURL, EasyFree>;

struct SlistFree {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistFree>;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

// RFC 3986 unreserved characters stay, everything else is %XX (curl_easy_escape): what SigV4's
// canonical query and S3's keys expect, since libcurl signs the URL as it is written. Keys keep
// their slashes.
std::string uri_encode(std::string_view text, bool keep_slash) {
  std::string out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = keep_slash ? text.find('/', start) : std::string_view::npos;
    const std::string_view segment = text.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!segment.empty()) {
      // The handle is ignored since libcurl 7.82.
      std::unique_ptr<char, decltype(&curl_free)> escaped(
          curl_easy_escape(nullptr, segment.data(), static_cast<int>(segment.size())), &curl_free);
      if (escaped) out += escaped.get();
    }
    if (slash == std::string_view::npos) return out;
    out += '/';
    start = slash + 1;
  }
}

std::chrono::system_clock::time_point parse_iso8601(const std::string& text) {
  std::tm tm{};
  if (strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

struct Body {
  std::string_view data;
  std::size_t sent = 0;
};

std::size_t read_body(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* body = static_cast<Body*>(user);
  const std::size_t n = std::min(size * count, body->data.size() - body->sent);
  std::memcpy(buffer, body->data.data() + body->sent, n);
  body->sent += n;
  return n;
}

struct Reply {
  std::string body;
  std::string etag;
};

std::size_t write_reply(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<Reply*>(user)->body.append(data, size * count);
  return size * count;
}

std::size_t header_line(char* data, std::size_t size, std::size_t count, void* user) {
  const std::string_view line(data, size * count);
  constexpr std::string_view name = "etag:";
  if (line.size() > name.size() &&
      std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
    std::string_view value = line.substr(name.size());
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
    static_cast<Reply*>(user)->etag = std::string(value);
  }
  return size * count;
}

bool retryable_curl_error(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

bool retryable_http_status(long status) { return status == 500 || status == 502 || status == 503 || status == 504; }

// The Code of an S3 <Error> document, or "".
std::string error_code_of(const std::string& body) {
  if (body.find("<Error") == std::string::npos) return {};
  const auto document = xml::parse(body);
  if (!document || document->name != "Error") return {};
  return document->child_text("Code");
}

struct Request {
  const char* method = "GET";
  std::string key;    // empty: the bucket itself
  std::string query;  // encoded, its parameters already in sorted order (libcurl signs it as written)
  std::vector<std::string> headers;
  std::optional<std::string_view> body;  // sent with its length
  std::string what;                      // for `detail`
};

}  // namespace

struct S3Client::Impl {
  S3Options options;
  std::string scheme_and_host;  // "http://127.0.0.1:7480" (path style) or "https://bucket.host" (virtual host)
  std::string base_path;        // the endpoint's own path, no trailing slash
  std::string sigv4;            // "aws:amz:<region>:s3"
  std::string userpwd;

  std::mutex pool_mutex;
  std::vector<EasyHandle> idle;  // reused, so their connections are too

  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> retried{0};

  EasyHandle take() {
    {
      std::lock_guard lock(pool_mutex);
      if (!idle.empty()) {
        EasyHandle handle = std::move(idle.back());
        idle.pop_back();
        return handle;
      }
    }
    return EasyHandle(curl_easy_init());
  }
  void give_back(EasyHandle handle) {
    std::lock_guard lock(pool_mutex);
    if (idle.size() < 32) idle.push_back(std::move(handle));
  }

  std::string url_for(const Request& request) const {
    std::string url = scheme_and_host + base_path;
    if (options.path_style) url += "/" + uri_encode(options.bucket, false);
    url += "/" + uri_encode(request.key, true);
    if (!request.query.empty()) url += "?" + request.query;
    return url;
  }

  std::chrono::milliseconds backoff(int attempt) const {
    auto delay = options.first_backoff;
    for (int i = 1; i < attempt && delay < options.max_backoff; ++i) delay *= 2;
    delay = std::min(delay, options.max_backoff);
    thread_local std::mt19937_64 random{std::random_device{}()};
    std::uniform_int_distribution<std::int64_t> jitter(delay.count() / 2, delay.count());
    return std::chrono::milliseconds(jitter(random));
  }

  // One request with its retries. `status` is the final HTTP status (0 when none came).
  StorageStatus perform(const Request& request, Reply& reply, long& status) {
    EasyHandle easy = take();
    if (!easy) return {StorageCode::io_error, request.what + ": curl_easy_init failed"};
    const std::string url = url_for(request);
    Slist headers;
    {
      curl_slist* list = nullptr;
      auto add = [&](const std::string& h) {
        curl_slist* grown = curl_slist_append(list, h.c_str());
        if (grown != nullptr) list = grown;
      };
      add("x-amz-content-sha256: UNSIGNED-PAYLOAD");
      if (!options.session_token.empty()) add("x-amz-security-token: " + options.session_token);
      for (const auto& h : request.headers) add(h);
      headers.reset(list);
    }
    std::string last_failure;
    for (int attempt = 1;; ++attempt) {
      CURL* h = easy.get();
      curl_easy_reset(h);
      reply = Reply{};
      Body body{request.body.value_or(std::string_view{}), 0};
      curl_easy_setopt(h, CURLOPT_URL, url.c_str());
      curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4.c_str());
      curl_easy_setopt(h, CURLOPT_USERPWD, userpwd.c_str());
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
      curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
      // Not "Expect:" to drop 100-continue: libcurl 7.88 then signs an empty expect header it never
      // sends (SignatureDoesNotMatch). A short wait for the 100 costs little instead.
      curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 200L);
      curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.stall_timeout.count()));
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_reply);
      curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);
      curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_line);
      curl_easy_setopt(h, CURLOPT_HEADERDATA, &reply);
      const std::string_view method = request.method;
      if (method == "PUT") {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_body);
        curl_easy_setopt(h, CURLOPT_READDATA, &body);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.data.size()));
      } else if (method == "POST") {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data.data() != nullptr ? body.data.data() : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.data.size()));
      } else if (method == "HEAD") {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
      } else if (method != "GET") {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method);
      }
      ++sent;
      const CURLcode code = curl_easy_perform(h);
      status = 0;
      bool retry = false;
      if (code != CURLE_OK) {
        last_failure = curl_easy_strerror(code);
        retry = retryable_curl_error(code);
        if (!retry) break;
      } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        // CompleteMultipartUpload may fail after its 200 has been sent: the error is in the body.
        const std::string s3_code = status == 200 && request.what.rfind("CompleteMultipartUpload", 0) == 0
                                        ? error_code_of(reply.body)
                                        : std::string();
        if (!s3_code.empty()) {
          last_failure = "200 with " + s3_code;
          retry = s3_code == "InternalError" || s3_code == "SlowDown" || s3_code == "ServiceUnavailable";
          status = 500;
          if (!retry) break;
        } else if (retryable_http_status(status)) {
          last_failure = std::to_string(status) + " " + error_code_of(reply.body);
          retry = true;
        } else {
          give_back(std::move(easy));
          return StorageStatus::success();
        }
      }
      if (!retry || attempt >= options.max_attempts) {
        give_back(std::move(easy));
        return {StorageCode::unavailable,
                request.what + ": " + last_failure + " (after " + std::to_string(attempt) + " attempts)"};
      }
      ++retried;
      std::this_thread::sleep_for(backoff(attempt));
    }
    give_back(std::move(easy));
    return {StorageCode::io_error, request.what + ": " + last_failure};
  }

  // A request whose success is one of `expected` statuses; others become not_found, conflict or io_error.
  StorageStatus call(const Request& request, Reply& reply, std::initializer_list<long> expected = {200}) {
    long status = 0;
    if (StorageStatus sent_status = perform(request, reply, status); !sent_status) return sent_status;
    if (std::find(expected.begin(), expected.end(), status) != expected.end()) return StorageStatus::success();
    const std::string code = error_code_of(reply.body);
    const std::string detail = request.what + ": HTTP " + std::to_string(status) + (code.empty() ? "" : " " + code);
    if (status == 404) return {StorageCode::not_found, detail};
    if (status == 412) return {StorageCode::conflict, detail};
    return {StorageCode::io_error, detail};
  }
};

std::unique_ptr<S3Client> S3Client::create(S3Options options, std::string* error) {
  auto fail = [&](const std::string& why) -> std::unique_ptr<S3Client> {
    if (error != nullptr) *error = why;
    return nullptr;
  };
  static std::once_flag curl_initialised;
  std::call_once(curl_initialised, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (options.bucket.empty()) return fail("S3: no bucket");
  if (options.region.empty()) options.region = env("AWS_REGION");
  if (options.region.empty()) options.region = env("AWS_DEFAULT_REGION");
  if (options.region.empty()) options.region = "us-east-1";
  if (options.access_key_id.empty() && options.secret_access_key.empty()) {
    options.access_key_id = env("AWS_ACCESS_KEY_ID");
    options.secret_access_key = env("AWS_SECRET_ACCESS_KEY");
    if (options.session_token.empty()) options.session_token = env("AWS_SESSION_TOKEN");
  }
  if (options.access_key_id.empty() || options.secret_access_key.empty()) {
    return fail("S3: no credentials (options or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
  }
  // libcurl takes "user:password": a colon in the key id would split it in the wrong place.
  if (options.access_key_id.find(':') != std::string::npos) return fail("S3: the access key id contains ':'");
  if (options.max_attempts < 1) options.max_attempts = 1;
  for (const char c : options.region + options.bucket) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) {
      return fail("S3: the region and bucket may hold letters, digits, '-', '.' and '_' only");
    }
  }
  auto impl = std::make_unique<Impl>();
  std::string endpoint = options.endpoint.empty() ? "https://s3." + options.region + ".amazonaws.com" : options.endpoint;
  const auto scheme_end = endpoint.find("://");
  if (scheme_end == std::string::npos) return fail("S3: the endpoint must be http://host[:port] or https://host[:port]");
  const std::string scheme = endpoint.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return fail("S3: the endpoint must use http or https");
  std::string rest = endpoint.substr(scheme_end + 3);
  const auto path_start = rest.find('/');
  std::string host = rest.substr(0, path_start);
  std::string path = path_start == std::string::npos ? "" : rest.substr(path_start);
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (host.empty()) return fail("S3: the endpoint has no host");
  impl->scheme_and_host = scheme + "://" + (options.path_style ? host : options.bucket + "." + host);
  impl->base_path = path;
  impl->sigv4 = "aws:amz:" + options.region + ":s3";
  impl->userpwd = options.access_key_id + ":" + options.secret_access_key;
  impl->options = std::move(options);
  return std::unique_ptr<S3Client>(new S3Client(std::move(impl)));
}

S3Client::S3Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
S3Client::~S3Client() = default;

const S3Options& S3Client::options() const { return impl_->options; }
std::uint64_t S3Client::requests_sent() const { return impl_->sent; }
std::uint64_t S3Client::retries() const { return impl_->retried; }

StorageStatus S3Client::create_bucket() {
  Request request{"PUT", "", "", {}, std::string_view{}, "CreateBucket " + impl_->options.bucket};
  Reply reply;
  StorageStatus status = impl_->call(request, reply, {200, 409});  // 409: BucketAlreadyOwnedByYou
  return status;
}

StorageStatus S3Client::put_object(const std::string& key, std::string_view body, bool if_absent) {
  Request request{"PUT", key, "", {"Content-Type: application/octet-stream"}, body, "PutObject " + key};
  if (if_absent) request.headers.push_back("If-None-Match: *");
  Reply reply;
  return impl_->call(request, reply);
}

StorageStatus S3Client::get_object(const std::string& key, std::string& body, std::optional<std::uint64_t> offset,
                                   std::optional<std::uint64_t> length) {
  Request request{"GET", key, "", {}, std::nullopt, "GetObject " + key};
  if (offset || length) {
    const std::uint64_t from = offset.value_or(0);
    if (length && *length == 0) {
      body.clear();
      return StorageStatus::success();
    }
    request.headers.push_back("Range: bytes=" + std::to_string(from) + "-" +
                              (length ? std::to_string(from + *length - 1) : std::string()));
  }
  Reply reply;
  StorageStatus status = impl_->call(request, reply, {200, 206});
  if (status) body = std::move(reply.body);
  return status;
}

StorageStatus S3Client::head_object(const std::string& key) {
  Request request{"HEAD", key, "", {}, std::nullopt, "HeadObject " + key};
  Reply reply;
  long http = 0;
  if (StorageStatus status = impl_->perform(request, reply, http); !status) return status;
  if (http == 404) return {StorageCode::not_found, request.what + ": HTTP 404"};
  if (http != 200) return {StorageCode::io_error, request.what + ": HTTP " + std::to_string(http)};
  return StorageStatus::success();
}

StorageStatus S3Client::delete_object(const std::string& key) {
  Request request{"DELETE", key, "", {}, std::nullopt, "DeleteObject " + key};
  Reply reply;
  return impl_->call(request, reply, {200, 204, 404});
}

StorageStatus S3Client::list_objects(const std::string& prefix, std::vector<S3ObjectInfo>& objects,
                                     const std::string& delimiter, std::vector<std::string>* common_prefixes) {
  objects.clear();
  if (common_prefixes != nullptr) common_prefixes->clear();
  std::string token;
  for (;;) {
    // Sorted: continuation-token < delimiter < list-type < prefix.
    std::string query;
    if (!token.empty()) query += "continuation-token=" + uri_encode(token, false) + "&";
    if (!delimiter.empty()) query += "delimiter=" + uri_encode(delimiter, false) + "&";
    query += "list-type=2&prefix=" + uri_encode(prefix, false);
    Request request{"GET", "", query, {}, std::nullopt, "ListObjectsV2 " + prefix};
    Reply reply;
    if (StorageStatus status = impl_->call(request, reply); !status) return status;
    const auto document = xml::parse(reply.body);
    if (!document || document->name != "ListBucketResult") return {StorageCode::io_error, request.what + ": unreadable reply"};
    for (const auto* contents : document->all("Contents")) {
      S3ObjectInfo info;
      info.key = contents->child_text("Key");
      info.size = std::strtoull(contents->child_text("Size").c_str(), nullptr, 10);
      info.last_modified = parse_iso8601(contents->child_text("LastModified"));
      objects.push_back(std::move(info));
    }
    if (common_prefixes != nullptr) {
      for (const auto* p : document->all("CommonPrefixes")) common_prefixes->push_back(p->child_text("Prefix"));
    }
    if (document->child_text("IsTruncated") != "true") return StorageStatus::success();
    token = document->child_text("NextContinuationToken");
    if (token.empty()) return {StorageCode::io_error, request.what + ": truncated without a continuation token"};
  }
}

StorageStatus S3Client::create_multipart_upload(const std::string& key, std::string& upload_id) {
  Request request{"POST", key, "uploads=", {"Content-Type: application/octet-stream"}, std::string_view{},
                  "CreateMultipartUpload " + key};
  Reply reply;
  if (StorageStatus status = impl_->call(request, reply); !status) return status;
  const auto document = xml::parse(reply.body);
  upload_id = document ? document->child_text("UploadId") : std::string();
  if (upload_id.empty()) return {StorageCode::io_error, request.what + ": no UploadId in the reply"};
  return StorageStatus::success();
}

StorageStatus S3Client::upload_part(const std::string& key, const std::string& upload_id, int part, std::string_view body,
                                    std::string& etag) {
  if (part < 1 || part > s3_max_parts) return {StorageCode::io_error, "UploadPart: part number out of range"};
  Request request{"PUT", key, "partNumber=" + std::to_string(part) + "&uploadId=" + uri_encode(upload_id, false), {}, body,
                  "UploadPart " + key + " #" + std::to_string(part)};
  Reply reply;
  if (StorageStatus status = impl_->call(request, reply); !status) return status;
  etag = reply.etag;
  if (etag.empty()) return {StorageCode::io_error, request.what + ": no ETag in the reply"};
  return StorageStatus::success();
}

StorageStatus S3Client::upload_part_copy(const std::string& key, const std::string& upload_id, int part,
                                         const std::string& source_key, std::string& etag) {
  if (part < 1 || part > s3_max_parts) return {StorageCode::io_error, "UploadPartCopy: part number out of range"};
  Request request{"PUT", key, "partNumber=" + std::to_string(part) + "&uploadId=" + uri_encode(upload_id, false),
                  {"x-amz-copy-source: /" + impl_->options.bucket + "/" + uri_encode(source_key, true)}, std::string_view{},
                  "UploadPartCopy " + key + " #" + std::to_string(part)};
  Reply reply;
  if (StorageStatus status = impl_->call(request, reply); !status) return status;
  const auto document = xml::parse(reply.body);
  etag = document ? document->child_text("ETag") : std::string();
  if (etag.empty()) return {StorageCode::io_error, request.what + ": no ETag in the reply"};
  return StorageStatus::success();
}

StorageStatus S3Client::complete_multipart_upload(const std::string& key, const std::string& upload_id,
                                                  const std::vector<S3Part>& parts) {
  std::string document = "<CompleteMultipartUpload>";
  for (const auto& p : parts) {
    // ETags are quoted hex from S3 itself; nothing in them needs escaping.
    document += "<Part><PartNumber>" + std::to_string(p.number) + "</PartNumber><ETag>" + p.etag + "</ETag></Part>";
  }
  document += "</CompleteMultipartUpload>";
  Request request{"POST", key, "uploadId=" + uri_encode(upload_id, false), {"Content-Type: application/xml"}, document,
                  "CompleteMultipartUpload " + key};
  Reply reply;
  return impl_->call(request, reply);
}

StorageStatus S3Client::abort_multipart_upload(const std::string& key, const std::string& upload_id) {
  Request request{"DELETE", key, "uploadId=" + uri_encode(upload_id, false), {}, std::nullopt,
                  "AbortMultipartUpload " + key};
  Reply reply;
  return impl_->call(request, reply, {200, 204, 404});
}

StorageStatus S3Client::list_parts(const std::string& key, const std::string& upload_id, std::vector<S3Part>& parts) {
  parts.clear();
  std::string marker;
  for (;;) {
    // Sorted: max-parts < part-number-marker < uploadId.
    std::string query = "max-parts=1000&";
    if (!marker.empty()) query += "part-number-marker=" + marker + "&";
    query += "uploadId=" + uri_encode(upload_id, false);
    Request request{"GET", key, query, {}, std::nullopt, "ListParts " + key};
    Reply reply;
    if (StorageStatus status = impl_->call(request, reply); !status) return status;
    const auto document = xml::parse(reply.body);
    if (!document || document->name != "ListPartsResult") return {StorageCode::io_error, request.what + ": unreadable reply"};
    for (const auto* p : document->all("Part")) {
      parts.push_back({std::atoi(p->child_text("PartNumber").c_str()), p->child_text("ETag"),
                       std::strtoull(p->child_text("Size").c_str(), nullptr, 10)});
    }
    if (document->child_text("IsTruncated") != "true") return StorageStatus::success();
    marker = document->child_text("NextPartNumberMarker");
    if (marker.empty()) return {StorageCode::io_error, request.what + ": truncated without a marker"};
  }
}

StorageStatus S3Client::list_multipart_uploads(const std::string& prefix, std::vector<S3MultipartInfo>& uploads) {
  uploads.clear();
  std::string key_marker, id_marker;
  for (;;) {
    // Sorted: key-marker < prefix < upload-id-marker < uploads.
    std::string query;
    if (!key_marker.empty()) query += "key-marker=" + uri_encode(key_marker, false) + "&";
    query += "prefix=" + uri_encode(prefix, false) + "&";
    if (!id_marker.empty()) query += "upload-id-marker=" + uri_encode(id_marker, false) + "&";
    query += "uploads=";
    Request request{"GET", "", query, {}, std::nullopt, "ListMultipartUploads " + prefix};
    Reply reply;
    if (StorageStatus status = impl_->call(request, reply); !status) return status;
    const auto document = xml::parse(reply.body);
    if (!document || document->name != "ListMultipartUploadsResult") {
      return {StorageCode::io_error, request.what + ": unreadable reply"};
    }
    for (const auto* u : document->all("Upload")) uploads.push_back({u->child_text("Key"), u->child_text("UploadId")});
    if (document->child_text("IsTruncated") != "true") return StorageStatus::success();
    key_marker = document->child_text("NextKeyMarker");
    id_marker = document->child_text("NextUploadIdMarker");
    if (key_marker.empty()) return {StorageCode::io_error, request.what + ": truncated without a marker"};
  }
}

}  // namespace resumable
