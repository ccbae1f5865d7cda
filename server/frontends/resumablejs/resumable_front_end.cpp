#include "resumable_front_end.h"

#include <algorithm>
#include <charconv>

#include "chunk_request.h"
#include "immediate_exchange.h"
#include "replies.h"
#include "request_params.h"
#include "resumable/chunk_geometry.h"

namespace resumable::resumablejs {

namespace {

// Pieces a status document is read in: above this many it is streamed.
constexpr std::size_t status_page_pieces = 1024;

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
           return (a >= 'A' && a <= 'Z' ? a - 'A' + 'a' : a) == b;
         });
}

http::ParamLookup query_of(const http::RequestView& request, std::size_t max_bytes) {
  return [&request, max_bytes](std::string_view name) { return request.query_param(name, max_bytes); };
}

// The mount's rules for a chunk, before any upload is looked at: chunk size, file size, geometry,
// chunk count, file type (in this order: the first failing one is the answer).
std::optional<ErrorCode> validate(const UploadCore& core, const ChunkRequest& request) {
  const UploadLimits& limits = core.limits();
  if (request.chunk_size < limits.min_chunk_size || request.chunk_size > limits.max_chunk_size ||
      request.chunk_size == 0) {
    return ErrorCode::chunk_size_not_allowed;
  }
  if (auto error = core.check_size(request.total_size)) return error;
  if (core::validate_chunk(request.total_size, request.chunk_size, request.chunk_count, request.number,
                           request.current_size) != core::ChunkVerdict::ok) {
    return ErrorCode::invalid_geometry;
  }
  if (request.chunk_count > limits.max_chunks) return ErrorCode::too_many_chunks;
  return core.check_type(request.file_name, request.mime_type);
}

// A validated chunk as the core's piece.
PieceRequest to_piece(const ChunkRequest& request) {
  PieceRequest piece;
  piece.upload.identifier = request.identifier;
  piece.upload.file_name = request.file_name;
  piece.upload.relative_path = request.relative_path;
  piece.upload.mime_type = request.mime_type;
  piece.upload.total_size = request.total_size;
  piece.upload.file_digest = request.file_digest;
  piece.upload.protocol_fields = {{chunk_size_field, std::to_string(request.chunk_size)},
                                  {chunk_count_field, std::to_string(request.chunk_count)}};
  const auto span = core::ChunkGeometry::from_declared(request.total_size, request.chunk_size, request.chunk_count)
                        ->span(request.number);
  piece.offset = span->offset;
  piece.size = span->size;
  piece.digest = request.chunk_digest;
  return piece;
}

http::Reply reply_for(const PieceOutcome& outcome, const ChunkRequest& request) {
  if (const auto* error = std::get_if<ErrorCode>(&outcome)) return error_reply(*error);
  if (const auto* stored = std::get_if<PieceStored>(&outcome)) {
    return json_reply(200, chunk_stored_json(request.number, *stored, request.chunk_count));
  }
  return json_reply(200, to_json(std::get<FinalResult>(outcome)));
}

using http::ImmediateExchange;

// One chunk: parameters from the query (and, for multipart bodies, the fields before the file
// part), decided before the body, then the body streamed into the core's piece writer.
class ChunkExchange final : public http::Exchange, public http::BodySink {
 public:
  ChunkExchange(UploadCore& core, const http::RequestView& request, std::string principal)
      : core_(core), request_(request), principal_(std::move(principal)) {}

  std::variant<http::Reply, http::BodyKind> start() override {
    const auto content_type = request_.header("Content-Type");
    const auto& limits = core_.limits();
    if (content_type && starts_with_ignoring_case(*content_type, "multipart/form-data")) {
      // resumable.js also sends every parameter in the query string: refuse a bad chunk before its body.
      if (auto early = parse_chunk_request(query_of(request_, limits.max_relative_path_bytes), limits);
          std::holds_alternative<ChunkRequest>(early)) {
        if (auto error = validate(core_, std::get<ChunkRequest>(early))) return error_reply(*error, true);
      }
      multipart_ = true;
      return http::BodyKind::multipart;
    }
    auto parsed = parse_chunk_request(query_of(request_, limits.max_relative_path_bytes), limits);
    if (const auto* error = std::get_if<ErrorCode>(&parsed)) return error_reply(*error, true);
    chunk_ = std::get<ChunkRequest>(std::move(parsed));
    if (auto error = validate(core_, *chunk_)) return error_reply(*error, true);
    if (const auto length = request_.content_length(); length && *length != chunk_->current_size) {
      return error_reply(ErrorCode::invalid_body, true);
    }
    if (auto refused = plan()) return error_reply(*refused, true);
    return http::BodyKind::raw;
  }

