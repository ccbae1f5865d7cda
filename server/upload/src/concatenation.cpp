// Concatenation (tus Upload-Concat): finished partial uploads joined into a new upload, released as
// any finished upload. Their bytes move through the store's Splice where it has one (the filesystem
// store: copy_file_range), otherwise through read-back and write_at. The final's tree digest comes
// from the partials' kept leaves wherever a partial starts on a leaf boundary of the final file; a
// leaf that runs across a partial's end, and every leaf of a partial that starts inside one, is
// hashed again from bytes read back (docs/protocol.md, "tus").
#include <set>

#include "upload_core_impl.h"

namespace resumable {

namespace {

using core::leaf_bytes;

// The partials of one concatenation, each held (its `advancing` set) until given back or consumed.
class HeldPartials {
 public:
  HeldPartials() = default;
  HeldPartials(const HeldPartials&) = delete;
  HeldPartials& operator=(const HeldPartials&) = delete;
  ~HeldPartials() {
    for (const auto& upload : uploads) {
      std::lock_guard lock(upload->mutex);
      upload->advancing = false;
      upload->changed.notify_all();
    }
  }
  std::vector<std::shared_ptr<Upload>> uploads;
};

}  // namespace

std::variant<ErrorCode, FinalResult> UploadCore::concatenate(const std::string& principal, UploadDeclaration declared,
                                                             const std::vector<std::string>& partials) {
  Impl& core = *impl_;
  if (partials.empty() || std::set<std::string>(partials.begin(), partials.end()).size() != partials.size()) {
    return ErrorCode::invalid_parameter;
  }
  HeldPartials held;
  std::uint64_t total = 0;
  for (const auto& id : partials) {
    if (auto error = core.sync({principal, id})) return *error;  // partials another instance received
    const auto upload = core.index.find({principal, id});
    if (!upload) return ErrorCode::upload_not_found;
    std::unique_lock lock(upload->mutex);
    // Another concatenation (or a frontier pass) may hold it: wait a little, never long, so that two
    // concatenations naming the same partials in another order cannot hold each other up.
    const auto deadline = std::chrono::steady_clock::now() + core.limits.chunk_wait;
    const auto settled = [&] {
      return upload->changed.wait_until(lock, deadline, [&] { return upload->removed || !upload->advancing; });
    };
    if (!settled()) return ErrorCode::chunk_busy;
    if (upload->removed) return ErrorCode::upload_not_found;
    if (!upload->manifest.partial) return ErrorCode::not_a_partial_upload;
    if (!upload->fully_received()) return ErrorCode::partial_upload_unfinished;
    if (!upload->joinable()) {
      // After a restart the frontier has not passed it yet: passing it keeps its leaves.
      lock.unlock();
      core.finish_received(upload);
      lock.lock();
      if (!settled()) return ErrorCode::chunk_busy;
      if (upload->removed) return ErrorCode::upload_not_found;
      if (!upload->joinable()) return ErrorCode::partial_upload_unfinished;  // a damaged piece was dropped
    }
    upload->advancing = true;  // held: not collected, and a cancel waits for the concatenation
    held.uploads.push_back(upload);
    total += *upload->manifest.total_size;  // each at most max_file_size: no overflow
    if (total > core.limits.max_file_size) return ErrorCode::file_too_large;
  }

  declared.total_size = total;
  declared.partial = false;
  if (auto error = check_declaration(declared)) return *error;
  auto created = core.create_indexed(principal, declared, true);  // this thread fills and releases it
  if (auto* error = std::get_if<ErrorCode>(&created)) return *error;
  const auto joined = std::get<std::shared_ptr<Upload>>(created);
  // A failure removes the new upload; the partials stay as they were.
  const auto fail = [&](ErrorCode code, const std::string& why) -> ErrorCode {
    core.log("concatenating into " + joined->manifest.upload_id + " failed: " + why);
    {
      std::lock_guard lock(joined->mutex);
      joined->removed = true;
      joined->advancing = false;
      joined->changed.notify_all();
    }
    core.forget(joined, false);
    return code;
  };

  auto ring = core.make_ring();
  OrderedReader reader(*ring);
  Splice* splice = joined->data->splice();
  core::FileDigestHasher root;
  std::optional<core::LeafHasher> spanning;  // the final's leaf that a partial's end cuts through
  const auto fold = [&root](const core::Leaf& leaf) { root.add_leaf(leaf.digest); };
  std::uint64_t at = 0;
  for (std::size_t i = 0; i < held.uploads.size(); ++i) {
    Upload& part = *held.uploads[i];
    const std::uint64_t size = *part.manifest.total_size;
    ReadBack* source = part.data->read_back();
    if (splice != nullptr) {
      if (auto status = splice->splice_from(*part.data, size, at); !status) return fail(storage_error(status), status.detail);
    } else if (source != nullptr && size > 0) {
      StorageStatus written;
      std::uint64_t to = at;
      const auto read = reader.read(*source, 0, size, [&](std::span<const std::uint8_t> bytes) {
        if (written) written = joined->data->write_at(to, bytes.data(), bytes.size());
        to += bytes.size();
      });
      if (!read || !written) return fail(storage_error(read ? written : read), read ? written.detail : read.detail);
    } else if (size > 0) {
      return fail(ErrorCode::internal_error, "the store can neither splice nor read back");
    }

    if (spanning && spanning->position() % leaf_bytes == 0) spanning.reset();  // it ended on this boundary
    std::uint64_t rehash_from = size;  // of this partial, bytes from here on are hashed again
    if (!spanning) {
      // It starts on a leaf boundary of the final: its whole leaves are the final's.
      const std::uint64_t whole = size / leaf_bytes;
      for (std::uint64_t k = 0; k < whole; ++k) root.add_leaf(part.kept_leaves[k]);
      if (size % leaf_bytes != 0) {
        if (i + 1 == held.uploads.size()) {
          root.add_leaf(part.kept_leaves[whole]);  // its shorter last leaf is the final's last one
        } else {
          spanning = core::LeafHasher::starting_at(at + whole * leaf_bytes);
          rehash_from = whole * leaf_bytes;
        }
      }
    } else {
      rehash_from = 0;
    }
    if (rehash_from < size) {
      if (source == nullptr) return fail(ErrorCode::internal_error, "a leaf spans two partials and the store cannot read back");
      const auto read = reader.read(*source, rehash_from, size - rehash_from,
                                    [&](std::span<const std::uint8_t> bytes) { spanning->update(bytes, fold); });
      if (!read) return fail(storage_error(read), read.detail);
    }
    at += size;
  }
  if (spanning) spanning->finish(fold);
  if (total == 0) core::LeafHasher().finish(fold);  // the empty file's one empty leaf
  const auto digest = root.finish(total);
  if (!digest) return fail(ErrorCode::internal_error, "the leaves do not add up");  // a bug; never a crash

  auto outcome = core.release(joined, *digest, reader);
  if (!outcome) return fail(ErrorCode::internal_error, "the release found a damaged piece");
  if (auto* error = std::get_if<ErrorCode>(&*outcome)) {
    if (*error == ErrorCode::upload_not_found) return *error;  // cancelled meanwhile: cancel() removes it
    return fail(*error, "its release failed");
  }
  // Released (durably): the partials' bytes are the final's now.
  for (const auto& part : held.uploads) {
    {
      std::lock_guard lock(part->mutex);
      part->removed = true;
      part->advancing = false;
      part->changed.notify_all();
    }
    core.forget(part, false);
  }
  held.uploads.clear();
  return std::get<FinalResult>(*outcome);
}

}  // namespace resumable
