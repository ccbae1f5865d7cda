// The file digest and the release. The digest frontier passes stored pieces in file order and folds
// their recorded leaf digests into the file digest, so every byte is hashed once, while it streams
// in; bytes are read back only where a leaf spans two pieces that arrived out of order (chunk sizes
// that are not multiples of 1 MiB), for pieces a non-durable store recorded before a restart, and to
// find a damaged piece when the file differs from its declared digest. Then the release: exactly once.
#include <algorithm>
#include <vector>

#include "resumable/secure_random.h"
#include "upload_core_impl.h"

namespace resumable {

namespace {

using core::leaf_bytes;

// How long the request that delivered the last piece waits for the release, so that it can answer
// with the final result (resumable.js and flow.js hand that body to the page).
constexpr std::chrono::seconds finalize_wait{120};

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::uint64_t round_up(std::uint64_t offset) { return (offset + leaf_bytes - 1) / leaf_bytes * leaf_bytes; }

// What passing one piece takes, decided from what it recorded (with the upload locked).
struct PassPlan {
  bool whole = false;           // read the whole piece back, hash it again and check its chunk digest
  std::uint64_t head_end = 0;   // > offset: read [offset, head_end) into the frontier's leaf first
  std::optional<std::uint64_t> tail_start;  // rebuild the leaf it ends inside of from [tail_start, end)
};

// `declared`: a file digest is declared, so bytes read back are checked by the release's comparison
// (and a mismatch makes it look for a damaged piece); otherwise a piece read back is checked whole.
PassPlan plan_pass(const Piece& piece, std::uint64_t offset, std::optional<std::uint64_t> total, bool declared) {
  PassPlan plan;
  const std::uint64_t end = offset + piece.size;
  const bool starts_inside = offset % leaf_bytes != 0;
  const bool ends_inside = end % leaf_bytes != 0 && !(total && end == *total);
  // Leaves with an index below this end by `end` (the file's last leaf ends at the file's end).
  const std::uint64_t leaves_end = total && end == *total ? core::leaf_count(end) : end / leaf_bytes;
  const std::uint64_t first_own = round_up(offset) / leaf_bytes;
  const std::uint64_t count = piece.leaves.size();
  // The shapes this build's writers leave: leaves from the first boundary on, or, continuing the
  // frontier, from the leaf it started inside of. Anything else (a size declared after the piece
  // was written, say) is hashed again from its bytes.
  const bool own_shape = !piece.continued && piece.first_leaf == first_own && first_own + count == std::max(first_own, leaves_end);
  const bool continued_shape = piece.continued && starts_inside && piece.first_leaf == offset / leaf_bytes &&
                               piece.first_leaf + count == std::max(piece.first_leaf, leaves_end) &&
                               (count > 0 || piece.tail);
  if (!piece.trusted || !(own_shape || continued_shape)) {
    plan.whole = true;
    return plan;
  }
  if (starts_inside && !continued_shape) plan.head_end = std::min(round_up(offset), end);
  const std::uint64_t end_leaf_start = end / leaf_bytes * leaf_bytes;
  // Without its tail state (lost in a restart) the leaf it ends inside of is hashed again from that
  // leaf's start, unless the head read covers the whole piece anyway.
  if (ends_inside && !piece.tail && end_leaf_start >= offset) plan.tail_start = end_leaf_start;
  if (!declared && (plan.head_end > offset || plan.tail_start)) plan.whole = true;
  return plan;
}

}  // namespace

bool UploadCore::Impl::passes_without_reading(const Piece& piece, std::uint64_t offset,
                                              std::optional<std::uint64_t> total) {
  const PassPlan plan = plan_pass(piece, offset, total, true);
  return !plan.whole && plan.head_end <= offset && !plan.tail_start;
}

void UploadCore::Impl::drop_damaged_piece(Upload& upload, std::uint64_t offset, const StorageStatus& read,
                                          DigestFrontier* rewind) {
  log("upload " + upload.manifest.upload_id + ": the piece at " + std::to_string(offset) + " " +
      (read ? std::string("differs from its recorded digest") : "cannot be read back: " + read.detail) +
      "; it is asked for again");
  if (rewind != nullptr) {
    // Found behind the frontier (recheck_pieces): the pieces after it are passed again from their bytes.
    upload.frontier = std::move(*rewind);
    for (auto it = upload.pieces.upper_bound(offset); it != upload.pieces.end(); ++it) it->second.trusted = false;
  }
  if (auto it = upload.pieces.find(offset); it != upload.pieces.end() && it->second.state == PieceState::present) {
    --upload.stored_pieces;
    upload.stored_bytes -= it->second.size;
    upload.pieces.erase(it);
  }
  upload.advancing = false;
  upload.changed.notify_all();
}

std::optional<PieceOutcome> UploadCore::Impl::advance_frontier(const std::shared_ptr<Upload>& upload,
                                                               OrderedReader& reader, bool holds_frontier) {
  std::unique_lock lock(upload->mutex);
  if (holds_frontier) {
    if (upload->final || upload->removed) {
      upload->advancing = false;
      upload->changed.notify_all();
      return std::nullopt;
    }
  } else {
    if (upload->advancing || upload->final || upload->removed) return std::nullopt;
    upload->advancing = true;
  }
  ReadBack* source = upload->data->read_back();
  DigestFrontier& frontier = upload->frontier;
  for (;;) {
    // A size pinned after the last piece was passed (declare_size): the leaf the frontier ended
    // inside of is the file's last one.
    if (upload->manifest.total_size && frontier.offset == *upload->manifest.total_size && frontier.partial) {
      frontier.partial->finish([&frontier](const core::Leaf& leaf) { frontier.fold(leaf.digest); });
      frontier.partial.reset();
    }
    if (upload->fully_received() && upload->all_leaves_folded()) {
      if (upload->manifest.partial) {
        // A partial upload is never released on its own: passed, with its leaves kept, it waits
        // for concatenate().
        upload->advancing = false;
        upload->changed.notify_all();
        return PieceStored{0, *upload->manifest.total_size, upload->stored_pieces, upload->stored_bytes, false};
      }
      const auto digest = frontier.file_digest(*upload->manifest.total_size);
      lock.unlock();
      if (!digest) return give_up_advancing(upload, ErrorCode::internal_error);  // a bug: leaves do not add up
      return release(upload, *digest, reader);
    }
    Piece* next = upload->removed ? nullptr : upload->next_to_pass();
    if (next == nullptr) {
      upload->advancing = false;
      upload->changed.notify_all();
      return std::nullopt;
    }
    const std::uint64_t offset = frontier.offset;
    const std::optional<std::uint64_t> total = upload->manifest.total_size;
    const PassPlan plan = plan_pass(*next, offset, total, upload->manifest.declared_file_digest.has_value());
    if ((plan.whole || plan.head_end > offset || plan.tail_start) && source == nullptr) {
      // Its bytes cannot be hashed again here (a store without read-back, after a restart): it is
      // asked for again, and then written in order against the frontier.
      drop_damaged_piece(*upload, offset, {StorageCode::io_error, "the store cannot read it back"}, nullptr);
      return std::nullopt;
    }
    // The piece's records move out; the frontier holder works on a copy of the frontier, unlocked.
    const std::uint64_t size = next->size;
    const core::Digest recorded = next->digest;
    std::vector<core::Digest> leaves = std::move(next->leaves);
    std::unique_ptr<core::LeafHasher> tail = std::move(next->tail);
    next->leaves.clear();
    DigestFrontier passed = frontier;
    lock.unlock();

    const std::uint64_t end = offset + size;
    const bool ends_file = total && end == *total;
    const auto fold = [&passed](const core::Leaf& leaf) { passed.fold(leaf.digest); };
    std::optional<core::LeafHasher> end_state;  // the frontier's leaf at `end`, when it ends inside one
    StorageStatus status;
    bool intact = true;
    if (plan.whole) {
      PieceHasher hasher(offset, size, total, passed.partial ? &*passed.partial : nullptr);
      status = reader.read(*source, offset, size, [&](auto part) { hasher.update(part); });
      PieceDigests digests = hasher.finish();
      intact = status && core::digests_equal(digests.chunk_digest, recorded);
      leaves = std::move(digests.leaves);
      if (digests.tail) end_state = *digests.tail;
    } else {
      if (plan.head_end > offset) {
        // The leaf the frontier stands inside of goes on with the piece's head.
        if (!passed.partial) {
          status = {StorageCode::io_error, "the digest frontier lost its leaf state"};  // a bug; never a crash
        } else {
          status = reader.read(*source, offset, plan.head_end - offset, [&](auto part) { passed.partial->update(part, fold); });
        }
        if (status && plan.head_end == end && ends_file) passed.partial->finish(fold);
        if (status && plan.head_end == end && !ends_file) end_state = passed.partial;
      }
      if (status && plan.tail_start) {
        auto rebuilt = core::LeafHasher::starting_at(*plan.tail_start);
        status = reader.read(*source, *plan.tail_start, end - *plan.tail_start, [&](auto part) {
          rebuilt->update(part, [](const core::Leaf&) {});
        });
        end_state = rebuilt;
      } else if (tail) {
        end_state = *tail;
      }
      intact = static_cast<bool>(status);
    }
    if (intact) {
      for (const auto& leaf : leaves) passed.fold(leaf);
      passed.offset = end;
      passed.partial = end_state;
    }

    lock.lock();
    if (!intact) {
      drop_damaged_piece(*upload, offset, status, nullptr);
      return std::nullopt;
    }
    upload->kept_leaves.insert(upload->kept_leaves.end(), passed.recent.begin(), passed.recent.end());
    passed.recent.clear();
    frontier = std::move(passed);
  }
}

std::optional<core::Digest> UploadCore::Impl::recheck_pieces(const std::shared_ptr<Upload>& upload, ReadBack& source,
                                                             OrderedReader& reader) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> pieces;  // offset, size
  std::vector<core::Digest> digests;
  std::optional<std::uint64_t> total;
  {
    std::lock_guard lock(upload->mutex);
    total = upload->manifest.total_size;
    for (const auto& [offset, piece] : upload->pieces) {
      if (piece.state != PieceState::present) continue;
      pieces.emplace_back(offset, piece.size);
      digests.push_back(piece.digest);
    }
  }
  DigestFrontier again;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const auto [offset, size] = pieces[i];
    PieceHasher hasher(offset, size, total, again.partial ? &*again.partial : nullptr);
    const StorageStatus status = reader.read(source, offset, size, [&](auto part) { hasher.update(part); });
    PieceDigests piece = hasher.finish();
    if (!status || !core::digests_equal(piece.chunk_digest, digests[i])) {
      std::lock_guard lock(upload->mutex);
      drop_damaged_piece(*upload, offset, status, &again);
      return std::nullopt;
    }
    for (const auto& leaf : piece.leaves) again.fold(leaf);
    again.offset = offset + size;
    again.partial.reset();
    if (piece.tail) again.partial = *piece.tail;
  }
  if (!total) return std::nullopt;
  return again.file_digest(*total);
}

