// The lifecycle of uploads: loading what a previous run left, starting pieces (creating uploads),
// cancelling, one-time claims and the collection of abandoned uploads.
#include <algorithm>
#include <cstdio>

#include "resumable/secure_random.h"
#include "type_policy.h"
#include "upload_core_impl.h"

namespace resumable {

namespace {

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// [offset, offset + size) lies inside a file of `total` bytes (when known) without overflow, and an
// empty piece is only the whole of an empty file.
bool piece_fits(std::optional<std::uint64_t> total, std::uint64_t max_file_size, std::uint64_t offset,
                std::uint64_t size) {
  const std::uint64_t limit = total.value_or(max_file_size);
  if (offset > limit || size > limit - offset) return false;
  if (size == 0) return offset == 0 && total && *total == 0;
  return true;
}

}  // namespace

std::shared_ptr<Upload> UploadCore::Impl::new_upload(const std::string& principal, const UploadDeclaration& declared,
                                                     StorageStatus& status) {
  Impl& core = *this;
  auto fresh = std::make_shared<Upload>();
  UploadManifest& m = fresh->manifest;
  m.upload_id = core::random_hex(16);
  m.principal = principal;
  m.identifier = declared.identifier;
  m.file_name = declared.file_name;
  m.relative_path = declared.relative_path;
  m.mime_type = declared.mime_type;
  m.total_size = declared.total_size;
  m.declared_file_digest = declared.file_digest;
  m.protocol_fields = declared.protocol_fields;
  m.partial = declared.partial;
  m.created_unix = unix_seconds(std::chrono::system_clock::now());
  status = core.store->create(m, fresh->data);
  if (!status) return nullptr;
  fresh->frontier.keep_leaves = m.partial;
  fresh->last_activity = std::chrono::system_clock::now();
  return fresh;
}

UploadCore::Impl::Impl(std::shared_ptr<UploadStore> store_, UploadLimits limits_, Hooks hooks_)
    : store(std::move(store_)),
      registry(store ? store->shared_registry() : nullptr),
      limits(std::move(limits_)),
      hooks(std::move(hooks_)),
      buffers(limits.io_buffer_bytes, limits.idle_io_buffers) {
  if (!hooks.log) hooks.log = [](const std::string& message) { std::fprintf(stderr, "resumable: %s\n", message.c_str()); };
#if RESUMABLE_WITH_WRITE_BEHIND
  if (limits.write_threads > 0) write_pool = std::make_unique<WritePool>(limits.write_threads);
#endif
}

UploadCore::Impl::~Impl() {
  {
    std::lock_guard lock(collector_mutex);
    stopping = true;
  }
  collector_wake.notify_all();
  if (collector.joinable()) collector.join();
}

std::unique_ptr<WriteBehind> UploadCore::Impl::make_ring() {
  // Rings are sized when a piece starts: an even share of the budget among the requests receiving
  // now, and no more than the budget has left, but at least one buffer. The rings in use thus hold
  // about io_buffer_budget buffers together (at most one more per ring started when none was
  // left): one stream keeps several writes in flight, many streams one each, and peak memory
  // stays flat in the number of streams.
  const std::size_t rings = ring_budget.rings.load(std::memory_order_relaxed);
  const std::size_t held = ring_budget.buffers.load(std::memory_order_relaxed);
  const std::size_t left = limits.io_buffer_budget > held ? limits.io_buffer_budget - held : 0;
  const std::size_t share = std::min(limits.io_buffer_budget / (rings + 1), left);
  const std::size_t depth = std::clamp<std::size_t>(share, 1, std::max<std::size_t>(1, limits.io_buffers));
  return std::make_unique<WriteBehind>(write_pool.get(), buffers, depth, &ring_budget);
}

std::optional<ErrorCode> UploadCore::Impl::check_matches(const Upload& upload, const UploadDeclaration& declared) const {
  const UploadManifest& m = upload.manifest;
  if ((m.total_size && declared.total_size && *m.total_size != *declared.total_size) || m.file_name != declared.file_name ||
      m.protocol_fields != declared.protocol_fields || m.partial != declared.partial) {
    return ErrorCode::upload_conflict;
  }
  if (declared.file_digest && m.declared_file_digest &&
      !core::digests_equal(*declared.file_digest, *m.declared_file_digest)) {
    return ErrorCode::upload_conflict;
  }
  return std::nullopt;
}

FinalResult UploadCore::Impl::final_result(const Upload& upload) const {
  FinalResult result;
  result.token = upload.final->token;
  result.identifier = upload.manifest.identifier;
  result.file_name = upload.manifest.file_name;
  result.size = upload.manifest.total_size.value_or(0);
  result.protocol_fields = upload.manifest.protocol_fields;
  result.digest = upload.final->file_digest;
  return result;
}

std::optional<ErrorCode> UploadCore::Impl::update_manifest(Upload& upload, const std::function<void(UploadManifest&)>& change,
                                                          const char* what) {
  UploadManifest updated = upload.manifest;
  change(updated);
  if (auto status = upload.data->update_manifest(updated); !status) {
    log(std::string("recording ") + what + " failed: " + status.detail);
    return storage_error(status);
  }
  upload.manifest = std::move(updated);
  return std::nullopt;
}

void UploadCore::Impl::remember_cancel(const UploadIndex::Key& key) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(cancelled_mutex);
  for (auto it = recently_cancelled.begin(); it != recently_cancelled.end();) {
    it = now - it->second >= limits.cancelled_grace ? recently_cancelled.erase(it) : std::next(it);
  }
  recently_cancelled[key] = now;
}

