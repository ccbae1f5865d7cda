// The CivetWeb adapter: one mount of a protocol front-end below a base path. For every request it
//   0. answers CORS preflights (OPTIONS from an allowed origin) and adds CORS headers to every reply
//      to an allowed origin (CrossOriginPolicy);
//   1. authorizes (verify_request, authenticate, the Access rule) before anything else, on every
//      path of the mount (unknown paths and wrong methods included);
//   2. routes: 404 for paths the front-end does not know, 405 with Allow for methods it refuses;
//   3. lets the front-end's Exchange answer, or pumps the body into its BodySink: raw bodies
//      through mg_read, multipart ones through CivetWeb's form parser, both into the same sink,
//      after answering `Expect: 100-continue`, under the body watchdog (if any);
//   4. writes the reply; no exception ever reaches CivetWeb.
// The mount must outlive the contexts it is registered on (mg_stop first).
#pragma once

#include <civetweb.h>

#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "front_end.h"
#include "resumable/access.h"
#include "resumable/asset_handler.h"

namespace resumable::civetweb {

class AnonymousScopes;
class BodyWatchdog;

class CivetWebMount {
 public:
  // `watchdog` may be null (a build without it, or no minimum rate): bodies are then bounded by
  // CivetWeb's request_timeout_ms only. `anonymous` gives unauthenticated clients of a mount that
  // allows them their scopes (required for Access::anonymous_allowed). Both outlive the mount.
  CivetWebMount(http::FrontEnd& front_end, AccessPolicy access, CrossOriginPolicy cross_origin,
                AnonymousScopes* anonymous, BodyWatchdog* watchdog, std::function<void(const std::string&)> log);
  CivetWebMount(const CivetWebMount&) = delete;
  CivetWebMount& operator=(const CivetWebMount&) = delete;

  // Registers `base`, then `assets` (if any) at base/widget, then everything else below `base`.
  void mount(mg_context* context, const std::string& base, AssetHandler* assets);

 private:
  static int handle(mg_connection* connection, void* self);
  int serve(mg_connection* connection);
  // Who the request is: the principal's id, and headers its reply must carry (a new anonymous
  // scope's cookie).
  struct Authorized {
    std::string principal;
    std::vector<std::string> headers;
  };
  std::variant<Authorized, ErrorCode> authorize(mg_connection* connection) const;
  // The CORS headers every reply to this request carries (none for a same-origin or foreign page).
  std::vector<std::string> cors_headers(mg_connection* connection) const;
  int preflight(mg_connection* connection, std::string_view path);
  int pump_raw(mg_connection* connection, http::Exchange& exchange, const std::vector<std::string>& reply_headers);
  int pump_multipart(mg_connection* connection, http::Exchange& exchange, const std::vector<std::string>& reply_headers);
  int send(mg_connection* connection, http::Reply reply, const std::vector<std::string>& reply_headers = {});

  http::FrontEnd& front_end_;
  AccessPolicy access_;
  CrossOriginPolicy cross_origin_;
  AnonymousScopes* anonymous_;
  BodyWatchdog* watchdog_;
  std::function<void(const std::string&)> log_;
  std::string base_;
};

}  // namespace resumable::civetweb
