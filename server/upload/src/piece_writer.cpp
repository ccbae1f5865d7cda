// One piece's bytes on their way to the store: hashed into the piece's digest as they arrive,
// written at their offset (behind the request thread when the build has write-behind), folded
// into the whole-file hash on the way when this piece is next in line, then verified and committed.
#include <algorithm>
#include <cstring>

#include "upload_core_impl.h"

namespace resumable {

struct PieceWriter::State {
  State(UploadCore::Impl& core, std::shared_ptr<Upload> upload, std::uint64_t offset, std::uint64_t size,
        std::optional<core::Digest> expected)
      : core(&core), upload(std::move(upload)), offset(offset), size(size), expected_digest(expected) {}
  ~State() { abandon(); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  WriteBehind& ring_for_writing() {
    if (!ring) ring = core->make_ring();
    return *ring;
  }
  void fail(ErrorCode code, const StorageStatus* status = nullptr) {
    if (error) return;
    if (status != nullptr && cancelled()) {
      // A cancel removed the upload's files under this writer: the client sees the upload gone,
      // not a server failure.
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
  void abandon();

  UploadCore::Impl* core;
  std::shared_ptr<Upload> upload;
  std::uint64_t offset;
  std::uint64_t size;
  std::uint64_t written = 0;
  std::optional<core::Digest> expected_digest;
  core::Blake2b256 hash;
  std::optional<ErrorCode> error;
  bool done = false;
  std::unique_ptr<WriteBehind> ring;  // leased on the first byte; drained before the piece is given back
  // This request created the upload: if it fails before any piece of the upload is stored, the
  // empty upload goes too (a request arriving after a cancel must not leave an upload behind).
  bool created_upload = false;
  // When this piece is next in line for the whole-file hash, it is folded in while it streams (no
  // read-back later); the state before it is kept to undo that if the piece fails.
  bool inline_file_hash = false;
  core::Blake2b256 file_hash_before;
};

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
    if (inline_file_hash) {
      upload->file_hash = file_hash_before;  // the failed piece's bytes must not count
      upload->hashing = false;
    }
    if (created_upload && upload->stored_pieces == 0 && upload->active_writers == 0 && !upload->hashing &&
        !upload->removed) {
      upload->removed = true;
      forget_empty_upload = true;
    }
    upload->changed.notify_all();
  }
  if (forget_empty_upload) core->forget(upload, false);
}

PieceWriter UploadCore::Impl::start_writer(const std::shared_ptr<Upload>& upload, const PieceRequest& request,
                                           bool created_upload, bool inline_hash) {
  upload->pieces[request.offset] = Piece{request.size, PieceState::writing, {}};
  ++upload->active_writers;
  auto state = std::make_unique<PieceWriter::State>(*this, upload, request.offset, request.size, request.digest);
  state->created_upload = created_upload;
  if (inline_hash) {
    upload->hashing = true;
    state->inline_file_hash = true;
    state->file_hash_before = upload->file_hash;
  }
  return PieceWriter(std::move(state));
}

PieceWriter::PieceWriter(std::unique_ptr<State> state) : state_(std::move(state)) {}
PieceWriter::PieceWriter(PieceWriter&&) noexcept = default;
PieceWriter& PieceWriter::operator=(PieceWriter&&) noexcept = default;
PieceWriter::~PieceWriter() = default;

std::optional<ErrorCode> PieceWriter::error() const { return state_->error; }
std::uint64_t PieceWriter::size() const { return state_->size; }
std::uint64_t PieceWriter::written() const { return state_->written; }

std::span<std::uint8_t> PieceWriter::next_buffer() { return state_->ring_for_writing().next_buffer(); }

bool PieceWriter::received(std::size_t length) {
  State& s = *state_;
  if (s.error) return false;
  if (length > s.size - s.written) {
    s.fail(ErrorCode::invalid_body);  // more bytes than the piece can have
    return false;
  }
  WriteBehind& ring = s.ring_for_writing();
  if (ring.failed()) {
    const StorageStatus status = ring.drain();
    s.fail(storage_error(status), &status);
    return false;
  }
  const auto bytes = ring.current_buffer().first(length);
  s.hash.update(bytes.data(), bytes.size());
  // The whole-file pass runs beside this thread, in order, on a pool thread (or right here).
  ring.write(*s.upload->data, s.offset + s.written, length, s.inline_file_hash ? &s.upload->file_hash : nullptr);
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
  const core::Digest digest = s.hash.finish();
  if (!s.error && s.expected_digest && !core::digests_equal(*s.expected_digest, digest)) {
    s.fail(ErrorCode::chunk_digest_mismatch);
  }
  const PieceRecord record{s.offset, s.size, digest};
  if (!s.error) {
    // The store makes the bytes durable before its record says they are there.
    if (const StorageStatus status = s.upload->data->commit_piece(record); !status) {
      if (s.cancelled()) {
        s.error = ErrorCode::upload_not_found;
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
  // Pieces that arrived ahead of the file hash are read back through this request's ring.
  auto scratch = s.ring ? nullptr : s.core->make_ring();
  OrderedReader reader(s.ring ? *s.ring : *scratch);
  return s.core->piece_stored(s.upload, record, reader, s.inline_file_hash);
}

}  // namespace resumable