bool UploadCore::Impl::cancelled_recently(const UploadIndex::Key& key) {
  std::lock_guard lock(cancelled_mutex);
  const auto it = recently_cancelled.find(key);
  return it != recently_cancelled.end() && std::chrono::steady_clock::now() - it->second < limits.cancelled_grace;
}

void UploadCore::Impl::quarantine(const std::string& upload_id, const std::string& why) {
  log("upload " + upload_id + " is damaged and will not be served (removed after stale_after): " + why);
  std::lock_guard lock(quarantine_mutex);
  quarantined[upload_id] = Clock::now();
}

std::optional<std::string> UploadCore::Impl::implausible(const UploadManifest& m) const {
  // Nothing the core would have accepted from a client, and nothing that could make it allocate
  // or compute without bound.
  if (m.principal.size() > 1024 || m.identifier.empty() || m.identifier.size() > limits.max_name_bytes ||
      m.file_name.size() > limits.max_name_bytes || m.relative_path.size() > limits.max_relative_path_bytes ||
      m.mime_type.size() > limits.max_name_bytes) {
    return "names out of bounds in its manifest";
  }
  if (m.total_size && *m.total_size > limits.max_file_size * 2 + (std::uint64_t{1} << 30)) {
    return "implausible size in its manifest";
  }
  if (m.protocol_fields.size() > 16) return "too many protocol fields in its manifest";
  return std::nullopt;
}

void UploadCore::Impl::forget(const std::shared_ptr<Upload>& upload, bool remove_released_file) {
  std::string token;
  {
    std::lock_guard lock(upload->mutex);
    if (upload->final) token = upload->final->token;
  }
  index.forget(upload, token);
  if (auto status = store->remove(upload->manifest.upload_id, remove_released_file); !status) {
    log("removing upload " + upload->manifest.upload_id + " failed: " + status.detail);
  }
}

UploadCore::UploadCore(std::shared_ptr<UploadStore> store, UploadLimits limits, Hooks hooks)
    : impl_(std::make_unique<Impl>(std::move(store), std::move(limits), std::move(hooks))) {
  impl_->owner = this;
}

UploadCore::~UploadCore() = default;

const UploadLimits& UploadCore::limits() const { return impl_->limits; }

