// Read-only questions about uploads: one upload's state (for resuming in one request), whether one
// piece is stored (resumable.js test requests), and the list an admin view shows.
#include <algorithm>

#include "upload_core_impl.h"

namespace resumable {

PieceQuery UploadCore::find_piece(const std::string& principal, const PieceRequest& request) {
  Impl& core = *impl_;
  if (auto error = check_declaration(request.upload)) return *error;
  if (auto error = core.sync({principal, request.upload.identifier})) return *error;
  const auto upload = core.index.find({principal, request.upload.identifier});
  if (!upload) return PiecePresence::absent;
  {
    std::lock_guard lock(upload->mutex);
    if (upload->removed) return PiecePresence::absent;
    if (auto error = core.check_matches(*upload, request.upload)) return *error;
  }
  if (auto finished = core.finish_received(upload)) {
    if (auto* final = std::get_if<FinalResult>(&*finished)) return *final;
    if (auto* error = std::get_if<ErrorCode>(&*finished)) return *error;
  }
  std::lock_guard lock(upload->mutex);
  if (upload->removed) return PiecePresence::absent;
  if (upload->final) return core.final_result(*upload);
  const auto it = upload->pieces.find(request.offset);
  if (it == upload->pieces.end() || it->second.state != PieceState::present || it->second.size != request.size) {
    return PiecePresence::absent;
  }
  if (request.digest && !core::digests_equal(*request.digest, it->second.digest)) return PiecePresence::absent;
  return PiecePresence::present;
}

StatusOutcome UploadCore::status(const std::string& principal, const std::string& identifier, std::uint64_t from_offset,
                                 std::size_t max_pieces) {
  Impl& core = *impl_;
  if (auto error = core.sync({principal, identifier})) return *error;  // pieces other instances stored
  const auto upload = core.index.find({principal, identifier});
  if (!upload) return ErrorCode::upload_not_found;
  if (auto finished = core.finish_received(upload)) {
    if (auto* final = std::get_if<FinalResult>(&*finished)) return *final;
    if (auto* error = std::get_if<ErrorCode>(&*finished)) return *error;
  }
  std::lock_guard lock(upload->mutex);
  if (upload->removed) return ErrorCode::upload_not_found;
  if (upload->final) return core.final_result(*upload);
  UploadState state;
  state.identifier = upload->manifest.identifier;
  state.file_name = upload->manifest.file_name;
  state.total_size = upload->manifest.total_size;
  state.protocol_fields = upload->manifest.protocol_fields;
  state.declared_file_digest = upload->manifest.declared_file_digest;
  state.stored_bytes = upload->stored_bytes;
  state.stored_pieces = upload->stored_pieces;
  state.last_activity = upload->last_activity;
  state.partial = upload->manifest.partial;
  state.awaiting_concatenation = upload->manifest.partial && upload->fully_received();
  // Stored pieces tile [0, frontier.offset); walk on from there. Only for the first window: under
  // the upload's lock, once per page, the walk over 50,000 small pieces made every page of a
  // streamed status document cost the whole upload's length (reliability.attacks' status test).
  std::uint64_t contiguous = upload->frontier.offset;
  for (auto it = upload->pieces.find(contiguous); from_offset == 0 && it != upload->pieces.end() &&
                                                  it->first == contiguous && it->second.state == PieceState::present &&
                                                  it->second.size > 0;
       it = upload->pieces.find(contiguous)) {
    contiguous += it->second.size;
  }
  state.contiguous_bytes = contiguous;
  state.pieces.reserve(std::min<std::uint64_t>(upload->stored_pieces, max_pieces));
  for (auto it = upload->pieces.lower_bound(from_offset); it != upload->pieces.end(); ++it) {
    if (it->second.state != PieceState::present) continue;
    if (state.pieces.size() == max_pieces) {
      state.more = true;
      break;
    }
    state.pieces.push_back({it->first, it->second.size, it->second.digest});
  }
  return state;
}

std::vector<UploadSummary> UploadCore::list_uploads() {
  std::vector<UploadSummary> summaries;
  for (const auto& upload : impl_->index.all()) {
    std::lock_guard lock(upload->mutex);
    if (upload->removed) continue;
    UploadSummary summary;
    summary.principal = upload->manifest.principal;
    summary.identifier = upload->manifest.identifier;
    summary.file_name = upload->manifest.file_name;
    summary.total_size = upload->manifest.total_size;
    summary.received_bytes = upload->stored_bytes;
    summary.received_pieces = upload->stored_pieces;
    summary.complete = upload->final.has_value();
    summary.last_activity = upload->last_activity;
    summary.protocol_fields = upload->manifest.protocol_fields;
    summaries.push_back(std::move(summary));
  }
  return summaries;
}

}  // namespace resumable
