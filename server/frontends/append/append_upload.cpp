#include "append_upload.h"

#include <algorithm>
#include <utility>

#include "resumable/secure_random.h"
#include "resumable/tree_digest.h"

namespace resumable::append {

std::string new_upload_id() { return core::random_hex(16); }

bool is_upload_id(std::string_view text) {
  return text.size() == 32 &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::variant<ErrorCode, OffsetState> offset_state(UploadCore& core, const std::string& principal, const std::string& id,
                                                  std::string_view protocol) {
  auto outcome = core.status(principal, id, 0, 0);  // no piece list: only the counts
  if (const auto* error = std::get_if<ErrorCode>(&outcome)) return *error;
  OffsetState state;
  const auto ours = [&](const std::map<std::string, std::string>& fields) {
    const auto it = fields.find("protocol");
    return it != fields.end() && it->second == protocol;
  };
  if (auto* final = std::get_if<FinalResult>(&outcome)) {
    if (!ours(final->protocol_fields)) return ErrorCode::upload_not_found;
    state.offset = final->size;
    state.length = final->size;
    state.protocol_fields = final->protocol_fields;
    state.file_name = final->file_name;
    state.final = std::move(*final);
    return state;
  }
  auto& upload = std::get<UploadState>(outcome);
  if (!ours(upload.protocol_fields)) return ErrorCode::upload_not_found;
  state.offset = upload.contiguous_bytes;
  state.length = upload.total_size;
  state.stored_pieces = upload.stored_pieces;
  state.protocol_fields = std::move(upload.protocol_fields);
  state.file_name = std::move(upload.file_name);
  state.partial = upload.partial;
  state.expires = upload.last_activity +
                  (upload.awaiting_concatenation ? core.limits().unclaimed_after : core.limits().stale_after);
  return state;
}

std::optional<ErrorCode> create_upload(UploadCore& core, const std::string& principal, const UploadDeclaration& upload) {
  // The mount's limits (size, type) before anything is created or written.
  if (auto error = core.check_declaration(upload)) return error;
  if (auto error = core.create_upload(principal, upload)) return error;
  if (upload.total_size == std::uint64_t{0}) {
    PieceRequest piece;
    piece.upload = upload;
    auto start = core.begin_piece(principal, piece);
    if (auto* writer = std::get_if<PieceWriter>(&start)) writer->finish();
  }
  return std::nullopt;
}

UploadDeclaration declaration_of(const OffsetState& state, const std::string& id) {
  UploadDeclaration upload;
  upload.identifier = id;
  upload.file_name = state.file_name;
  upload.total_size = state.length;
  upload.protocol_fields = state.protocol_fields;
  upload.partial = state.partial;
  if (const auto it = state.protocol_fields.find("filetype"); it != state.protocol_fields.end()) upload.mime_type = it->second;
  return upload;
}

std::shared_ptr<void> AppendLocks::take(const std::string& principal, const std::string& id,
                                        std::function<void()> interrupt, std::chrono::milliseconds wait) {
  const auto key = std::make_pair(principal, id);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  std::unique_lock lock(mutex_);
  std::uint64_t interrupted = 0;  // serials start at 1
  for (auto it = holders_.find(key); it != holders_.end(); it = holders_.find(key)) {
    if (it->second.serial != interrupted) {
      interrupted = it->second.serial;
      // Under the mutex: the holder's request is still being served, so its socket is still its own.
      if (it->second.interrupt) it->second.interrupt();
    }
    if (released_.wait_until(lock, deadline) == std::cv_status::timeout && holders_.count(key) != 0) return nullptr;
  }
  const std::uint64_t serial = ++next_serial_;
  holders_[key] = Holder{serial, std::move(interrupt)};
  return std::shared_ptr<void>(static_cast<void*>(this), [this, key, serial](void*) {  // deletes nothing
    {
      std::lock_guard guard(mutex_);
      if (const auto it = holders_.find(key); it != holders_.end() && it->second.serial == serial) holders_.erase(it);
    }
    released_.notify_all();
  });
}

namespace {

class AppendExchange final : public http::Exchange, public http::BodySink {
 public:
  AppendExchange(UploadCore& core, AppendRequest request, std::function<http::Reply(const AppendResult&)> render)
      : core_(core), request_(std::move(request)), render_(std::move(render)) {
    if (request_.checksum && request_.checksum->algorithm != ChecksumAlgorithm::tree) {
      hasher_.emplace(request_.checksum->algorithm);
    }
  }

  std::variant<http::Reply, http::BodyKind> start() override {
    if (request_.length == 0) return reply({});
    if (auto refused = begin_next()) return reply({refused, std::nullopt}, true);
    if (final_) return reply({std::nullopt, final_}, true);
    return http::BodyKind::raw;
  }

  std::optional<http::Reply> interim() override { return std::exchange(request_.interim, std::nullopt); }
  bool file_part(const http::ParamLookup&) override { return false; }
  http::BodySink& sink() override { return *this; }
  void fail(ErrorCode code) override {
    if (!error_) error_ = code;
  }

  std::span<std::uint8_t> next_buffer() override {
    if (!writer_) {
      if (!discard_) discard_.emplace(core_.lease_buffer());
      return last_ = discard_->span().first(1);
    }
    const auto buffer = writer_->next_buffer();
    const std::uint64_t room = piece_end_ - (request_.offset + received_);
    return last_ = buffer.first(static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), std::max<std::uint64_t>(room, 1))));
  }

