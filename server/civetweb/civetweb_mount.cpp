#include "civetweb_mount.h"

#include <algorithm>
#include <cstring>
#include <map>

#include <sys/socket.h>

#include "anonymous_scopes.h"
#include "connection_socket.h"
#include "json_error.h"
#include "query_params.h"
#include "reply_writer.h"

#if RESUMABLE_WITH_BODY_WATCHDOG
#include "body_watchdog.h"
#endif

namespace resumable::civetweb {

namespace {

// A request as the front-end sees it.
class ConnectionView final : public http::RequestView {
 public:
  ConnectionView(mg_connection* connection, std::string_view base, std::string_view path)
      : connection_(connection), info_(mg_get_request_info(connection)), base_(base), path_(path) {}
  std::string_view method() const override { return info_->request_method; }
  std::string_view path() const override { return path_; }
  std::string_view base() const override { return base_; }
  std::optional<http::ParamValue> query_param(std::string_view name, std::size_t max_bytes) const override {
    return civetweb::query_param(info_->query_string != nullptr ? info_->query_string : "", name, max_bytes);
  }
  std::optional<std::string_view> header(std::string_view name) const override {
    const char* value = mg_get_header(connection_, std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string_view(value);
  }
  std::function<void()> interrupter() const override {
    return [address = std::string(info_->remote_addr), port = info_->remote_port, server = info_->server_port] {
      shut_down_socket(address, port, server, SHUT_RD);
    };
  }
  std::optional<std::uint64_t> content_length() const override {
    if (info_->content_length < 0) return std::nullopt;
    return static_cast<std::uint64_t>(info_->content_length);
  }

 private:
  mg_connection* connection_;
  const mg_request_info* info_;
  std::string_view base_;
  std::string_view path_;
};

bool method_in(std::string_view method, std::string_view allowed) {
  while (!allowed.empty()) {
    const auto comma = allowed.find(',');
    std::string_view item = allowed.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (item == method) return true;
    if (comma == std::string_view::npos) break;
    allowed.remove_prefix(comma + 1);
  }
  return false;
}

// CivetWeb does not answer `Expect: 100-continue` for request handlers; clients such as curl then
// wait a second before sending the body. Called only once the body is going to be read.
void continue_if_expected(mg_connection* connection) {
  const char* expect = mg_get_header(connection, "Expect");
  if (expect != nullptr && mg_strcasecmp(expect, "100-continue") == 0) mg_printf(connection, "HTTP/1.1 100 Continue\r\n\r\n");
}

// Watches one body through the watchdog thread, where the build has one and the mount a minimum
// rate. Without it a body is bounded only by CivetWeb's own request_timeout_ms (a client that stops
// sending); mg_read blocks until all the bytes it was asked for arrive, so nothing on the request
// thread can notice a body that still drips in.
class BodyWatch {
 public:
  BodyWatch([[maybe_unused]] BodyWatchdog* watchdog, [[maybe_unused]] const mg_connection* connection) {
#if RESUMABLE_WITH_BODY_WATCHDOG
    if (watchdog != nullptr) watch_ = watchdog->watch(connection);
#endif
  }
  void received([[maybe_unused]] std::uint64_t total) {
#if RESUMABLE_WITH_BODY_WATCHDOG
    if (watch_) watch_->received(total);
#endif
  }
  bool expired() const {
#if RESUMABLE_WITH_BODY_WATCHDOG
    if (watch_) return watch_->expired();
#endif
    return false;
  }

