// The resumable upload endpoint, mounted on any CivetWeb context: the C++ counterpart of
// django2-resumable's `include(...)`. Speaks docs/protocol.md (resumable.js, flow.js and our widget).
//
//   resumable::EndpointOptions options;
//   options.chunk_dir = "/var/lib/app/chunks";      // chunks_upload_to
//   options.upload_to = "/var/lib/app/files";       // upload_to
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

#include "resumable/digest.h"
#include "resumable/errors.h"
#include "resumable/limits.h"
#include "resumable/storage.h"

namespace resumable {

// Who is uploading. Uploads, status and tokens are scoped to `id`: one principal never sees another's.
struct Principal {
  std::string id;
  bool is_staff = false;
};

enum class Access {
  anonymous_allowed,  // unauthenticated requests upload as the anonymous principal (id "")
  login_required,     // login_required: an authenticated principal (else 401)
  staff_required,     // staff_member_required: an authenticated staff principal (else 401 / 403)
};

// Handed to the completion callback once per finished file, after it was verified and released.
struct CompletedUpload {
  std::string principal;
  std::string identifier;
  std::string file_name;  // client-supplied: display only, never a path
  std::uint64_t size = 0;
  core::Digest digest{};
  std::string token;
  std::string location;  // where the storage put the file (a path for the filesystem backend)
};

// What claim_upload hands the application: the file is now the application's.
struct ClaimedUpload {
  std::string location;
  std::string file_name;
  std::string identifier;
  std::uint64_t size = 0;
  core::Digest digest{};
};

struct CollectionReport {
  std::size_t stale_removed = 0;      // incomplete uploads past stale_after
  std::size_t unclaimed_removed = 0;  // finished, unclaimed uploads past unclaimed_after
};

// One upload as an admin view lists it.
struct UploadSummary {
  std::string principal;
  std::string identifier;
  std::string file_name;
  std::uint64_t total_size = 0;
  std::uint64_t chunk_count = 0;
  std::uint64_t received_chunks = 0;
  bool complete = false;
  std::chrono::system_clock::time_point last_activity;
};

struct EndpointOptions {
  // Filesystem backend settings, used when `storage` is null.
  std::filesystem::path chunk_dir;
  std::filesystem::path upload_to;
  bool durable = true;  // fsync before a chunk is acknowledged
  // A custom backend (RESUMABLE_STORAGE); when set, chunk_dir/upload_to/durable are ignored.
  std::shared_ptr<UploadStorage> storage;

  Access access = Access::login_required;
  // Maps a request to a principal; nullopt = not logged in (refused with 401 unless the mount allows
  // anonymous uploads, which then run as the anonymous principal ""). Called before any body byte.
  std::function<std::optional<Principal>(mg_connection*)> authenticate;
  // Optional check of every request before anything else, e.g. a CSRF token header: false refuses
  // it with 403 `forbidden`, whatever `access` allows.
  std::function<bool(mg_connection*)> verify_request;

  UploadLimits limits;

  // Called once per finished upload, on the request thread that finished it, without locks held.
  std::function<void(const CompletedUpload&)> on_complete;
  // Diagnostics (storage failures, recovered uploads). Default: stderr.
  std::function<void(const std::string&)> log;

  // Serve the widget's files from memory at <base>/widget/ (see widget_assets.h).
  bool serve_widget = true;

  // Collect stale and unclaimed uploads this often in a background thread; zero disables it
  // (call collect_stale() yourself).
  std::chrono::seconds collect_interval = std::chrono::minutes(10);
};

class UploadEndpoint {
 public:
  // Validates options, creates directories and loads uploads left by a previous run.
  // nullptr (with `error` set) if the options are unusable.
  static std::unique_ptr<UploadEndpoint> create(EndpointOptions options, std::string* error = nullptr);
  ~UploadEndpoint();
  UploadEndpoint(const UploadEndpoint&) = delete;
  UploadEndpoint& operator=(const UploadEndpoint&) = delete;

  // Registers handlers for `base` ("/upload"), `base`/status and, if enabled, `base`/widget/ on
  // `context`. May be called for several contexts; each call's handlers share this endpoint.
  void mount(mg_context* context, const std::string& base);

  // One-time, owner-checked hand-over of a finished upload by its token (the form field's value).
  // Errors: upload_not_found for an unknown, foreign or already claimed token.
  std::variant<ErrorCode, ClaimedUpload> claim_upload(const std::string& token, const std::string& principal);

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