void UploadCore::Impl::add_recorded_piece(Upload& upload, PieceRecord& piece, bool trusted, bool replace) const {
  const auto& total = upload.manifest.total_size;
  if (!piece_fits(total, limits.max_file_size, piece.offset, piece.size)) return;
  if (piece.leaves.size() > piece.size / core::leaf_bytes + 2) return;  // more leaves than it can have
  const PieceFit fit = upload.fit(piece.offset, piece.size);
  if (fit == PieceFit::overlaps) return;  // damaged records: keep what was consistent
  if (fit == PieceFit::same && !replace) return;
  Piece& entry = upload.pieces[piece.offset];
  if (fit == PieceFit::free) {
    ++upload.stored_pieces;
    upload.stored_bytes += piece.size;
  }
  entry = Piece{};
  entry.size = piece.size;
  entry.state = PieceState::present;
  entry.digest = piece.digest;
  entry.first_leaf = piece.first_leaf;
  entry.leaves = std::move(piece.leaves);
  entry.continued = piece.offset % core::leaf_bytes != 0 && piece.first_leaf == piece.offset / core::leaf_bytes;
  entry.trusted = trusted;
}

std::shared_ptr<Upload> UploadCore::Impl::adopt(const std::string& id, RecordedUpload& recorded) {
  Impl& core = *this;
  if (auto implausible = core.implausible(recorded.manifest)) {
    core.quarantine(id, *implausible);
    return nullptr;
  }
  auto upload = std::make_shared<Upload>();
  upload->manifest = std::move(recorded.manifest);
  upload->frontier.keep_leaves = upload->manifest.partial;
  const auto& total = upload->manifest.total_size;
  // A repeated record: the last one counts.
  for (auto& piece : recorded.pieces) add_recorded_piece(*upload, piece, recorded.pieces_durable, true);
  upload->final = std::move(recorded.final);
  if (upload->final) {
    // A release interrupted by a crash is finished now (idempotent).
    if (auto status = recorded.upload->release(*upload->final); !status) {
      core.log("finishing release of " + id + " failed: " + status.detail);
      // Over a shared registry its token is shown only once the hand-over is done (refresh()
      // tries again on the next request), so that a claim never finds a file not there yet.
      if (core.registry != nullptr) upload->final.reset();
    }
  }
  upload->last_activity = recorded.last_activity;
  upload->data = std::move(recorded.upload);
  if (!upload->final && upload->data->read_back() == nullptr) {
    // The store cannot read back: pieces the frontier could pass only by reading bytes (leaf
    // states a restart lost) are asked for again now, so a status request already shows them
    // missing; their bytes are rewritten in place.
    for (auto it = upload->pieces.begin(); it != upload->pieces.end();) {
      if (core.passes_without_reading(it->second, it->first, total)) {
        ++it;
        continue;
      }
      --upload->stored_pieces;
      upload->stored_bytes -= it->second.size;
      it = upload->pieces.erase(it);
    }
  }
  return upload;
}

void UploadCore::load() {
  Impl& core = *impl_;
  std::vector<std::shared_ptr<Upload>> redelivered;
  for (const auto& id : core.store->list()) {
    RecordedUpload recorded;
    const StorageStatus opened = core.store->open(id, recorded);
    if (opened.code == StorageCode::not_found) {
      core.store->remove(id, false);  // a create that never finished
      continue;
    }
    if (!opened || !recorded.upload) {
      core.quarantine(id, opened.code == StorageCode::corrupt ? opened.detail : "cannot open it: " + opened.detail);
      continue;
    }
    auto upload = core.adopt(id, recorded);
    if (upload && core.index.insert_loaded(upload) && upload->final) redelivered.push_back(upload);
  }
  // The crash may have come between the release and the hook's return: hand every released,
  // unclaimed upload over again (at least once), after the index holds them all, so that the hook
  // can claim it.
  if (!core.hooks.on_complete) return;
  for (const auto& upload : redelivered) {
    const UploadManifest& m = upload->manifest;
    core.hooks.on_complete(CompletedUpload{m.principal, m.identifier, m.file_name, m.total_size.value_or(0),
                                           upload->final->file_digest, upload->final->token, upload->final->location,
                                           true});
  }
}

std::optional<ErrorCode> UploadCore::check_size(std::optional<std::uint64_t> total_size) const {
  if (total_size && *total_size > impl_->limits.max_file_size) return ErrorCode::file_too_large;
  return std::nullopt;
}

