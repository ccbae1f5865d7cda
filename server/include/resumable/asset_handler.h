// Serves a table of embedded assets below a URI prefix on a CivetWeb server (GET and HEAD only).
// Replies carry Content-Type, Content-Length, an ETag (the asset's BLAKE2b-256) and
// `X-Content-Type-Options: nosniff`; a matching If-None-Match gets 304. They are public: every
// reply allows any origin (`Access-Control-Allow-Origin: *`).
#pragma once

#include <civetweb.h>

#include <span>
#include <string>
#include <vector>

#include "resumable/embedded_asset.h"

namespace resumable {

class AssetHandler {
 public:
  // `index_path` is served for the bare prefix (e.g. "/index.html"); empty for none.
  AssetHandler(std::span<const EmbeddedAsset> assets, std::string uri_prefix, std::string index_path = {});
  ~AssetHandler();
  AssetHandler(const AssetHandler&) = delete;
  AssetHandler& operator=(const AssetHandler&) = delete;

  // Registers the handler for `uri_prefix` on `context`; the handler must outlive the context's use.
  void mount(mg_context* context);

 private:
  static int handle(mg_connection* connection, void* self);
  int serve(mg_connection* connection) const;

  std::span<const EmbeddedAsset> assets_;
  std::vector<std::string> etags_;  // parallel to assets_
  std::string uri_prefix_;
  std::string index_path_;
};

}  // namespace resumable