  bool file_part(const http::ParamLookup& fields) override {
    file_seen_ = true;
    const auto& limits = core_.limits();
    const auto query = query_of(request_, limits.max_relative_path_bytes);
    const http::ParamLookup lookup = [&](std::string_view name) {
      if (auto field = fields(name)) return field;
      return query(name);
    };
    auto parsed = parse_chunk_request(lookup, limits);
    if (const auto* error = std::get_if<ErrorCode>(&parsed)) {
      fail(*error);
      return false;
    }
    chunk_ = std::get<ChunkRequest>(std::move(parsed));
    // A multipart chunk is validated by begin_piece's rules like a raw one (the fields may differ
    // from the query).
    if (auto error = validate(core_, *chunk_)) {
      fail(*error);
      return false;
    }
    if (auto refused = plan()) {
      fail(*refused);
      return false;
    }
    return true;
  }

  http::BodySink& sink() override { return *this; }

  std::span<std::uint8_t> next_buffer() override {
    const std::uint64_t size = chunk_ ? chunk_->current_size : 0;
    const std::uint64_t room = size - std::min(received_, size) + 1;
    std::span<std::uint8_t> buffer;
    if (writer_) {
      buffer = writer_->next_buffer();
    } else {
      if (!discard_) discard_.emplace(core_.lease_buffer());
      buffer = discard_->span();
    }
    return buffer.first(static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), room)));
  }

  bool received(std::size_t length) override {
    received_ += length;
    if (!chunk_ || received_ > chunk_->current_size) {
      fail(ErrorCode::invalid_body);  // one byte more than the chunk can hold is enough to know
      return false;
    }
    if (writer_ && !writer_->received(length)) {
      fail(*writer_->error());
      return false;
    }
    return true;
  }

  void fail(ErrorCode code) override {
    if (!error_) error_ = code;
  }

  std::optional<http::Reply> finish(http::BodyEnd end) override {
    if (end == http::BodyEnd::too_slow) return error_reply(ErrorCode::body_too_slow, true);  // the writer gives back the piece
    if (error_) return error_reply(*error_, true);
    if (end == http::BodyEnd::connection_lost) return std::nullopt;  // nothing to answer; nothing is recorded
    if (end == http::BodyEnd::malformed) return error_reply(ErrorCode::invalid_body, true);
    if (multipart_) {
      // CivetWeb gives up on a multipart body cut short before its file part: that is an incomplete
      // body a retry can fix, not a malformed one.
      if (!file_seen_ && end != http::BodyEnd::cut_short) return error_reply(ErrorCode::invalid_body, true);
      if (end == http::BodyEnd::cut_short || !chunk_ || received_ != chunk_->current_size) {
        return error_reply(ErrorCode::incomplete_body, true);  // nothing is recorded
      }
    }
    if (writer_) return reply_for(writer_->finish(), *chunk_);
    if (received_ != chunk_->current_size) return error_reply(ErrorCode::incomplete_body, true);
    // After a duplicate, finishing an upload whose release failed earlier (e.g. a full disk) is retried.
    if (duplicate_) {
      if (auto finished = core_.resume_finalization(principal_, chunk_->identifier)) return reply_for(*finished, *chunk_);
    }
    return reply_for(*answer_, *chunk_);
  }

 private:
  // Asks the core what to do with the chunk; the error that refuses it, if any.
  std::optional<ErrorCode> plan() {
    PieceStart start = core_.begin_piece(principal_, to_piece(*chunk_));
    if (auto* writer = std::get_if<PieceWriter>(&start)) {
      writer_.emplace(std::move(*writer));
      return std::nullopt;
    }
    if (auto* error = std::get_if<ErrorCode>(&start)) return *error;
    if (auto* stored = std::get_if<PieceStored>(&start)) {
      answer_ = *stored;
      duplicate_ = true;
    } else {
      answer_ = std::get<FinalResult>(start);
    }
    return std::nullopt;
  }

  UploadCore& core_;
  const http::RequestView& request_;
  std::string principal_;
  bool multipart_ = false;
  bool file_seen_ = false;
  std::optional<ChunkRequest> chunk_;
  std::optional<PieceWriter> writer_;
  std::optional<PieceOutcome> answer_;  // for duplicates and finished uploads
  bool duplicate_ = false;
  std::optional<BufferLease> discard_;  // receives a body that is read but not stored
  std::uint64_t received_ = 0;
  std::optional<ErrorCode> error_;
};

}  // namespace

ResumableFrontEnd::~ResumableFrontEnd() = default;

std::shared_ptr<void> ResumableFrontEnd::streamed_reply_slot() {
  std::unique_lock lock(slots_mutex_);
  const auto limit = core_.limits().max_streamed_replies;
  if (!slot_freed_.wait_for(lock, core_.limits().chunk_wait, [&] { return streaming_ < limit; })) return nullptr;
  ++streaming_;
  return std::shared_ptr<void>(static_cast<void*>(this), [this](void*) {  // deletes nothing
    {
      std::lock_guard guard(slots_mutex_);
      --streaming_;
    }
    slot_freed_.notify_one();
  });
}