std::optional<ErrorCode> UploadCore::check_type(const std::string& file_name, const std::string& mime_type) const {
  if (!file_type_allowed(impl_->limits, file_name, mime_type)) return ErrorCode::type_not_allowed;
  return std::nullopt;
}

std::optional<ErrorCode> UploadCore::check_declaration(const UploadDeclaration& upload) const {
  if (auto error = check_size(upload.total_size)) return error;
  if (upload.partial) return std::nullopt;  // its type is its final upload's, checked by concatenate()
  return check_type(upload.file_name, upload.mime_type);
}

std::variant<ErrorCode, std::shared_ptr<Upload>> UploadCore::Impl::create_indexed(const std::string& principal,
                                                                                 const UploadDeclaration& declared,
                                                                                 bool hold) {
  bool created = false;
  bool over_limit = false;
  StorageStatus create_status;
  if (auto error = sync({principal, declared.identifier})) return *error;
  const UploadIndex::Limits counts{limits.max_uploads_per_principal, limits.max_unclaimed_per_principal, limits.max_uploads};
  auto upload = index.find_or_create({principal, declared.identifier}, counts, created, over_limit, [&] {
    auto fresh = new_upload(principal, declared, create_status);
    if (fresh) fresh->advancing = hold;
    return fresh;
  });
  if (over_limit) return ErrorCode::too_many_uploads;
  if (!upload && create_status.code == StorageCode::conflict) return ErrorCode::upload_conflict;  // another instance's
  if (!upload) {
    if (create_status.code != StorageCode::refused) log("creating upload failed: " + create_status.detail);
    return storage_error(create_status);
  }
  if (!created) return ErrorCode::upload_conflict;
  return upload;
}

std::optional<ErrorCode> UploadCore::create_upload(const std::string& principal, const UploadDeclaration& declared) {
  if (auto error = check_declaration(declared)) return *error;
  auto created = impl_->create_indexed(principal, declared, false);
  if (auto* error = std::get_if<ErrorCode>(&created)) return *error;
  return std::nullopt;
}

