// The composition root: an UploadCore over the options' store, the resumable.js, tus and IETF draft
// front-ends and a CivetWeb mount per mount() call, the body watchdog and the collection schedule.
#include "resumable/upload_endpoint.h"

#include <cstdio>
#include <mutex>

#include "anonymous_scopes.h"
#include "civetweb_mount.h"
#include "ietf_front_end.h"
#include "resumable/asset_handler.h"
#include "resumable/upload_core.h"
#include "resumable/widget_assets.h"
#include "resumable_front_end.h"
#include "tus_front_end.h"

#if RESUMABLE_WITH_BODY_WATCHDOG
#include "body_watchdog.h"
#endif

namespace resumable {

struct UploadEndpoint::Impl {
  EndpointOptions options;
  std::unique_ptr<UploadCore> core;
  std::unique_ptr<resumablejs::ResumableFrontEnd> front_end;
  std::unique_ptr<tus::TusFrontEnd> tus_front_end;
  std::unique_ptr<ietf::IetfFrontEnd> ietf_front_end;
  std::unique_ptr<civetweb::AnonymousScopes> anonymous;  // on mounts that allow anonymous uploads
#if RESUMABLE_WITH_BODY_WATCHDOG
  std::unique_ptr<civetweb::BodyWatchdog> body_watchdog;  // null when limits.body_min_rate is 0
#endif
  std::mutex mounts_mutex;
  std::vector<std::unique_ptr<civetweb::CivetWebMount>> mounts;
  std::vector<std::unique_ptr<AssetHandler>> widget_handlers;

  void log(const std::string& message) const {
    if (options.log) {
      options.log(message);
    } else {
      std::fprintf(stderr, "resumable: %s\n", message.c_str());
    }
  }

  civetweb::BodyWatchdog* watchdog() const {
#if RESUMABLE_WITH_BODY_WATCHDOG
    return body_watchdog.get();
#else
    return nullptr;
#endif
  }
};

std::unique_ptr<UploadEndpoint> UploadEndpoint::create(EndpointOptions options, std::string* error) {
  try {
    if (!core::initialize_crypto()) {
      if (error != nullptr) *error = "libsodium failed to initialise";
      return nullptr;
    }
    if (!options.store) {
      if (error != nullptr) *error = "options.store is not set (e.g. resumable::make_filesystem_store)";
      return nullptr;
    }
    const auto& limits = options.limits;
    if (limits.io_buffer_bytes < 4096 || limits.io_buffers == 0 || limits.max_chunks == 0 || limits.min_chunk_size == 0 ||
        limits.min_chunk_size > limits.max_chunk_size) {
      if (error != nullptr) *error = "inconsistent limits";
      return nullptr;
    }
    auto impl = std::make_unique<Impl>();
    impl->options = std::move(options);
    Impl* raw = impl.get();
    UploadCore::Hooks hooks{impl->options.on_complete, [raw](const std::string& message) { raw->log(message); }};
    impl->core = std::make_unique<UploadCore>(impl->options.store, impl->options.limits, std::move(hooks));
    impl->front_end = std::make_unique<resumablejs::ResumableFrontEnd>(*impl->core);
    impl->tus_front_end = std::make_unique<tus::TusFrontEnd>(*impl->core);
    impl->ietf_front_end = std::make_unique<ietf::IetfFrontEnd>(*impl->core);
    for (const auto& [name, path] : {std::pair{"tus_path", &impl->options.tus_path},
                                     std::pair{"ietf_path", &impl->options.ietf_path}}) {
      if (!path->empty() && (path->front() != '/' || path->back() == '/')) {
        if (error != nullptr) *error = std::string("options.") + name + " must start with '/' and not end with one (e.g. \"/files\")";
        return nullptr;
      }
    }
    if (impl->options.access == Access::anonymous_allowed) {
      civetweb::AnonymousScopeOptions scopes;
      scopes.cookie_name = impl->options.anonymous_cookie;
      scopes.join_window = impl->options.anonymous_join_window;
      scopes.cookie_lifetime = impl->options.limits.unclaimed_after + std::chrono::hours(24);
      scopes.cross_site = impl->options.cross_origin.allow_credentials;
      impl->anonymous = std::make_unique<civetweb::AnonymousScopes>(std::move(scopes));
    }
#if RESUMABLE_WITH_BODY_WATCHDOG
    if (impl->options.limits.body_min_rate > 0) {
      impl->body_watchdog = std::make_unique<civetweb::BodyWatchdog>(
          impl->options.limits.body_grace, impl->options.limits.body_min_rate, impl->options.limits.io_buffer_bytes);
    }
#endif
    impl->core->load();
    impl->core->schedule_collection(impl->options.collect_interval);
    return std::unique_ptr<UploadEndpoint>(new UploadEndpoint(std::move(impl)));
  } catch (const std::exception& e) {
    if (error != nullptr) *error = e.what();
    return nullptr;
  }
}

UploadEndpoint::UploadEndpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UploadEndpoint::~UploadEndpoint() = default;

void UploadEndpoint::mount(mg_context* context, const std::string& base) {
  const auto& options = impl_->options;
  AccessPolicy access{options.access, options.authenticate, options.verify_request};
  Impl* raw = impl_.get();
  std::lock_guard lock(impl_->mounts_mutex);
  auto& mount = impl_->mounts.emplace_back(std::make_unique<civetweb::CivetWebMount>(
      *impl_->front_end, std::move(access), options.cross_origin, impl_->anonymous.get(), impl_->watchdog(),
      [raw](const std::string& message) { raw->log(message); }));
  AssetHandler* assets = nullptr;
  if (options.serve_widget) {
    assets = impl_->widget_handlers.emplace_back(std::make_unique<AssetHandler>(widget::embedded_assets(), base + "/widget"))
                 .get();
  }
  mount->mount(context, base, assets);
  const std::pair<http::FrontEnd*, const std::string*> appending[] = {{impl_->tus_front_end.get(), &options.tus_path},
                                                                      {impl_->ietf_front_end.get(), &options.ietf_path}};
  for (const auto& [front_end, path] : appending) {
    if (path->empty()) continue;
    impl_->mounts
        .emplace_back(std::make_unique<civetweb::CivetWebMount>(
            *front_end, AccessPolicy{options.access, options.authenticate, options.verify_request},
            options.cross_origin, impl_->anonymous.get(), impl_->watchdog(),
            [raw](const std::string& message) { raw->log(message); }))
        ->mount(context, *path, nullptr);
  }
}

std::variant<ErrorCode, ClaimedUpload> UploadEndpoint::claim_upload(const std::string& token,
                                                                    const std::string& principal) {
  return impl_->core->claim(token, principal);
}

std::optional<std::string> UploadEndpoint::principal_for(mg_connection* connection) const {
  const auto& options = impl_->options;
  if (options.authenticate) {
    if (auto found = options.authenticate(connection);
        found && !found->id.empty() && found->id.rfind(civetweb::anonymous_principal_prefix, 0) != 0) {
      return found->id;
    }
  }
  if (impl_->anonymous) return impl_->anonymous->existing(connection);
  return std::nullopt;
}

CollectionReport UploadEndpoint::collect_stale() { return impl_->core->collect_stale(std::chrono::system_clock::now()); }

std::vector<UploadSummary> UploadEndpoint::list_uploads() { return impl_->front_end->list_uploads(); }

std::size_t UploadEndpoint::per_request_buffer_bytes() const { return impl_->core->per_request_buffer_bytes(); }

}  // namespace resumable