 private:
#if RESUMABLE_WITH_BODY_WATCHDOG
  std::unique_ptr<BodyWatchdog::Watch> watch_;
#endif
};

}  // namespace

CivetWebMount::CivetWebMount(http::FrontEnd& front_end, AccessPolicy access, CrossOriginPolicy cross_origin,
                             AnonymousScopes* anonymous, BodyWatchdog* watchdog,
                             std::function<void(const std::string&)> log)
    : front_end_(front_end),
      access_(std::move(access)),
      cross_origin_(std::move(cross_origin)),
      anonymous_(anonymous),
      watchdog_(watchdog),
      log_(std::move(log)) {}

void CivetWebMount::mount(mg_context* context, const std::string& base, AssetHandler* assets) {
  base_ = base;
  // CivetWeb answers CORS preflights before any handler runs, allowing every origin, unless its
  // access_control_allow_methods option is empty: then the mount answers them by its own policy.
  if (const char* methods = mg_get_option(context, "access_control_allow_methods"); methods != nullptr && *methods != 0) {
    log_("CivetWeb's access_control_allow_methods is \"" + std::string(methods) + "\": CivetWeb answers CORS " +
         "preflights for " + base + " itself, for every origin; set it to \"\" so that the mount's cross_origin " +
         "policy applies");
  }
  // `$` anchors the pattern: "/upload" would otherwise also catch "/upload-form". CivetWeb copies
  // the patterns and tries handlers in registration order, first match wins.
  mg_set_request_handler(context, (base + "$").c_str(), &CivetWebMount::handle, this);
  if (assets != nullptr) assets->mount(context);
  mg_set_request_handler(context, (base + "/**").c_str(), &CivetWebMount::handle, this);
}

int CivetWebMount::handle(mg_connection* connection, void* self) {
  auto* mount = static_cast<CivetWebMount*>(self);
  try {
    return mount->serve(connection);
  } catch (const std::exception& e) {
    mount->log_(std::string("request failed: ") + e.what());
  } catch (...) {
    mount->log_("request failed");
  }
  // Only allocation or JSON can throw here, before anything was sent for this request.
  try {
    return mount->send(connection, mount->front_end_.error_reply(ErrorCode::internal_error, true));
  } catch (...) {
    return 500;
  }
}

int CivetWebMount::send(mg_connection* connection, http::Reply reply, const std::vector<std::string>& reply_headers) {
  reply.headers.insert(reply.headers.end(), reply_headers.begin(), reply_headers.end());
  write_reply(connection, reply);
  return reply.status;
}

std::vector<std::string> CivetWebMount::cors_headers(mg_connection* connection) const {
  const char* origin = mg_get_header(connection, "Origin");
  if (origin == nullptr || cross_origin_.allowed_origins.empty()) return {};
  const auto& allowed = cross_origin_.allowed_origins;
  const bool any = std::find(allowed.begin(), allowed.end(), "*") != allowed.end();
  const bool listed = std::find(allowed.begin(), allowed.end(), origin) != allowed.end();
  if (!listed && !any) return {};
  std::vector<std::string> headers;
  if (listed && cross_origin_.allow_credentials) {
    headers.push_back(std::string("Access-Control-Allow-Origin: ") + origin);
    headers.push_back("Access-Control-Allow-Credentials: true");
  } else if (listed && !any) {
    headers.push_back(std::string("Access-Control-Allow-Origin: ") + origin);
  } else {
    headers.push_back("Access-Control-Allow-Origin: *");  // no credentials with a wildcard
  }
  headers.push_back("Vary: Origin");
  headers.push_back("Access-Control-Expose-Headers: " + front_end_.exposed_headers());
  return headers;
}

int CivetWebMount::preflight(mg_connection* connection, std::string_view path) {
  // A preflight carries no credentials: it is answered before authorization, and says only what
  // the page may send. A request it allows is then authorized like any other.
  auto cors = cors_headers(connection);
  const auto allowed = front_end_.allowed_methods(path);
  if (cors.empty() || !allowed) return send(connection, front_end_.error_reply(ErrorCode::forbidden, true));
  http::Reply reply;
  reply.status = 204;
  reply.headers.push_back("Access-Control-Allow-Methods: " + *allowed);
  if (const char* requested = mg_get_header(connection, "Access-Control-Request-Headers")) {
    reply.headers.push_back(std::string("Access-Control-Allow-Headers: ") + requested);
  }
  reply.headers.push_back("Access-Control-Max-Age: " + std::to_string(cross_origin_.preflight_max_age));
  return send(connection, std::move(reply), cors);
}

std::variant<CivetWebMount::Authorized, ErrorCode> CivetWebMount::authorize(mg_connection* connection) const {
  if (access_.verify_request && !access_.verify_request(connection)) return ErrorCode::forbidden;
  std::optional<Principal> found;
  if (access_.authenticate) found = access_.authenticate(connection);
  // "" and the anonymous scopes' prefix are never an authenticated principal's.
  bool authenticated = found.has_value() && !found->id.empty();
  if (authenticated && found->id.rfind(anonymous_principal_prefix, 0) == 0) {
    log_("authenticate returned a principal id that starts with \"" + std::string(anonymous_principal_prefix) +
         "\", reserved for anonymous scopes: treated as not logged in");
    authenticated = false;
  }
  if (authenticated) {
    if (access_.access == Access::staff_required && !found->is_staff) return ErrorCode::forbidden;
    return Authorized{found->id, {}};
  }
  if (access_.access != Access::anonymous_allowed || anonymous_ == nullptr) return ErrorCode::unauthenticated;
  auto scope = anonymous_->resolve(connection);
  Authorized authorized{std::move(scope.principal), {}};
  if (scope.set_cookie) authorized.headers.push_back(std::move(*scope.set_cookie));
  return authorized;
}

int CivetWebMount::serve(mg_connection* connection) {
  front_end_.on_request();
  const mg_request_info* info = mg_get_request_info(connection);
  std::string_view path = info->local_uri != nullptr ? info->local_uri : "";
  path.remove_prefix(std::min(path.size(), base_.size()));
  if (std::strcmp(info->request_method, "OPTIONS") == 0 && mg_get_header(connection, "Origin") != nullptr &&
      mg_get_header(connection, "Access-Control-Request-Method") != nullptr) {
    return preflight(connection, path);
  }
  auto reply_headers = cors_headers(connection);
  // Authorization comes first, on every path of the mount.
  auto authorized = authorize(connection);
  if (const auto* refused = std::get_if<ErrorCode>(&authorized)) {
    return send(connection, front_end_.error_reply(*refused, true), reply_headers);
  }
  const auto& [principal, scope_headers] = std::get<Authorized>(authorized);
  reply_headers.insert(reply_headers.end(), scope_headers.begin(), scope_headers.end());

  const auto allowed = front_end_.allowed_methods(path);
  if (!allowed) return send(connection, front_end_.error_reply(ErrorCode::not_found, true), reply_headers);
  if (!method_in(info->request_method, *allowed)) {
    auto reply = front_end_.error_reply(ErrorCode::method_not_allowed, true);
    reply.headers.push_back("Allow: " + *allowed);
    return send(connection, std::move(reply), reply_headers);
  }

  ConnectionView view(connection, base_, path);
  const auto exchange = front_end_.exchange(view, principal);
  auto started = exchange->start();
  if (auto* reply = std::get_if<http::Reply>(&started)) return send(connection, std::move(*reply), reply_headers);
  return std::get<http::BodyKind>(started) == http::BodyKind::raw ? pump_raw(connection, *exchange, reply_headers)
                                                                  : pump_multipart(connection, *exchange, reply_headers);
}

int CivetWebMount::pump_raw(mg_connection* connection, http::Exchange& exchange, const std::vector<std::string>& reply_headers) {
  if (const auto interim = exchange.interim()) write_interim(connection, *interim);
  continue_if_expected(connection);
  BodyWatch watch(watchdog_, connection);
  http::BodySink& sink = exchange.sink();
  std::uint64_t received = 0;
  http::BodyEnd end = http::BodyEnd::complete;
  for (;;) {
    const auto buffer = sink.next_buffer();
    const int n = mg_read(connection, buffer.data(), buffer.size());
    if (n > 0) watch.received(received += static_cast<std::uint64_t>(n));
    if (watch.expired()) {
      end = http::BodyEnd::too_slow;
      break;
    }
    if (n < 0) {
      // CivetWeb says no more than -1, for a dropped connection and for a chunked body it cannot
      // parse (e.g. a chunk extension) alike: a chunked body gets its answer, it may still listen.
      const char* encoding = mg_get_header(connection, "Transfer-Encoding");
      end = encoding != nullptr && mg_strcasecmp(encoding, "chunked") == 0 ? http::BodyEnd::malformed
                                                                           : http::BodyEnd::connection_lost;
      break;
    }
    if (n == 0 || !sink.received(static_cast<std::size_t>(n))) break;
  }
  auto reply = exchange.finish(end);
  return reply ? send(connection, std::move(*reply), reply_headers) : 1;
}

namespace {

// CivetWeb's form parser, feeding the exchange: the fields before the file part are collected,
// the file part's bytes go to the sink, other file parts and fields after the file are skipped.
struct MultipartPump {
  http::Exchange* exchange;
  http::MultipartRules rules;
  BodyWatch* watch;
  std::map<std::string, std::vector<std::string>> fields;  // every occurrence's value
  std::size_t field_count = 0;
  std::string current_field;
  bool in_file = false;
  bool file_seen = false;
  bool aborted = false;
  std::uint64_t received = 0;