PieceStart UploadCore::begin_piece(const std::string& principal, const PieceRequest& request) {
  Impl& core = *impl_;
  if (auto error = check_declaration(request.upload)) return *error;
  const UploadDeclaration& declared = request.upload;
  if (!piece_fits(declared.total_size, core.limits.max_file_size, request.offset, request.size)) {
    return ErrorCode::invalid_geometry;
  }
  const UploadIndex::Key key{principal, declared.identifier};
  // An upload can be cancelled or collected between lookup and lock; then start over (bounded).
  for (int attempt = 0; attempt < 3; ++attempt) {
    bool created = false;
    bool over_limit = false;
    StorageStatus create_status;
    if (auto error = core.sync(key)) return *error;
    const UploadIndex::Limits counts{core.limits.max_uploads_per_principal, core.limits.max_unclaimed_per_principal,
                                     core.limits.max_uploads};
    auto upload = core.index.find_or_create(key, counts, created, over_limit,
                                            [&]() -> std::shared_ptr<Upload> {
      auto fresh = core.new_upload(principal, declared, create_status);
      if (fresh) fresh->provisional = core.cancelled_recently(key);  // a late request of a cancelled upload?
      return fresh;
    });
    if (over_limit) return ErrorCode::too_many_uploads;
    if (!upload && create_status.code == StorageCode::conflict) continue;  // another instance created it: load it
    if (!upload) {
      if (create_status.code != StorageCode::refused) core.log("creating upload failed: " + create_status.detail);
      return storage_error(create_status);
    }

    std::unique_lock lock(upload->mutex);
    // A new upload this request made must not stay behind empty when the request is refused.
    auto refuse = [&](ErrorCode code) -> PieceStart {
      if (created && upload->stored_pieces == 0 && upload->active_writers == 0 && !upload->removed) {
        upload->removed = true;
        lock.unlock();
        core.forget(upload, false);
      }
      return code;
    };
    // Removed (cancelled, collected, emptied) but maybe not yet out of the index: take it out here,
    // so the next attempt creates a fresh upload instead of finding this one again.
    if (upload->removed) {
      lock.unlock();
      core.index.drop_key(upload);
      continue;
    }
    if (auto error = core.check_matches(*upload, declared)) return *error;
    if (upload->final) return core.final_result(*upload);
    const auto deadline = std::chrono::steady_clock::now() + core.limits.chunk_wait;
    if (declared.file_digest && !upload->manifest.declared_file_digest) {
      if (upload->fully_received()) {
        // Declared while the file is being released: answer with what the release gives.
        upload->changed.wait_until(lock, deadline, [&] { return upload->final || upload->removed || !upload->advancing; });
        if (upload->final) {
          if (!core::digests_equal(upload->final->file_digest, *declared.file_digest)) return ErrorCode::upload_conflict;
          return core.final_result(*upload);
        }
        if (upload->removed || upload->advancing) return ErrorCode::chunk_busy;
      }
      // A client may learn the file's digest only after its first pieces (the widget hashes while
      // it sends); from the first declaration on, the release is verified against it.
      if (auto error = core.update_manifest(*upload, [&](UploadManifest& m) { m.declared_file_digest = declared.file_digest; },
                                            "the declared file digest")) {
        return *error;
      }
    }
    if (!upload->manifest.total_size && declared.total_size) {
      // The size, not known when the upload started, is known now.
      const auto last = upload->pieces.empty() ? 0 : upload->pieces.rbegin()->first + upload->pieces.rbegin()->second.size;
      if (last > *declared.total_size) return ErrorCode::upload_conflict;
      if (auto error = core.update_manifest(*upload, [&](UploadManifest& m) { m.total_size = declared.total_size; },
                                            "the declared size")) {
        return *error;
      }
    }
    // Two requests for one piece never write at once: the later one waits for the earlier.
    PieceFit fit = upload->fit(request.offset, request.size);
    auto being_written = [&] {
      const auto it = upload->pieces.find(request.offset);
      return fit == PieceFit::same && it->second.state == PieceState::writing;
    };
    while (being_written() && !upload->removed) {
      if (upload->changed.wait_until(lock, deadline) == std::cv_status::timeout) {
        fit = upload->fit(request.offset, request.size);
        if (being_written()) return ErrorCode::chunk_busy;
      }
      fit = upload->fit(request.offset, request.size);
    }
    if (upload->removed) {
      lock.unlock();
      core.index.drop_key(upload);
      continue;
    }
    if (upload->final) return core.final_result(*upload);
    upload->last_activity = Clock::now();
    if (fit == PieceFit::same) {
      const Piece& stored = upload->pieces.find(request.offset)->second;
      if (request.digest && !core::digests_equal(*request.digest, stored.digest)) return ErrorCode::chunk_conflict;
      return PieceStored{request.offset, request.size, upload->stored_pieces, upload->stored_bytes, true};
    }
    if (fit == PieceFit::overlaps) return refuse(ErrorCode::invalid_geometry);
    // A piece that starts inside a leaf continues the leaf where the frontier stands, if it is next
    // in line; otherwise its head is read back when the frontier gets there, which needs read-back.
    const bool starts_inside_leaf = request.offset % core::leaf_bytes != 0;
    const bool next_in_line = starts_inside_leaf && !upload->advancing && upload->frontier.offset == request.offset;
    if (starts_inside_leaf && !next_in_line && upload->data->read_back() == nullptr) return refuse(ErrorCode::out_of_order);

    PieceWriter writer = core.start_writer(upload, request, created, next_in_line);
    lock.unlock();
    // Outside the lock: erasing flash blocks may take a while, and the piece is marked as being
    // written, so nothing else touches its bytes meanwhile.
    if (const StorageStatus prepared = upload->data->prepare_piece(request.offset, request.size); !prepared) {
      if (prepared.code != StorageCode::refused) core.log("preparing a piece failed: " + prepared.detail);
      return storage_error(prepared);  // the writer gives the piece back
    }
    return writer;
  }
  return ErrorCode::chunk_busy;
}