std::optional<std::string> ResumableFrontEnd::allowed_methods(std::string_view path) const {
  if (path.empty()) return "GET, POST, PUT, DELETE";
  if (path == "/status") return "GET";
  return std::nullopt;
}

http::Reply ResumableFrontEnd::error_reply(ErrorCode code, bool close) const { return resumablejs::error_reply(code, close); }

http::MultipartRules ResumableFrontEnd::multipart_rules() const {
  return {"file", 32, core_.limits().max_relative_path_bytes};
}

std::unique_ptr<http::Exchange> ResumableFrontEnd::exchange(const http::RequestView& request, const std::string& principal) {
  const auto& limits = core_.limits();
  const auto query = query_of(request, limits.max_relative_path_bytes);
  const std::string_view method = request.method();
  if (request.path() == "/status") {
    const auto identifier = parse_identifier(query, limits);
    if (const auto* error = std::get_if<ErrorCode>(&identifier)) {
      return std::make_unique<ImmediateExchange>(resumablejs::error_reply(*error));
    }
    const std::string id = std::get<std::string>(identifier);
    auto outcome = core_.status(principal, id, 0, status_page_pieces);
    if (const auto* error = std::get_if<ErrorCode>(&outcome)) {
      return std::make_unique<ImmediateExchange>(resumablejs::error_reply(*error));
    }
    if (auto* state = std::get_if<UploadState>(&outcome)) {
      const auto body = to_json(*state);  // an upload another protocol made is not ours to describe
      if (!body) return std::make_unique<ImmediateExchange>(resumablejs::error_reply(ErrorCode::upload_not_found));
      if (!state->more) return std::make_unique<ImmediateExchange>(json_reply(200, *body));
      // Many chunks: the document is written a page at a time (memory per reply stays small), by a
      // bounded number of threads at once (a client that never reads holds one).
      auto slot = streamed_reply_slot();
      if (!slot) return std::make_unique<ImmediateExchange>(resumablejs::error_reply(ErrorCode::server_busy));
      return std::make_unique<ImmediateExchange>(streamed_status(
          std::move(*state), [this, principal, id, slot](std::uint64_t after) -> std::optional<UploadState> {
            auto page = core_.status(principal, id, after, status_page_pieces);
            if (auto* next = std::get_if<UploadState>(&page)) return std::move(*next);
            return std::nullopt;
          }));
    }
    return std::make_unique<ImmediateExchange>(json_reply(200, to_json(std::get<FinalResult>(outcome))));
  }
  if (method == "DELETE") {
    const auto identifier = parse_identifier(query, limits);
    if (const auto* error = std::get_if<ErrorCode>(&identifier)) {
      return std::make_unique<ImmediateExchange>(resumablejs::error_reply(*error));
    }
    core_.cancel(principal, std::get<std::string>(identifier));
    return std::make_unique<ImmediateExchange>(no_content());
  }
  if (method == "GET") {
    auto parsed = parse_chunk_request(query, limits);
    if (const auto* error = std::get_if<ErrorCode>(&parsed)) {
      return std::make_unique<ImmediateExchange>(resumablejs::error_reply(*error));
    }
    const auto& chunk = std::get<ChunkRequest>(parsed);
    if (auto error = validate(core_, chunk)) return std::make_unique<ImmediateExchange>(resumablejs::error_reply(*error));
    const auto outcome = core_.find_piece(principal, to_piece(chunk));
    if (const auto* error = std::get_if<ErrorCode>(&outcome)) {
      return std::make_unique<ImmediateExchange>(resumablejs::error_reply(*error));
    }
    if (const auto* presence = std::get_if<PiecePresence>(&outcome)) {
      if (*presence == PiecePresence::absent) return std::make_unique<ImmediateExchange>(no_content());
      return std::make_unique<ImmediateExchange>(json_reply(200, {{"status", "chunk_present"}, {"chunk", chunk.number}}));
    }
    return std::make_unique<ImmediateExchange>(json_reply(200, to_json(std::get<FinalResult>(outcome))));
  }
  return std::make_unique<ChunkExchange>(core_, request, principal);
}

std::vector<UploadSummary> ResumableFrontEnd::list_uploads() {
  auto summaries = core_.list_uploads();
  for (auto& summary : summaries) {
    const auto it = summary.protocol_fields.find(chunk_count_field);
    std::uint64_t count = 0;
    if (it != summary.protocol_fields.end() &&
        std::from_chars(it->second.data(), it->second.data() + it->second.size(), count).ec == std::errc()) {
      summary.expected_pieces = count;
    }
  }
  return summaries;
}

}  // namespace resumable::resumablejs