  int abort(std::optional<ErrorCode> code = std::nullopt) {
    if (code) exchange->fail(*code);
    aborted = true;
    return MG_FORM_FIELD_STORAGE_ABORT;
  }

  static int on_field_found(const char* key, const char* filename, char*, std::size_t, void* user_data) {
    auto& pump = *static_cast<MultipartPump*>(user_data);
    pump.in_file = false;
    if (pump.aborted) return MG_FORM_FIELD_STORAGE_ABORT;
    const std::string name = key != nullptr ? key : "";
    // CivetWeb passes "" (not NULL) as the file name of plain fields.
    const bool has_file_name = filename != nullptr && *filename != '\0';
    if (name == pump.rules.file_field) {
      if (pump.file_seen) return MG_FORM_FIELD_STORAGE_SKIP;
      pump.file_seen = true;
      const http::ParamLookup lookup = [&pump](std::string_view field) -> std::optional<http::ParamValue> {
        const auto it = pump.fields.find(std::string(field));
        if (it == pump.fields.end()) return std::nullopt;
        const auto& values = it->second;
        const bool agree = std::all_of(values.begin(), values.end(), [&](const auto& v) { return v == values.front(); });
        return http::ParamValue{values.front(), false, !agree};
      };
      if (!pump.exchange->file_part(lookup)) return pump.abort();
      pump.in_file = true;
      return MG_FORM_FIELD_STORAGE_GET;
    }
    if (has_file_name || pump.file_seen) return MG_FORM_FIELD_STORAGE_SKIP;  // other files; late fields
    if (++pump.field_count > pump.rules.max_fields) return pump.abort(ErrorCode::invalid_parameter);
    pump.current_field = name;
    pump.fields[name].emplace_back();
    return MG_FORM_FIELD_STORAGE_GET;
  }