PieceOutcome UploadCore::Impl::give_up_advancing(const std::shared_ptr<Upload>& upload, ErrorCode code) {
  std::lock_guard lock(upload->mutex);
  upload->advancing = false;
  upload->changed.notify_all();
  return code;
}

std::optional<PieceOutcome> UploadCore::Impl::release(const std::shared_ptr<Upload>& upload,
                                                      const core::Digest& computed_digest, OrderedReader& reader) {
  // Called by the thread that holds `advancing`, without the upload lock.
  core::Digest digest = computed_digest;
  UploadManifest m;  // a late file digest declaration may change it meanwhile
  {
    std::lock_guard lock(upload->mutex);
    m = upload->manifest;
  }
  if (m.declared_file_digest && !core::digests_equal(*m.declared_file_digest, digest)) {
    // Before discarding anything, read the bytes back where the store can: a piece the store lost
    // or changed is asked for again instead.
    if (ReadBack* source = upload->data->read_back()) {
      const auto recheck = recheck_pieces(upload, *source, reader);
      if (!recheck) {
        // A damaged piece was dropped: the upload is partial again. (Or the size is unknown: a bug.)
        std::lock_guard lock(upload->mutex);
        upload->advancing = false;
        upload->changed.notify_all();
        return std::nullopt;
      }
      digest = *recheck;
    }
    if (!core::digests_equal(*m.declared_file_digest, digest)) {
      log("upload " + m.upload_id + " discarded: file digest differs from the declared one");
      {
        std::lock_guard lock(upload->mutex);
        upload->removed = true;
        upload->advancing = false;
        upload->changed.notify_all();
      }
      forget(upload, false);
      return ErrorCode::file_digest_mismatch;
    }
  }

  FinalRecord final;
  final.token = core::random_hex(32);
  final.file_digest = digest;
  final.completed_unix = unix_seconds(Clock::now());
  {
    std::lock_guard lock(upload->mutex);
    if (upload->removed) {
      upload->advancing = false;
      upload->changed.notify_all();
      return ErrorCode::upload_not_found;
    }
  }
  const std::string token = final.token;
  if (const StorageStatus status = upload->data->release(final); !status) {
    log("releasing upload " + m.upload_id + " failed: " + status.detail);
    if (status.code == StorageCode::refused) {
      // The store's policy refused the file itself (a firmware image whose signature fails):
      // sending it again cannot help, so it goes, as a file that differs from its digest does.
      {
        std::lock_guard lock(upload->mutex);
        upload->removed = true;
        upload->advancing = false;
        upload->changed.notify_all();
      }
      forget(upload, false);
      return status.refusal;
    }
    return give_up_advancing(upload, storage_error(status));
  }
  // A shared registry kept another instance's final record, recorded first: that one released it.
  const bool released_here = final.token == token;
  {
    std::lock_guard lock(upload->mutex);
    upload->final = final;  // also when cancelled meanwhile: cancel() then deletes the released file
    upload->advancing = false;
    upload->last_activity = Clock::now();
    upload->changed.notify_all();
    if (upload->removed) return ErrorCode::upload_not_found;
  }
  index.finished(upload, final.token);
  if (released_here && hooks.on_complete) {
    hooks.on_complete(CompletedUpload{m.principal, m.identifier, m.file_name, *m.total_size, digest, final.token,
                                      final.location});
  }
  return final_result(*upload);
}

