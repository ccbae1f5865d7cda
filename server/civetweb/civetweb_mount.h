// The CivetWeb adapter: one mount of a protocol front-end below a base path. For every request it
//   1. authorizes (verify_request, authenticate, the Access rule) before anything else, on every
//      path of the mount (unknown paths and wrong methods included);
//   2. routes: 404 for paths the front-end does not know, 405 with Allow for methods it refuses;
//   3. lets the front-end's Exchange answer, or pumps the body into its BodySink: raw bodies
//      through mg_read, multipart ones through CivetWeb's form parser, both into the same sink,
//      after answering `Expect: 100-continue`, under the mount's minimum body rate;
//   4. writes the reply; no exception ever reaches CivetWeb.
// The mount must outlive the contexts it is registered on (mg_stop first).
#pragma once

#include <civetweb.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>

#include "front_end.h"
#include "resumable/access.h"
#include "resumable/asset_handler.h"

namespace resumable::civetweb {

class BodyWatchdog;

// A body must keep arriving: within `grace` plus the time its bytes take at `min_rate` bytes per
// second (0: no limit). `read_size`: the largest piece one read asks for.
struct BodyPacing {
  std::chrono::milliseconds grace{0};
  std::uint64_t min_rate = 0;
  std::size_t read_size = 0;
};

class CivetWebMount {
 public:
  // `watchdog` may be null (a build without it, or no minimum rate): the pace is then kept by
  // reading in pieces small enough to notice a slow body between reads.
  CivetWebMount(http::FrontEnd& front_end, AccessPolicy access, BodyPacing pacing, BodyWatchdog* watchdog,
                std::function<void(const std::string&)> log);
  CivetWebMount(const CivetWebMount&) = delete;
  CivetWebMount& operator=(const CivetWebMount&) = delete;

  // Registers `base`, then `assets` (if any) at base/widget, then everything else below `base`.
  void mount(mg_context* context, const std::string& base, AssetHandler* assets);

 private:
  static int handle(mg_connection* connection, void* self);
  int serve(mg_connection* connection);
  // The principal's id, or why the request is refused.
  std::variant<std::string, ErrorCode> authorize(mg_connection* connection) const;
  int pump_raw(mg_connection* connection, http::Exchange& exchange);
  int pump_multipart(mg_connection* connection, http::Exchange& exchange);
  int send(mg_connection* connection, const http::Reply& reply);

  http::FrontEnd& front_end_;
  AccessPolicy access_;
  BodyPacing pacing_;
  BodyWatchdog* watchdog_;
  std::function<void(const std::string&)> log_;
  std::string base_;
};

}  // namespace resumable::civetweb
