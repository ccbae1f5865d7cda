// One piece's bytes on their way to the store: hashed once into its leaf and chunk digests and
// written at their offset (both behind the request thread when the build has write-behind), then
// verified and committed with their leaves.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>

#include "upload_core_impl.h"

namespace resumable {

struct PieceWriter::State {
  State(UploadCore::Impl& core, std::shared_ptr<Upload> upload, std::uint64_t offset, std::uint64_t size,
        std::optional<core::Digest> expected, const core::LeafHasher* continued)
      : core(&core),
        upload(std::move(upload)),
        offset(offset),
        size(size),
        expected_digest(expected),
        hasher(offset, size, this->upload->manifest.total_size, continued) {}
  ~State() { abandon(); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  WriteBehind& ring_for_writing() {
    if (!ring) ring = core->make_ring();
    return *ring;
  }
  void fail(ErrorCode code, const StorageStatus* status = nullptr) {
    if (error) return;
    if (status != nullptr && (cancelled() || gone_elsewhere())) {
      // A cancel or a collection (here or on another instance) removed the upload's files under
      // this writer: the client sees the upload gone, not a server failure.
      error = ErrorCode::upload_not_found;
      return;
    }
    error = code;
    if (status != nullptr) core->log("piece write failed: " + status->detail);
  }
  bool cancelled() const {
    std::lock_guard lock(upload->mutex);
    return upload->removed;
  }
  bool gone_elsewhere() const {
    return core->registry != nullptr &&
           core->registry->record_activity(upload->manifest.upload_id).code == StorageCode::not_found;
  }
  void abandon();
  // Over a shared registry: tells it that this body is still arriving (upload_registry.h,
  // record_activity), before the first bytes and then every stale_after / 4. False when the upload
  // is gone elsewhere (collected, cancelled): the piece fails with upload_not_found.
  bool note_activity();

  UploadCore::Impl* core;
  std::shared_ptr<Upload> upload;
  std::uint64_t offset;
  std::uint64_t size;
  std::uint64_t written = 0;
  std::optional<core::Digest> expected_digest;
  PieceHasher hasher;  // fed on the pool when the build has write-behind
  std::optional<ErrorCode> error;
  bool done = false;
  std::unique_ptr<WriteBehind> ring;  // leased on the first byte; drained before the piece is given back
  // This request created the upload: if it fails before any piece of the upload is stored, the
  // empty upload goes too (a request arriving after a cancel must not leave an upload behind).
  bool created_upload = false;
  // This piece starts inside a leaf where the digest frontier stands: it continues the frontier's
  // leaf (so nothing is read back later) and holds the frontier until it is stored or given back.
  bool holds_frontier = false;
  std::optional<std::chrono::steady_clock::time_point> activity_noted;
};

bool PieceWriter::State::note_activity() {
  if (core->registry == nullptr) return true;
  const auto now = std::chrono::steady_clock::now();
  if (activity_noted && now - *activity_noted < core->limits.stale_after / 4) return true;
  activity_noted = now;
  const StorageStatus status = core->registry->record_activity(upload->manifest.upload_id);
  if (status) return true;
  if (status.code == StorageCode::not_found) {
    error = ErrorCode::upload_not_found;
    return false;
  }
  // The registry cannot be reached for the moment: the body goes on, and the piece's record
  // (which records activity too) meets the same registry at the end.
  core->log("recording activity of upload " + upload->manifest.upload_id + " failed: " + status.detail);
  return true;
}

void PieceWriter::State::abandon() {
  if (done || !upload) return;
  done = true;
  // No queued byte may land after the piece is given back to another writer.
  if (ring) ring->drain();
  bool forget_empty_upload = false;
  {
    std::lock_guard lock(upload->mutex);
    if (auto it = upload->pieces.find(offset); it != upload->pieces.end() && it->second.state == PieceState::writing) {
      upload->pieces.erase(it);
    }
    --upload->active_writers;
    if (holds_frontier) upload->advancing = false;  // the frontier itself was never changed
    if (created_upload && upload->stored_pieces == 0 && upload->active_writers == 0 && !upload->advancing &&
        !upload->removed) {
      upload->removed = true;
      forget_empty_upload = true;
    }
    upload->changed.notify_all();
  }
  if (forget_empty_upload) core->forget(upload, false);
}

PieceWriter UploadCore::Impl::start_writer(const std::shared_ptr<Upload>& upload, const PieceRequest& request,
                                           bool created_upload, bool continue_frontier) {
  Piece& piece = upload->pieces[request.offset];
  piece = Piece{};
  piece.size = request.size;
  piece.state = PieceState::writing;
  ++upload->active_writers;
  piece.continued = continue_frontier;
  if (continue_frontier) upload->advancing = true;
  const auto& partial = upload->frontier.partial;
  auto state = std::make_unique<PieceWriter::State>(*this, upload, request.offset, request.size, request.digest,
                                                    continue_frontier && partial ? &*partial : nullptr);
  state->created_upload = created_upload;
  state->holds_frontier = continue_frontier;
  return PieceWriter(std::move(state));
}

PieceWriter::PieceWriter(std::unique_ptr<State> state) : state_(std::move(state)) {}
PieceWriter::PieceWriter(PieceWriter&&) noexcept = default;
PieceWriter& PieceWriter::operator=(PieceWriter&&) noexcept = default;
PieceWriter::~PieceWriter() = default;

std::optional<ErrorCode> PieceWriter::error() const { return state_->error; }
std::uint64_t PieceWriter::size() const { return state_->size; }
std::uint64_t PieceWriter::written() const { return state_->written; }

std::span<std::uint8_t> PieceWriter::next_buffer() {
  // Before the front-end waits for the bytes that fill this buffer (a slow body may take long to):
  // a failure is the writer's error, which received() then reports.
  state_->note_activity();
  return state_->ring_for_writing().next_buffer();
}

bool PieceWriter::received(std::size_t length) {
  State& s = *state_;
  if (s.error) return false;
  if (length > s.size - s.written) {
    s.fail(ErrorCode::invalid_body);  // more bytes than the piece can have
    return false;
  }
  if (!s.note_activity()) return false;
  WriteBehind& ring = s.ring_for_writing();
  if (ring.failed()) {
    const StorageStatus status = ring.drain();
    s.fail(storage_error(status), &status);
    return false;
  }
  // The one hash pass runs beside this thread, in order, on a pool thread (or right here).
  ring.write(*s.upload->data, s.offset + s.written, length, &s.hasher);
  s.written += length;
  return true;
}

bool PieceWriter::write(std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    if (state_->error) return false;
    const auto buffer = next_buffer();
    const std::size_t n = std::min(buffer.size(), bytes.size());
    std::memcpy(buffer.data(), bytes.data(), n);
    if (!received(n)) return false;
    bytes = bytes.subspan(n);
  }
  return !state_->error;
}

PieceOutcome PieceWriter::finish() {
  State& s = *state_;
  if (s.done) return ErrorCode::internal_error;
  if (s.ring) {
    if (const StorageStatus status = s.ring->drain(); !status) s.fail(storage_error(status), &status);
  }
  if (!s.error && s.written != s.size) s.fail(ErrorCode::incomplete_body);
  PieceDigests digests = s.hasher.finish();
  if (!s.error && s.expected_digest && !core::digests_equal(*s.expected_digest, digests.chunk_digest)) {
    s.fail(ErrorCode::chunk_digest_mismatch);
  }
  const PieceRecord record{s.offset, s.size, digests.chunk_digest, digests.first_leaf, std::move(digests.leaves)};
  if (!s.error) {
    // The store makes the bytes durable before its record says they are there.
    if (const StorageStatus status = s.upload->data->commit_piece(record); !status) {
      if (s.cancelled() || status.code == StorageCode::not_found) {
        s.error = ErrorCode::upload_not_found;  // cancelled here, or removed by another instance
      } else if (status.code == StorageCode::conflict) {
        s.error = ErrorCode::chunk_conflict;  // another instance recorded other bytes for it first
      } else {
        s.error = storage_error(status);
        s.core->log("recording piece failed: " + status.detail);
      }
    }
  }
  if (s.error) {
    s.abandon();
    return *s.error;
  }
  s.done = true;
  // What the frontier must read back (heads of unaligned pieces) goes through this request's ring.
  auto scratch = s.ring ? nullptr : s.core->make_ring();
  OrderedReader reader(s.ring ? *s.ring : *scratch);
  return s.core->piece_stored(s.upload, record, std::move(digests.tail), reader, s.holds_frontier);
}

}  // namespace resumable