std::optional<PieceOutcome> UploadCore::resume_finalization(const std::string& principal, const std::string& identifier) {
  if (auto error = impl_->sync({principal, identifier})) return *error;
  const auto upload = impl_->index.find({principal, identifier});
  if (!upload) return std::nullopt;
  return impl_->finish_received(upload);
}

std::optional<ErrorCode> UploadCore::declare_size(const std::string& principal, const std::string& identifier,
                                                  std::uint64_t size) {
  Impl& core = *impl_;
  if (auto error = check_size(size)) return error;
  if (auto error = core.sync({principal, identifier})) return error;
  const auto upload = core.index.find({principal, identifier});
  if (!upload) return ErrorCode::upload_not_found;
  std::unique_lock lock(upload->mutex);
  if (upload->removed) return ErrorCode::upload_not_found;
  if (upload->manifest.total_size) {
    if (*upload->manifest.total_size != size) return ErrorCode::upload_conflict;
    return std::nullopt;
  }
  const auto last = upload->pieces.empty() ? 0 : upload->pieces.rbegin()->first + upload->pieces.rbegin()->second.size;
  if (last > size) return ErrorCode::upload_conflict;
  return core.update_manifest(*upload, [&](UploadManifest& m) { m.total_size = size; }, "the declared size");
}

void UploadCore::cancel(const std::string& principal, const std::string& identifier) {
  Impl& core = *impl_;
  if (core.sync({principal, identifier})) return;  // the registry cannot be reached: nothing to cancel by
  const auto upload = core.index.find({principal, identifier});
  if (!upload) return;
  {
    std::unique_lock lock(upload->mutex);
    if (upload->removed) return;
    upload->removed = true;
    upload->changed.notify_all();
    core.remember_cancel({principal, identifier});
    // A thread advancing the frontier stops at the next piece once it sees `removed`; one releasing
    // the file finishes its hand-over first. Wait for it, so that a file released at this very
    // moment is deleted below instead of being left behind.
    upload->changed.wait_for(lock, std::chrono::seconds(120), [&] { return !upload->advancing; });
  }
  core.forget(upload, true);
}

std::variant<ErrorCode, ClaimedUpload> UploadCore::claim(const std::string& token, const std::string& principal) {
  Impl& core = *impl_;
  if (core.registry != nullptr) return core.claim_shared(token, principal);
  const auto upload = core.index.take_by_token(token, principal);
  if (!upload) return ErrorCode::upload_not_found;
  ClaimedUpload claimed;
  {
    std::lock_guard lock(upload->mutex);
    // A cancel or a collection that got to it first wins: the file may be gone already.
    if (upload->removed) return ErrorCode::upload_not_found;
    upload->removed = true;
    claimed.location = upload->final->location;
    claimed.file_name = upload->manifest.file_name;
    claimed.identifier = upload->manifest.identifier;
    claimed.size = upload->manifest.total_size.value_or(0);
    claimed.digest = upload->final->file_digest;
  }
  // The file now belongs to the application; only the record goes.
  if (auto status = core.store->remove(upload->manifest.upload_id, false); !status) {
    core.log("removing claimed upload record failed: " + status.detail);
  }
  return claimed;
}