std::optional<PieceOutcome> UploadCore::Impl::finish_received(const std::shared_ptr<Upload>& upload) {
  {
    std::unique_lock lock(upload->mutex);
    if (upload->removed || !upload->fully_received()) return std::nullopt;
    upload->changed.wait_for(lock, finalize_wait, [&] { return upload->final || upload->removed || !upload->advancing; });
    if (upload->final) return final_result(*upload);
    if (upload->removed || upload->advancing) return std::nullopt;
  }
  auto ring = make_ring();
  OrderedReader reader(*ring);
  return advance_frontier(upload, reader);
}

PieceOutcome UploadCore::Impl::piece_stored(const std::shared_ptr<Upload>& upload, const PieceRecord& piece,
                                            std::unique_ptr<core::LeafHasher> tail, OrderedReader& reader,
                                            bool holds_frontier) {
  PieceStored stored;
  bool complete = false;
  // With a shared registry, the pieces other instances stored meanwhile count too: of two instances
  // that store an upload's last pieces at once, the later to record sees the other's record, so at
  // least one of them releases (and the registry lets only one of those record its release). A
  // registry that cannot be asked now leaves it to the next request (status, a retry).
  refresh(upload);
  {
    std::lock_guard lock(upload->mutex);
    --upload->active_writers;
    if (upload->removed) {
      if (holds_frontier) upload->advancing = false;
      upload->changed.notify_all();
      return ErrorCode::upload_not_found;
    }
    Piece& entry = upload->pieces[piece.offset];
    entry.state = PieceState::present;
    entry.digest = piece.digest;
    entry.first_leaf = piece.first_leaf;
    entry.leaves = piece.leaves;
    entry.tail = std::move(tail);
    entry.trusted = true;
    ++upload->stored_pieces;
    upload->stored_bytes += piece.size;
    upload->last_activity = Clock::now();
    stored = {piece.offset, piece.size, upload->stored_pieces, upload->stored_bytes, false};
    complete = upload->fully_received();
    // A second piece: the client uploads this file again, it was no late request of a cancel.
    if (upload->provisional && upload->stored_pieces >= 2) index.promote(upload);
    upload->changed.notify_all();
  }
  if (auto outcome = advance_frontier(upload, reader, holds_frontier)) return *outcome;
  if (!complete) return stored;

  // This request delivered the last missing piece while another thread is still advancing: wait
  // for its release, so this reply carries the final result too.
  std::unique_lock lock(upload->mutex);
  upload->changed.wait_for(lock, finalize_wait, [&] { return upload->final || upload->removed || !upload->advancing; });
  if (upload->final) return final_result(*upload);
  if (!upload->advancing && !upload->removed) {
    lock.unlock();
    if (auto outcome = advance_frontier(upload, reader)) return *outcome;
  }
  return stored;
}

}  // namespace resumable
