// The resumable upload endpoint, mounted on any CivetWeb context: the C++ counterpart of
// django2-resumable's `include(...)`. It composes the upload core (resumable/upload_core.h) over a
// store (resumable/upload_store.h; the filesystem one is resumable/filesystem_store.h), the
// resumable.js / flow.js protocol front-end (docs/protocol.md) and the CivetWeb adapter.
//
//   resumable::EndpointOptions options;
//   options.store = resumable::make_filesystem_store({"/var/lib/app/chunks", "/var/lib/app/files"});
//   options.authenticate = [](mg_connection* c) -> std::optional<resumable::Principal> { ... };
//   auto endpoint = resumable::UploadEndpoint::create(std::move(options), &error);
//   endpoint->mount(context, "/upload");
//   ...
//   auto claimed = endpoint->claim_upload(token, principal.id);   // in the form handler
//
// Lifetime: the endpoint must outlive every mg_context it is mounted on (call mg_stop first).
// Thread-safety: all methods may be called from any thread. Nothing here throws.
#pragma once

#include <civetweb.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "resumable/access.h"
#include "resumable/digest.h"
#include "resumable/errors.h"
#include "resumable/limits.h"
#include "resumable/upload_records.h"
#include "resumable/upload_store.h"

namespace resumable {

struct EndpointOptions {
  // Where uploads live (required): make_filesystem_store(...) or your own UploadStore.
  std::shared_ptr<UploadStore> store;

  Access access = Access::login_required;
  // Maps a request to a principal; nullopt = not logged in (refused with 401 unless the mount allows
  // anonymous uploads). Called before any body byte. Ids are never "" and never start with
  // "anonymous/" (reserved for anonymous scopes).
  std::function<std::optional<Principal>(mg_connection*)> authenticate;
  // On a mount that allows anonymous uploads, each unauthenticated client gets a scope of its own:
  // an unguessable id in an HttpOnly cookie of this name, set by the mount (docs/protocol.md says
  // what it protects against). Concurrent first requests of one browser, before it has the cookie,
  // share a scope when they come from one address and User-Agent within `anonymous_join_window`.
  std::string anonymous_cookie = "rsm_scope";
  std::chrono::seconds anonymous_join_window = std::chrono::seconds(10);
  // Optional check of every request before anything else, e.g. a CSRF token header: false refuses
  // it with 403 `forbidden`, whatever `access` allows.
  std::function<bool(mg_connection*)> verify_request;

  // Pages on other origins allowed to use the mount (none by default); see CrossOriginPolicy.
  CrossOriginPolicy cross_origin;

  UploadLimits limits;

  // Called once per finished upload, on the request thread that finished it, without locks held;
  // and again from create() after a restart for every finished upload not yet claimed (a crash may
  // have cut the first call short): key what it does by token, and claim what it takes over.
  std::function<void(const CompletedUpload&)> on_complete;
  // Diagnostics (storage failures, recovered uploads). Default: stderr.
  std::function<void(const std::string&)> log;

  // Also mount the tus 1.0.0 front-end (tus-js-client, Uppy, tus-py-client; docs/protocol.md "tus")
  // at this path on every context mount() is called for, e.g. "/files"; empty: not mounted. Its
  // uploads share this endpoint's access hook, limits, scoping, store, claims and collection.
  std::string tus_path;
  // Also mount the IETF draft's Resumable Uploads for HTTP (draft-ietf-httpbis-resumable-upload,
  // interop versions 3 to 8: URLSession, tus-js-client's ietf-draft-03/-05; docs/protocol.md "IETF
  // draft") at this path, e.g. "/resumable"; empty: not mounted. Shares everything as tus_path does.
  std::string ietf_path;

  // Serve the widget's files from memory at <base>/widget/ (see widget_assets.h).
  bool serve_widget = true;

  // Collect stale and unclaimed uploads this often (on a background thread, or from requests in a
  // build without it: RESUMABLE_COLLECTOR_THREAD); zero disables it (call collect_stale() yourself).
  std::chrono::seconds collect_interval = std::chrono::minutes(10);
};

class UploadEndpoint {
 public:
  // Validates options and loads uploads left by a previous run. nullptr (with `error` set) if the
  // options are unusable.
  static std::unique_ptr<UploadEndpoint> create(EndpointOptions options, std::string* error = nullptr);
  ~UploadEndpoint();
  UploadEndpoint(const UploadEndpoint&) = delete;
  UploadEndpoint& operator=(const UploadEndpoint&) = delete;

  // Registers handlers for `base` ("/upload"), everything below it and, if enabled, `base`/widget/
  // on `context`, and the tus and IETF draft front-ends at options.tus_path and options.ietf_path when set. May be called for several contexts or bases; all share this endpoint's uploads.
  void mount(mg_context* context, const std::string& base);

  // One-time, owner-checked hand-over of a finished upload by its token (the form field's value).
  // Errors: upload_not_found for an unknown, foreign or already claimed token.
  std::variant<ErrorCode, ClaimedUpload> claim_upload(const std::string& token, const std::string& principal);

  // The principal a request of the application's (e.g. the form post that carries a token) would
  // upload as: the authenticated id, or on an anonymous mount the client's scope from its cookie;
  // nullopt when it has neither. Pass it to claim_upload.
  std::optional<std::string> principal_for(mg_connection* connection) const;

  CollectionReport collect_stale();
  std::vector<UploadSummary> list_uploads();

  // Per-request memory the endpoint uses for a chunk body (its ring of streaming buffers).
  std::size_t per_request_buffer_bytes() const;

 private:
  struct Impl;
  explicit UploadEndpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Install as `mg_callbacks::http_error` of the context an endpoint is mounted on: requests that
// CivetWeb refuses itself, before any handler runs (a head that is unparsable, over
// `max_request_size` or incomplete when `request_timeout_ms` ran out: CivetWeb 1.15 says 400 for
// all three), then get the protocol's JSON error body too: 400 malformed_request. Other statuses
// are left to CivetWeb's own page (returns 1). Usable as a callback; nothing throws.
int json_http_error(mg_connection* connection, int status, const char* message);

}  // namespace resumable