CollectionReport UploadCore::collect_stale(Clock::time_point now) {
  Impl& core = *impl_;
  CollectionReport report;
  std::vector<std::string> damaged;
  {
    std::lock_guard lock(core.quarantine_mutex);
    for (auto it = core.quarantined.begin(); it != core.quarantined.end();) {
      if (it->second + core.limits.stale_after <= now) {
        damaged.push_back(it->first);
        it = core.quarantined.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& id : damaged) {
    // Its records are not trusted: a file it may have released stays for the application's sweep.
    if (auto status = core.store->remove(id, false); !status) core.log("removing damaged upload " + id + " failed: " + status.detail);
    ++report.damaged_removed;
  }
  core.sync_all();
  for (const auto& upload : core.index.all()) {
    bool remove = false;
    bool released = false;
    if (core.refresh(upload)) continue;  // the registry cannot say whether another instance uses it
    {
      std::lock_guard lock(upload->mutex);
      if (upload->removed || upload->active_writers > 0 || upload->advancing) continue;
      if (upload->final) {
        const auto completed = Clock::time_point(std::chrono::seconds(upload->final->completed_unix));
        remove = released = completed + core.limits.unclaimed_after <= now;
      } else {
        // A finished partial waits for its concatenation as a finished file waits for its claim.
        const auto idle_limit = upload->provisional ? core.limits.cancelled_grace
                                : upload->manifest.partial && upload->fully_received() ? core.limits.unclaimed_after
                                                                                       : core.limits.stale_after;
        remove = upload->last_activity + idle_limit <= now;
      }
      if (remove && core.registry != nullptr) {
        // This instance's view may be old: the registry decides, from its own records, atomically
        // with every other instance's pieces and claims (upload_registry.h, retire_idle).
        const auto idle_limit = upload->final ? core.limits.unclaimed_after
                                : upload->provisional ? core.limits.cancelled_grace
                                : upload->manifest.partial && upload->fully_received() ? core.limits.unclaimed_after
                                                                                       : core.limits.stale_after;
        const StorageStatus retired = core.registry->retire_idle(upload->manifest.upload_id, now - idle_limit,
                                                                 now - core.limits.unclaimed_after);
        // not_found: claimed, cancelled or collected elsewhere meanwhile; removing its bytes (never a
        // claimed file: its records are gone, so the store cannot find it) finishes what that began.
        remove = retired || retired.code == StorageCode::not_found;
      }
      if (remove) {
        upload->removed = true;
        upload->changed.notify_all();
      }
    }
    if (!remove) continue;
    core.forget(upload, released);
    ++(released ? report.unclaimed_removed : report.stale_removed);
  }
  return report;
}

void UploadCore::Impl::run_collector() {
  std::unique_lock lock(collector_mutex);
  while (!stopping) {
    collector_wake.wait_for(lock, collect_interval, [&] { return stopping; });
    if (stopping) break;
    lock.unlock();
    next_collection_ms = steady_ms() + std::chrono::duration_cast<std::chrono::milliseconds>(collect_interval).count();
    collect_and_log();
    lock.lock();
  }
}

void UploadCore::schedule_collection(std::chrono::seconds interval) {
  Impl& core = *impl_;
  if (interval.count() <= 0 || core.collect_interval.count() > 0) return;  // off, or already scheduled
  core.collect_interval = interval;
  core.next_collection_ms = steady_ms() + std::chrono::duration_cast<std::chrono::milliseconds>(interval).count();
#if RESUMABLE_WITH_COLLECTOR_THREAD
  core.collector = std::thread([&core] { core.run_collector(); });
#endif
}

void UploadCore::collect_if_due() {
#if !RESUMABLE_WITH_COLLECTOR_THREAD
  Impl& core = *impl_;
  if (core.collect_interval.count() <= 0) return;
  std::int64_t due = core.next_collection_ms.load();
  const std::int64_t now = steady_ms();
  if (now < due) return;
  // One request runs it; the others go on.
  const std::int64_t next = now + std::chrono::duration_cast<std::chrono::milliseconds>(core.collect_interval).count();
  if (!core.next_collection_ms.compare_exchange_strong(due, next)) return;
  core.collect_and_log();
#endif
}

void UploadCore::Impl::collect_and_log() {
  // Collection is reached through the public entry point so that both schedules do the same.
  const auto report = owner->collect_stale(Clock::now());
  if (report.stale_removed + report.unclaimed_removed + report.damaged_removed > 0) {
    log("collected " + std::to_string(report.stale_removed) + " stale, " + std::to_string(report.unclaimed_removed) +
        " unclaimed and " + std::to_string(report.damaged_removed) + " damaged uploads");
  }
}

BufferLease UploadCore::lease_buffer() { return BufferLease(impl_->buffers); }

std::size_t UploadCore::per_request_buffer_bytes() const {
  const auto& limits = impl_->limits;
  return limits.io_buffer_bytes * (impl_->write_pool ? limits.io_buffers : 1);
}

}  // namespace resumable
