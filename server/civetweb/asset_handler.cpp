#include "resumable/asset_handler.h"

#include <cstring>

#include "json_error.h"
#include "reply_writer.h"
#include "resumable/digest.h"

namespace resumable {

const EmbeddedAsset* find_asset(std::span<const EmbeddedAsset> assets, std::string_view path) {
  for (const auto& asset : assets) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

AssetHandler::AssetHandler(std::span<const EmbeddedAsset> assets, std::string uri_prefix, std::string index_path)
    : assets_(assets), uri_prefix_(std::move(uri_prefix)), index_path_(std::move(index_path)) {
  etags_.reserve(assets_.size());
  for (const auto& asset : assets_) {
    etags_.push_back("\"" + core::to_hex(core::blake2b256(asset.data, asset.size)).substr(0, 32) + "\"");
  }
}

AssetHandler::~AssetHandler() = default;

void AssetHandler::mount(mg_context* context) {
  mg_set_request_handler(context, uri_prefix_.empty() ? "/" : uri_prefix_.c_str(), &AssetHandler::handle, this);
}

int AssetHandler::handle(mg_connection* connection, void* self) {
  return static_cast<const AssetHandler*>(self)->serve(connection);
}

int AssetHandler::serve(mg_connection* connection) const {
  const mg_request_info* request = mg_get_request_info(connection);
  const bool head = std::strcmp(request->request_method, "HEAD") == 0;
  if (!head && std::strcmp(request->request_method, "GET") != 0) {
    auto reply = http::json_error(ErrorCode::method_not_allowed, 405, true);
    reply.headers.push_back("Allow: GET, HEAD");
    civetweb::write_reply(connection, reply);
    return 405;
  }

  std::string_view path = request->local_uri != nullptr ? request->local_uri : "";
  if (path.substr(0, uri_prefix_.size()) == uri_prefix_) path.remove_prefix(uri_prefix_.size());
  if ((path.empty() || path == "/") && !index_path_.empty()) path = index_path_;
  const EmbeddedAsset* asset = find_asset(assets_, path);
  if (asset == nullptr) {
    civetweb::write_reply(connection, http::json_error(ErrorCode::not_found, 404));
    return 404;
  }

  const std::string& etag = etags_[static_cast<std::size_t>(asset - assets_.data())];
  const char* if_none_match = mg_get_header(connection, "If-None-Match");
  if (if_none_match != nullptr && etag == if_none_match) {
    mg_printf(connection, "HTTP/1.1 304 Not Modified\r\nETag: %s\r\n%s\r\n", etag.c_str(),
              civetweb::connection_header(connection, false));
    return 304;
  }
  mg_printf(connection,
            "HTTP/1.1 200 OK\r\nContent-Type: %.*s\r\nContent-Length: %zu\r\nETag: %s\r\n"
            "Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n"
            // The same public files for every page: any origin may load them, e.g. the wasm core
            // that the widget's Worker fetches when the page is on another origin than the mount.
            "Access-Control-Allow-Origin: *\r\nCross-Origin-Resource-Policy: cross-origin\r\n%s\r\n",
            static_cast<int>(asset->content_type.size()), asset->content_type.data(), asset->size, etag.c_str(),
            civetweb::connection_header(connection, false));
  if (!head) mg_write(connection, asset->data, asset->size);
  return 200;
}

}  // namespace resumable
