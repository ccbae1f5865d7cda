// What a protocol front-end is to the HTTP adapter (civetweb/), with no CivetWeb in sight: the
// adapter authorizes a request, asks the mounted front-end which methods a path accepts, and hands
// it a RequestView; the front-end's Exchange then answers at once or takes the body through one
// BodySink, whether it arrives raw or as a multipart file part. Replies are values the adapter
// writes. Adding a protocol is adding a FrontEnd (frontends/<name>/) and a mount call.
//
// Threads: one Exchange serves one request on one thread; a FrontEnd serves many at once.
// Nothing here throws but std::bad_alloc (the adapter answers internal_error then).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "resumable/errors.h"

namespace resumable::http {

// A request parameter's decoded value; one too long to hold is present with `too_long` set, one
// given more than once with different values with `conflicting` set (which one a client meant
// cannot be known: the request is refused).
struct ParamValue {
  std::string value;
  bool too_long = false;
  bool conflicting = false;
};
// nullopt when absent.
using ParamLookup = std::function<std::optional<ParamValue>(std::string_view name)>;

class RequestView {
 public:
  virtual ~RequestView() = default;
  virtual std::string_view method() const = 0;
  virtual std::string_view path() const = 0;  // below the mount: "" for the mount itself, "/status", ...
  virtual std::string_view base() const { return {}; }  // the mount's own path ("/files"), for URLs it hands out
  // A query parameter, decoded; values over `max_bytes` are too_long.
  virtual std::optional<ParamValue> query_param(std::string_view name, std::size_t max_bytes) const = 0;
  virtual std::optional<std::string_view> header(std::string_view name) const = 0;
  virtual std::optional<std::uint64_t> content_length() const = 0;  // nullopt: not declared
  // Ends this request's body from another thread while the request is being served (its reads then
  // see the connection gone): how a retry takes over from a stalled request. Empty if the adapter
  // cannot; call it only while this request's exchange is still alive.
  virtual std::function<void()> interrupter() const { return {}; }
};

struct Reply {
  int status = 200;
  std::string content_type;  // empty: no body
  std::string body;
  std::vector<std::string> headers;  // extra "Name: value" lines
  // The server closes the connection after this reply: it was sent before the body was read, and
  // unread body bytes would otherwise be taken for the next request.
  bool close = false;
  // A body too large to build whole: written piece by piece through `write` (false once the client
  // is gone), in chunked transfer encoding. `body` is then unused.
  std::function<void(const std::function<bool(std::string_view)>& write)> stream;
};

// Where body bytes go: the adapter reads into next_buffer() and says how many arrived.
class BodySink {
 public:
  virtual ~BodySink() = default;
  // Never empty; at most as many bytes as the body may still have, plus one (to see an over-long body).
  virtual std::span<std::uint8_t> next_buffer() = 0;
  // False: stop reading, the exchange has its answer.
  virtual bool received(std::size_t length) = 0;
};

enum class BodyKind : std::uint8_t { raw, multipart };

enum class BodyEnd : std::uint8_t {
  complete,         // the whole body was read
  cut_short,        // the multipart body ended or broke before its end
  connection_lost,  // reading failed: nobody is left to answer
  malformed,        // the body's transfer encoding could not be parsed (a bad chunked body)
  too_slow,         // the adapter ended a body slower than the mount's minimum rate
};

// How the adapter treats multipart bodies for this front-end.
struct MultipartRules {
  std::string file_field = "file";  // the part whose bytes go to the sink; other file parts are skipped
  std::size_t max_fields = 32;
  std::size_t max_field_bytes = 4096;
};

class Exchange {
 public:
  virtual ~Exchange() = default;
  // After authorization: the reply, or which kind of body to read into sink().
  virtual std::variant<Reply, BodyKind> start() = 0;
  // An informational (1xx) reply to send once start() chose to read a body, before the first byte
  // of it is read (the IETF draft's 104 Upload Resumption Supported); asked once. Headers only.
  virtual std::optional<Reply> interim() { return std::nullopt; }
  // Multipart: the file part begins, after the form `fields` that came before it. False when the
  // exchange refuses the request (finish() then says why).
  virtual bool file_part(const ParamLookup& fields) = 0;
  virtual BodySink& sink() = 0;
  // A fault the adapter found in the body itself (e.g. too many form fields).
  virtual void fail(ErrorCode code) = 0;
  // The body is over; the reply, or nullopt when the connection is gone.
  virtual std::optional<Reply> finish(BodyEnd end) = 0;
};

class FrontEnd {
 public:
  virtual ~FrontEnd() = default;
  // The methods a path below the mount accepts, for `Allow` (e.g. "GET, POST"); nullopt: no such path.
  virtual std::optional<std::string> allowed_methods(std::string_view path) const = 0;
  virtual std::unique_ptr<Exchange> exchange(const RequestView& request, const std::string& principal) = 0;
  // The protocol's rendering of an error (the adapter's own refusals use it too).
  virtual Reply error_reply(ErrorCode code, bool close) const = 0;
  virtual MultipartRules multipart_rules() const = 0;
  // The reply headers pages on other origins may read (Access-Control-Expose-Headers).
  virtual std::string exposed_headers() const { return "Retry-After"; }
  // Called at the start of every request the front-end serves (periodic work of the core).
  virtual void on_request() {}
};

}  // namespace resumable::http