  bool received(std::size_t length) override {
    if (!writer_ || request_.offset + received_ + length > piece_end_) {
      fail(ErrorCode::invalid_body);  // more than Content-Length said: cannot happen through CivetWeb
      return false;
    }
    if (hasher_) hasher_->update(last_.first(length));
    received_ += length;
    if (!writer_->received(length)) {
      fail(*writer_->error());
      return false;
    }
    // A whole-body checksum decides at the end; otherwise each complete piece is committed now.
    if (request_.offset + received_ < piece_end_ || request_.checksum) return true;
    if (!commit()) return false;
    if (received_ == request_.length) return true;
    if (auto refused = begin_next()) {
      fail(*refused);
      return false;
    }
    return !final_;
  }

  std::optional<http::Reply> finish(http::BodyEnd end) override {
    const bool whole = received_ == request_.length;
    if (end == http::BodyEnd::too_slow) fail(ErrorCode::body_too_slow);
    if (end == http::BodyEnd::malformed) fail(ErrorCode::invalid_body);
    if (end == http::BodyEnd::connection_lost) {
      writer_.reset();  // the unfinished piece goes back; committed ones stay
      return std::nullopt;
    }
    if (!error_ && !whole) fail(ErrorCode::incomplete_body);
    if (!error_ && writer_) {
      if (hasher_ && !hasher_->matches(request_.checksum->expected)) {
        fail(ErrorCode::chunk_digest_mismatch);
      } else {
        commit();
      }
    }
    writer_.reset();
    return reply({error_, final_}, !whole);
  }

 private:
  http::Reply reply(const AppendResult& result, bool close = false) {
    auto r = render_(result);
    r.close = r.close || close;
    return r;
  }

  // Starts the piece at the current position; the error that refuses it, if any.
  std::optional<ErrorCode> begin_next() {
    const std::uint64_t at = request_.offset + received_;
    const std::uint64_t end = request_.offset + request_.length;
    const std::uint64_t step = std::max<std::uint64_t>(core_.limits().append_piece_bytes, core::leaf_bytes);
    piece_end_ = request_.checksum ? end : std::min(end, (at / step + 1) * step);
    PieceRequest piece;
    piece.upload = request_.upload;
    piece.offset = at;
    piece.size = piece_end_ - at;
    if (request_.checksum && request_.checksum->algorithm == ChecksumAlgorithm::tree) {
      core::Digest digest{};
      std::copy(request_.checksum->expected.begin(), request_.checksum->expected.end(), digest.begin());
      piece.digest = digest;
    }
    PieceStart start = core_.begin_piece(request_.principal, piece);
    if (auto* writer = std::get_if<PieceWriter>(&start)) {
      writer_.emplace(std::move(*writer));
      return std::nullopt;
    }
    // The front-end checked the range against the upload's offset and length: an overlap can only be
    // a piece another request is still writing (a stalled append), which a retry gets past.
    if (auto* error = std::get_if<ErrorCode>(&start)) return *error == ErrorCode::invalid_geometry ? ErrorCode::chunk_busy : *error;
    if (auto* final = std::get_if<FinalResult>(&start)) {
      final_ = *final;
      return std::nullopt;
    }
    return ErrorCode::offset_mismatch;  // the range is stored already: another request got there first
  }

  bool commit() {
    PieceOutcome outcome = writer_->finish();
    writer_.reset();
    if (auto* error = std::get_if<ErrorCode>(&outcome)) {
      fail(*error);
      return false;
    }
    if (auto* final = std::get_if<FinalResult>(&outcome)) final_ = std::move(*final);
    return true;
  }

  UploadCore& core_;
  AppendRequest request_;
  std::function<http::Reply(const AppendResult&)> render_;
  std::optional<BodyHasher> hasher_;
  std::optional<PieceWriter> writer_;
  std::optional<BufferLease> discard_;
  std::span<std::uint8_t> last_;
  std::uint64_t received_ = 0;
  std::uint64_t piece_end_ = 0;
  std::optional<ErrorCode> error_;
  std::optional<FinalResult> final_;
};

}  // namespace

std::unique_ptr<http::Exchange> make_append_exchange(UploadCore& core, AppendRequest request,
                                                     std::function<http::Reply(const AppendResult&)> render) {
  return std::make_unique<AppendExchange>(core, std::move(request), std::move(render));
}

}  // namespace resumable::append