  static int on_field_get(const char*, const char* value, std::size_t length, void* user_data) {
    auto& pump = *static_cast<MultipartPump*>(user_data);
    if (pump.aborted) return MG_FORM_FIELD_HANDLE_ABORT;
    if (!pump.in_file) {
      auto& field = pump.fields[pump.current_field].back();
      if (field.size() + length > pump.rules.max_field_bytes) {
        pump.abort(ErrorCode::invalid_parameter);
        return MG_FORM_FIELD_HANDLE_ABORT;
      }
      field.append(value, length);
      return MG_FORM_FIELD_HANDLE_GET;
    }
    pump.watch->received(pump.received += length);
    http::BodySink& sink = pump.exchange->sink();
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(value);
    while (length > 0) {
      const auto buffer = sink.next_buffer();
      const std::size_t n = std::min(buffer.size(), length);
      std::memcpy(buffer.data(), bytes, n);
      if (!sink.received(n)) {
        pump.aborted = true;
        return MG_FORM_FIELD_HANDLE_ABORT;
      }
      bytes += n;
      length -= n;
    }
    return MG_FORM_FIELD_HANDLE_GET;
  }

  static int on_field_stored(const char*, long long, void*) { return MG_FORM_FIELD_HANDLE_NEXT; }
};

}  // namespace

int CivetWebMount::pump_multipart(mg_connection* connection, http::Exchange& exchange,
                                  const std::vector<std::string>& reply_headers) {
  continue_if_expected(connection);
  BodyWatch watch(watchdog_, connection);
  MultipartPump pump{&exchange, front_end_.multipart_rules(), &watch, {}, 0, {}, false, false, false, 0};
  mg_form_data_handler handler{&MultipartPump::on_field_found, &MultipartPump::on_field_get,
                               &MultipartPump::on_field_stored, &pump};
  const int handled = mg_handle_form_request(connection, &handler);
  http::BodyEnd end = handled < 0 ? http::BodyEnd::cut_short : http::BodyEnd::complete;
  if (watch.expired()) end = http::BodyEnd::too_slow;
  auto reply = exchange.finish(end);
  return reply ? send(connection, std::move(*reply), reply_headers) : 1;
}

}  // namespace resumable::civetweb
