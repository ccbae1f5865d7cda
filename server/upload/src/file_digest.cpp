// The whole-file BLAKE2b-256: advanced as stored pieces become contiguous (pieces that arrived
// ahead of it are read back, where the store can), checkpointed now and then so a restart need not
// start over, compared with a declared file digest, and then the release: exactly once.
#include <algorithm>
#include <vector>

#include "hash_checkpoint.h"
#include "resumable/secure_random.h"
#include "upload_core_impl.h"

namespace resumable {

namespace {

// How long the request that delivered the last piece waits for the whole-file hash and release, so
// that it can answer with the final result (resumable.js and flow.js hand that body to the page).
constexpr std::chrono::seconds finalize_wait{120};

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// True when present pieces tile [0, end) exactly.
bool contiguous_from_start(const Upload& upload, std::uint64_t end) {
  std::uint64_t at = 0;
  while (at < end) {
    const auto it = upload.pieces.find(at);
    if (it == upload.pieces.end() || it->second.state != PieceState::present || it->second.size == 0) return false;
    at += it->second.size;
  }
  return at == end;
}

}  // namespace

void UploadCore::Impl::load_file_hash(Upload& upload) {
  upload.hash_loaded = true;
  upload.file_hash.reset();
  upload.hashed_bytes = 0;
  upload.checkpointed_bytes = 0;
  HashCheckpoints* checkpoints = upload.data->hash_checkpoints();
  if (checkpoints == nullptr) return;
  const auto blob = checkpoints->load_hash_checkpoint();
  if (!blob) return;
  auto checkpoint = decode_hash_checkpoint(*blob);
  if (!checkpoint || !contiguous_from_start(upload, checkpoint->hashed_bytes)) return;
  upload.file_hash = checkpoint->state;
  upload.hashed_bytes = checkpoint->hashed_bytes;
  upload.checkpointed_bytes = checkpoint->hashed_bytes;
}

std::optional<PieceOutcome> UploadCore::Impl::advance_file_hash(const std::shared_ptr<Upload>& upload,
                                                                OrderedReader& reader, bool holds_file_hash) {
  std::unique_lock lock(upload->mutex);
  if (holds_file_hash) {
    if (upload->final || upload->removed) {
      upload->hashing = false;
      upload->changed.notify_all();
      return std::nullopt;
    }
  } else {
    if (upload->hashing || upload->final || upload->removed) return std::nullopt;
    upload->hashing = true;
  }
  if (!upload->hash_loaded) load_file_hash(*upload);
  ReadBack* source = upload->data->read_back();
  HashCheckpoints* checkpoints = upload->data->hash_checkpoints();
  // Without read-back every piece must be hashed as it streams, and a restart can resume only from
  // a checkpoint: keep one after every piece.
  const std::uint64_t checkpoint_interval = source != nullptr ? limits.hash_progress_interval_bytes : 0;
  bool saved = !holds_file_hash;  // an inline-hashing writer has advanced the hash unsaved
  for (;;) {
    if (upload->fully_received() && upload->hashed_bytes == *upload->manifest.total_size) {
      lock.unlock();
      return release(upload, upload->file_hash.peek(), reader);
    }
    const Piece* next = upload->next_to_hash();
    if (next == nullptr || upload->removed || source == nullptr) {
      const std::uint64_t unsaved = upload->hashed_bytes - std::min(upload->checkpointed_bytes, upload->hashed_bytes);
      if (!saved && !upload->removed && checkpoints != nullptr && unsaved >= checkpoint_interval) {
        // Saved under `hashing`, so that no two threads write the checkpoint at once (and never
        // into an upload that is being removed). Not after every piece by default: a file
        // creation and a rename per piece cost more than re-reading a few after a restart.
        const std::uint64_t hashed = upload->hashed_bytes;
        const auto blob = encode_hash_checkpoint(hashed, upload->file_hash);
        lock.unlock();
        checkpoints->save_hash_checkpoint(blob);
        upload->checkpointed_bytes = hashed;
        saved = true;
        lock.lock();
        continue;  // a piece may have arrived meanwhile
      }
      upload->hashing = false;
      upload->changed.notify_all();
      return std::nullopt;
    }
    const std::uint64_t offset = upload->hashed_bytes;
    const std::uint64_t size = next->size;
    const core::Digest recorded = next->digest;
    const core::Blake2b256 before = upload->file_hash;
    // Bytes read back must not put what a store lost or changed (a flipped bit, a truncated file)
    // into a release. With a declared file digest the release compares the whole file and then
    // finds the damaged piece (recheck_pieces): one hash pass here, as for bytes in order. Without
    // one, each piece is checked now against the digest recorded when it arrived.
    const bool check_piece = !upload->manifest.declared_file_digest;
    lock.unlock();
    core::Blake2b256 piece_hash;
    const StorageStatus status = reader.read(*source, offset, size, [&](auto part) {
      upload->file_hash.update(part.data(), part.size());
      if (check_piece) piece_hash.update(part.data(), part.size());
    });
    const bool intact = status && (!check_piece || core::digests_equal(piece_hash.finish(), recorded));
    lock.lock();
    if (!intact) {
      drop_damaged_piece(*upload, offset, before, status);
      return std::nullopt;
    }
    upload->hashed_bytes = offset + size;
    saved = false;
  }
}

void UploadCore::Impl::drop_damaged_piece(Upload& upload, std::uint64_t offset, const core::Blake2b256& hash_before,
                                          const StorageStatus& read) {
  log("upload " + upload.manifest.upload_id + ": the piece at " + std::to_string(offset) + " " +
      (read ? std::string("differs from its recorded digest") : "cannot be read back: " + read.detail) +
      "; it is asked for again");
  upload.file_hash = hash_before;
  upload.hashed_bytes = offset;
  upload.checkpointed_bytes = std::min(upload.checkpointed_bytes, offset);
  if (auto it = upload.pieces.find(offset); it != upload.pieces.end() && it->second.state == PieceState::present) {
    --upload.stored_pieces;
    upload.stored_bytes -= it->second.size;
    upload.pieces.erase(it);
  }
  upload.hashing = false;
  upload.changed.notify_all();
}

std::optional<core::Digest> UploadCore::Impl::recheck_pieces(const std::shared_ptr<Upload>& upload, ReadBack& source,
                                                             OrderedReader& reader) {
  std::vector<std::pair<std::uint64_t, Piece>> pieces;
  {
    std::lock_guard lock(upload->mutex);
    for (const auto& [offset, piece] : upload->pieces) {
      if (piece.state == PieceState::present) pieces.emplace_back(offset, piece);
    }
  }
  core::Blake2b256 file_hash;
  for (const auto& [offset, piece] : pieces) {
    const core::Blake2b256 before = file_hash;
    core::Blake2b256 piece_hash;
    const StorageStatus status = reader.read(source, offset, piece.size, [&](auto part) {
      file_hash.update(part.data(), part.size());
      piece_hash.update(part.data(), part.size());
    });
    if (!status || !core::digests_equal(piece_hash.finish(), piece.digest)) {
      std::lock_guard lock(upload->mutex);
      drop_damaged_piece(*upload, offset, before, status);
      return std::nullopt;
    }
  }
  return file_hash.finish();
}

std::optional<PieceOutcome> UploadCore::Impl::release(const std::shared_ptr<Upload>& upload,
                                                      const core::Digest& hashed_digest, OrderedReader& reader) {
  // Called by the thread that holds `hashing`, without the upload lock.
  core::Digest digest = hashed_digest;
  UploadManifest m;  // a late file digest declaration may change it meanwhile
  {
    std::lock_guard lock(upload->mutex);
    m = upload->manifest;
  }
  auto give_up = [&](ErrorCode code) -> PieceOutcome {
    std::lock_guard lock(upload->mutex);
    upload->hashing = false;
    upload->changed.notify_all();
    return code;
  };
  if (m.declared_file_digest && !core::digests_equal(*m.declared_file_digest, digest)) {
    // Before discarding anything, read the bytes back where the store can: a piece the store lost
    // or changed is asked for again instead, and a stale checkpoint is recomputed.
    if (ReadBack* source = upload->data->read_back()) {
      const auto recheck = recheck_pieces(upload, *source, reader);
      if (!recheck) return std::nullopt;  // a damaged piece was dropped: the upload is partial again
      digest = *recheck;
    }
    if (!core::digests_equal(*m.declared_file_digest, digest)) {
      log("upload " + m.upload_id + " discarded: file digest differs from the declared one");
      {
        std::lock_guard lock(upload->mutex);
        upload->removed = true;
        upload->hashing = false;
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
      upload->hashing = false;
      upload->changed.notify_all();
      return ErrorCode::upload_not_found;
    }
  }
  if (const StorageStatus status = upload->data->release(final); !status) {
    log("releasing upload " + m.upload_id + " failed: " + status.detail);
    return give_up(storage_error(status));
  }
  {
    std::lock_guard lock(upload->mutex);
    upload->final = final;  // also when cancelled meanwhile: cancel() then deletes the released file
    upload->hashing = false;
    upload->last_activity = Clock::now();
    upload->changed.notify_all();
    if (upload->removed) return ErrorCode::upload_not_found;
  }
  index.finished(upload, final.token);
  if (hooks.on_complete) {
    hooks.on_complete(CompletedUpload{m.principal, m.identifier, m.file_name, *m.total_size, digest, final.token,
                                      final.location});
  }
  return final_result(*upload);
}

std::optional<PieceOutcome> UploadCore::Impl::finish_received(const std::shared_ptr<Upload>& upload) {
  {
    std::unique_lock lock(upload->mutex);
    if (upload->removed || !upload->fully_received()) return std::nullopt;
    upload->changed.wait_for(lock, finalize_wait, [&] { return upload->final || upload->removed || !upload->hashing; });
    if (upload->final) return final_result(*upload);
    if (upload->removed || upload->hashing) return std::nullopt;
  }
  auto ring = make_ring();
  OrderedReader reader(*ring);
  return advance_file_hash(upload, reader);
}

PieceOutcome UploadCore::Impl::piece_stored(const std::shared_ptr<Upload>& upload, const PieceRecord& piece,
                                            OrderedReader& reader, bool holds_file_hash) {
  PieceStored stored;
  bool complete = false;
  {
    std::lock_guard lock(upload->mutex);
    --upload->active_writers;
    if (upload->removed) {
      if (holds_file_hash) upload->hashing = false;
      upload->changed.notify_all();
      return ErrorCode::upload_not_found;
    }
    if (holds_file_hash) upload->hashed_bytes = piece.offset + piece.size;
    Piece& entry = upload->pieces[piece.offset];
    entry.state = PieceState::present;
    entry.digest = piece.digest;
    ++upload->stored_pieces;
    upload->stored_bytes += piece.size;
    upload->last_activity = Clock::now();
    stored = {piece.offset, piece.size, upload->stored_pieces, upload->stored_bytes, false};
    complete = upload->fully_received();
    // A second piece: the client uploads this file again, it was no late request of a cancel.
    if (upload->provisional && upload->stored_pieces >= 2) index.promote(upload);
    upload->changed.notify_all();
  }
  if (auto outcome = advance_file_hash(upload, reader, holds_file_hash)) return *outcome;
  if (!complete) return stored;

  // This request delivered the last missing piece while another thread is still hashing: wait for
  // its release, so this reply carries the final result too.
  std::unique_lock lock(upload->mutex);
  upload->changed.wait_for(lock, finalize_wait, [&] { return upload->final || upload->removed || !upload->hashing; });
  if (upload->final) return final_result(*upload);
  if (!upload->hashing && !upload->removed) {
    lock.unlock();
    if (auto outcome = advance_file_hash(upload, reader)) return *outcome;
  }
  return stored;
}

}  // namespace resumable
