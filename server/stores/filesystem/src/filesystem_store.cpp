// The filesystem store (resumable/filesystem_store.h says what lies where).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <list>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "posix_io.h"
#include "record_codec.h"
#include "resumable/filesystem_store.h"
#include "unique_fd.h"

namespace resumable {

namespace fs = std::filesystem;
using posix::errno_status;
using posix::read_small_file;
using posix::sync_directory;
using posix::write_all;
using posix::write_file_atomically;

namespace {

bool is_upload_id(const std::string& id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Direct I/O needs the buffer address, the file offset and the length aligned to the device's
// logical block size; 4096 covers every common device and the page size.
constexpr std::size_t direct_alignment = 4096;

bool direct_aligned(const void* data, std::size_t length, std::uint64_t offset) {
  return reinterpret_cast<std::uintptr_t>(data) % direct_alignment == 0 && length % direct_alignment == 0 &&
         offset % direct_alignment == 0;
}

// A second descriptor of the partial file that bypasses the page cache, or none where the
// filesystem refuses O_DIRECT (e.g. some FUSE and network filesystems).
UniqueFd open_direct(const fs::path& path, bool wanted) {
#ifdef O_DIRECT
  if (!wanted) return UniqueFd();
  return UniqueFd(::open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC));
#else
  // Not Linux: always buffered, as where the filesystem refuses it.
  (void)path;
  (void)wanted;
  return UniqueFd();
#endif
}

// The records of pieces.log in order, up to the first torn or damaged one, and the length of
// that valid prefix.
std::vector<PieceRecord> decode_piece_log(const std::string& contents, std::size_t& valid) {
  std::vector<PieceRecord> pieces;
  const std::span bytes(reinterpret_cast<const std::uint8_t*>(contents.data()), contents.size());
  valid = 0;
  for (std::size_t consumed = 0; valid < bytes.size(); valid += consumed) {
    auto record = decode_piece_record(bytes.subspan(valid), consumed);
    if (!record) break;  // torn or corrupt: everything after it is untrusted
    pieces.push_back(std::move(*record));
  }
  return pieces;
}

// Where a released file goes: a name the store makes from the server-chosen id, never from a client.
fs::path released_path(const fs::path& upload_to, const UploadManifest& manifest) {
  return upload_to / (manifest.upload_id + safe_extension(manifest.file_name));
}

// One upload's open files.
struct UploadFiles {
  UniqueFd data;
  UniqueFd direct;  // the data file again, with O_DIRECT (none where refused)
  UniqueFd log;
};

// The descriptors of the store's uploads, opened when an upload is used and closed, least recently
// used first, once more than `capacity` uploads have them open: an idle upload holds none, so the
// number of uploads on disk never exhausts the process's descriptors. Files in use (a handle is
// held) are never closed under their user. Thread-safe.
class OpenFiles {
 public:
  explicit OpenFiles(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}

  // The files of `owner`, opened by `open` when they are not; nullptr with `status` set if that failed.
  std::shared_ptr<UploadFiles> use(const void* owner, const std::function<StorageStatus(UploadFiles&)>& open,
                                   StorageStatus& status) {
    std::lock_guard lock(mutex_);
    if (auto it = where_.find(owner); it != where_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->second;
    }
    auto files = std::make_shared<UploadFiles>();
    status = open(*files);
    if (!status) return nullptr;
    lru_.emplace_front(owner, files);
    where_[owner] = lru_.begin();
    for (auto victim = std::prev(lru_.end()); lru_.size() > capacity_ && victim != lru_.begin();) {
      auto previous = std::prev(victim);
      if (victim->second.use_count() == 1) {  // only the cache holds it: nobody is using the files
        where_.erase(victim->first);
        lru_.erase(victim);
      }
      victim = previous;
    }
    return files;
  }

  // Closes the files of `owner` (as soon as their last user is done).
  void drop(const void* owner) {
    std::lock_guard lock(mutex_);
    if (auto it = where_.find(owner); it != where_.end()) {
      lru_.erase(it->second);
      where_.erase(it);
    }
  }

  std::size_t open_uploads() {
    std::lock_guard lock(mutex_);
    return lru_.size();
  }

 private:
  std::size_t capacity_;
  std::mutex mutex_;
  std::list<std::pair<const void*, std::shared_ptr<UploadFiles>>> lru_;  // most recently used first
  std::unordered_map<const void*, decltype(lru_)::iterator> where_;
};

class FilesystemUpload final : public StoredUpload, public ReadBack, public Splice {
 public:
  FilesystemUpload(UploadManifest manifest, fs::path dir, fs::path upload_to, bool durable, bool direct_io,
                   bool released, std::shared_ptr<OpenFiles> open_files, std::shared_ptr<UploadRegistry> registry)
      : manifest_(std::move(manifest)),
        dir_(std::move(dir)),
        upload_to_(std::move(upload_to)),
        durable_(durable),
        direct_io_(direct_io),
        open_files_(std::move(open_files)),
        registry_(std::move(registry)) {
    released_ = released;
    direct_usable_ = direct_io;
  }
  ~FilesystemUpload() override { open_files_->drop(this); }
  FilesystemUpload(const FilesystemUpload&) = delete;
  FilesystemUpload& operator=(const FilesystemUpload&) = delete;

  ReadBack* read_back() override { return this; }
  Splice* splice() override { return this; }

  // Whole aligned blocks bypass the page cache: an upload streams through at the device's pace
  // without filling memory with dirty pages (and on VMs without a host page fault per fresh page).
  // Everything else, e.g. the unaligned tail of a file, goes through the page cache; Linux keeps
  // the two coherent.
  StorageStatus write_at(std::uint64_t offset, const void* data, std::size_t length) override {
    StorageStatus status;
    const auto files = this->files(status);
    if (!files) return status;
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    while (length > 0 && files->direct && direct_usable_.load(std::memory_order_relaxed) &&
           direct_aligned(bytes, length, offset)) {
      const ssize_t n = ::pwrite(files->direct.get(), bytes, length, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EINVAL) {
        direct_usable_ = false;  // refused after all (alignment rules of an unusual device)
        break;
      }
      if (n < 0) return errno_status(errno, "write " + (dir_ / "data").string());
      bytes += n;
      length -= static_cast<std::size_t>(n);
      offset += static_cast<std::uint64_t>(n);
    }
    if (length == 0) return StorageStatus::success();
    return write_all(files->data.get(), bytes, length, offset, dir_ / "data");
  }

  // Reads here are rare passes over bytes the digest frontier must hash again (see ReadBack; the
  // caller runs several at once to overlap the device with its hashing). Whole aligned
  // blocks come straight from the device, as they were written; the rest through the page cache,
  // whose pages are dropped right after so that later reads recycle them instead of taking fresh ones.
  StorageStatus read_at(std::uint64_t offset, void* data, std::size_t length) override {
    StorageStatus status;
    const auto files = this->files(status);
    if (!files) return status;
    auto* bytes = static_cast<std::uint8_t*>(data);
    while (length > 0 && files->direct && direct_usable_.load(std::memory_order_relaxed) &&
           direct_aligned(bytes, length, offset)) {
      const ssize_t n = ::pread(files->direct.get(), bytes, length, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EINVAL) {
        direct_usable_ = false;
        break;
      }
      if (n < 0) return errno_status(errno, "read " + (dir_ / "data").string());
      if (n == 0) return {StorageCode::io_error, "unexpected end of " + (dir_ / "data").string()};
      bytes += n;
      length -= static_cast<std::size_t>(n);
      offset += static_cast<std::uint64_t>(n);
    }
    if (length == 0) return StorageStatus::success();
    if (status = posix::read_all(files->data.get(), bytes, length, offset, dir_ / "data"); !status) return status;
    ::posix_fadvise(files->data.get(), static_cast<off_t>(offset), static_cast<off_t>(length), POSIX_FADV_DONTNEED);
    return StorageStatus::success();
  }

  // Concatenation: copy_file_range(2) moves the bytes inside the kernel, never through this
  // process; on filesystems that share blocks between files (btrfs, XFS) it clones them instead of
  // copying (reflink), elsewhere (ext4) it is one in-kernel copy. Where the kernel refuses it
  // between these files, a user-space copy through a 1 MiB buffer.
  StorageStatus splice_from(StoredUpload& source, std::uint64_t length, std::uint64_t at) override {
    auto* from = dynamic_cast<FilesystemUpload*>(&source);
    if (from == nullptr) return {StorageCode::io_error, "splice from another store's upload"};
    StorageStatus status;
    const auto in = from->files(status);
    if (!in) return status;
    const auto out = files(status);
    if (!out) return status;
    loff_t read_at = 0;
    auto write_to = static_cast<loff_t>(at);
    std::vector<std::uint8_t> buffer;  // only for the fallback
    while (length > 0) {
      const std::size_t step = static_cast<std::size_t>(std::min<std::uint64_t>(length, std::uint64_t{1} << 30));
      if (buffer.empty()) {
        const ssize_t n = ::copy_file_range(in->data.get(), &read_at, out->data.get(), &write_to, step, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
          buffer.resize(std::size_t{1} << 20);
          continue;
        }
        if (n < 0) return errno_status(errno, "copy_file_range to " + (dir_ / "data").string());
        if (n == 0) return {StorageCode::io_error, "unexpected end of " + (from->dir_ / "data").string()};
        length -= static_cast<std::uint64_t>(n);
        continue;
      }
      const std::size_t part = std::min(step, buffer.size());
      if (status = posix::read_all(in->data.get(), buffer.data(), part, static_cast<std::uint64_t>(read_at),
                                   from->dir_ / "data");
          !status) {
        return status;
      }
      if (status = write_all(out->data.get(), buffer.data(), part, static_cast<std::uint64_t>(write_to), dir_ / "data");
          !status) {
        return status;
      }
      read_at += static_cast<loff_t>(part);
      write_to += static_cast<loff_t>(part);
      length -= part;
    }
    if (durable_ && ::fdatasync(out->data.get()) != 0) return errno_status(errno, "fdatasync data");
    return StorageStatus::success();
  }

  StorageStatus commit_piece(const PieceRecord& piece) override {
    StorageStatus status;
    const auto files = this->files(status);
    if (!files) return status;
    // The bytes must be durable before the record says they are there.
    if (durable_ && ::fdatasync(files->data.get()) != 0) return errno_status(errno, "fdatasync data");
    if (registry_) return registry_->record_piece(manifest_.upload_id, piece);
    const auto bytes = encode_piece_record(piece);  // one append: a crash tears at most this record
    if (status = posix::append_record(files->log.get(), bytes.data(), bytes.size(), dir_ / "pieces.log"); !status) {
      return status;
    }
    if (durable_ && ::fdatasync(files->log.get()) != 0) return errno_status(errno, "fdatasync pieces.log");
    return StorageStatus::success();
  }

  StorageStatus update_manifest(const UploadManifest& manifest) override {
    if (registry_) {
      if (auto status = registry_->update_manifest(manifest); !status) return status;
      manifest_ = manifest;
      return StorageStatus::success();
    }
    if (auto status = write_file_atomically(dir_ / "manifest.json", encode_manifest(manifest), durable_); !status) {
      return status;
    }
    manifest_ = manifest;
    return StorageStatus::success();
  }

  StorageStatus release(FinalRecord& final) override {
    const fs::path destination = released_path(upload_to_, manifest_);
    if (final.location.empty()) final.location = destination.string();
    if (final.location != destination.string()) return {StorageCode::io_error, "release to a foreign location"};
    if (registry_) {
      // The first final record wins (another instance's, maybe); whoever recorded it, the hand-over
      // is completed here too, so that an instance that died after recording it leaves no file behind.
      if (auto status = registry_->record_final(manifest_.upload_id, final); !status) return status;
      if (final.location != destination.string()) return {StorageCode::corrupt, "final record with a foreign location"};
      return finish_release(destination);
    }
    if (!fs::exists(dir_ / "final.json")) {
      if (auto status = write_file_atomically(dir_ / "final.json", encode_final_record(final), durable_); !status) {
        return status;
      }
    }
    return finish_release(destination);
  }

  // Completes a release whose final record is written: move the data unless it is already there.
  StorageStatus finish_release(const fs::path& destination) {
    const fs::path data = dir_ / "data";
    std::error_code error;
    if (!fs::exists(data, error)) {
      return fs::exists(destination, error) ? StorageStatus::success()
                                            : StorageStatus{StorageCode::not_found, "released data is missing"};
    }
    // Another instance sharing the directories may move the data at the same moment: a data file
    // gone under us, with the released file in place, is a finished hand-over.
    const auto moved_meanwhile = [&] { return errno == ENOENT && fs::exists(destination, error); };
    if (durable_) {
      // Its own descriptor: after a restart the upload is already marked released (its final
      // record exists), and files() serves unreleased uploads only.
      UniqueFd fd(::open(data.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd && moved_meanwhile()) return sync_directory(destination.parent_path(), durable_);
      if (!fd) return errno_status(errno, "open " + data.string());
      if (::fsync(fd.get()) != 0) return errno_status(errno, "fsync data");
    }
    released_ = true;
    open_files_->drop(this);
    if (::rename(data.c_str(), destination.c_str()) != 0) {
      if (moved_meanwhile()) return sync_directory(destination.parent_path(), durable_);
      if (errno != EXDEV) return errno_status(errno, "rename to " + destination.string());
      // Different filesystems: copy (O(size)), then drop the partial file. docs/embedding.md says why
      // chunk_dir and upload_to belong on one filesystem.
      if (auto status = posix::copy_file_durably(data, destination, durable_); !status) return status;
      ::unlink(data.c_str());
    }
    return sync_directory(destination.parent_path(), durable_);
  }

  std::vector<PieceRecord> recorded_pieces() const {
    const auto contents = read_small_file(dir_ / "pieces.log");
    if (!contents) return {};
    std::size_t valid = 0;
    return decode_piece_log(*contents, valid);
  }

  // A torn record at the end of pieces.log (its append cut by a power loss: zeros or part of it)
  // is cut off before anything is appended; otherwise every record appended after it would be
  // ignored at the next start, and chunks acknowledged meanwhile lost. Its own descriptor: the
  // upload's files are opened on use (OpenFiles), and this runs once, at open. `keep_records`
  // false cuts every record (records of an older digest algorithm).
  StorageStatus drop_torn_tail(bool keep_records = true) const {
    const fs::path path = dir_ / "pieces.log";
    const auto contents = read_small_file(path);
    if (!contents) return StorageStatus::success();
    std::size_t valid = 0;
    if (keep_records) decode_piece_log(*contents, valid);
    if (valid == contents->size()) return StorageStatus::success();
    UniqueFd log(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!log) return errno_status(errno, "open pieces.log");
    if (::ftruncate(log.get(), static_cast<off_t>(valid)) != 0) return errno_status(errno, "truncate pieces.log");
    if (durable_ && ::fdatasync(log.get()) != 0) return errno_status(errno, "fdatasync pieces.log");
    return StorageStatus::success();
  }

  std::chrono::system_clock::time_point last_activity() const {
    struct stat info {};
    std::int64_t newest = manifest_.created_unix;
    for (const char* name : {"pieces.log", "final.json"}) {
      if (::stat((dir_ / name).c_str(), &info) == 0) newest = std::max<std::int64_t>(newest, info.st_mtime);
    }
    // File times are whatever the disk says; keep them where a time_point cannot overflow.
    newest = std::clamp<std::int64_t>(newest, 0, std::int64_t{1} << 33);
    return std::chrono::system_clock::time_point(std::chrono::seconds(newest));
  }

 private:
  // This upload's files, open while the handle is held.
  std::shared_ptr<UploadFiles> files(StorageStatus& status) {
    if (released_) {
      status = {StorageCode::io_error, "upload already released"};
      return nullptr;
    }
    return open_files_->use(this, [this](UploadFiles& files) {
      files.data = UniqueFd(::open((dir_ / "data").c_str(), O_RDWR | O_CLOEXEC));
      if (!files.data) return errno_status(errno, "open " + (dir_ / "data").string());
      if (registry_) {  // the records are the registry's: no pieces.log
        files.direct = open_direct(dir_ / "data", direct_io_);
        return StorageStatus::success();
      }
      files.log = UniqueFd(::open((dir_ / "pieces.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
      if (!files.log) return errno_status(errno, "open " + (dir_ / "pieces.log").string());
      files.direct = open_direct(dir_ / "data", direct_io_);
      return StorageStatus::success();
    }, status);
  }

  UploadManifest manifest_;
  fs::path dir_;
  fs::path upload_to_;
  bool durable_;
  bool direct_io_;
  std::shared_ptr<OpenFiles> open_files_;
  std::shared_ptr<UploadRegistry> registry_;  // null: records beside the data
  std::atomic<bool> released_{false};
  std::atomic<bool> direct_usable_{false};
};

class FilesystemStore final : public UploadStore {
 public:
  explicit FilesystemStore(FilesystemStoreOptions options)
      : options_(std::move(options)), open_files_(std::make_shared<OpenFiles>(options_.max_open_uploads)) {}

  StorageStatus create(const UploadManifest& manifest, std::unique_ptr<StoredUpload>& out) override {
    if (!is_upload_id(manifest.upload_id)) return {StorageCode::io_error, "invalid upload id"};
    const fs::path dir = options_.chunk_dir / manifest.upload_id;
    if (::mkdir(dir.c_str(), 0700) != 0) return errno_status(errno, "mkdir " + dir.string());
    UniqueFd data(::open((dir / "data").c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!data) return fail_create(dir, errno_status(errno, "create data"));
    if (manifest.total_size && *manifest.total_size > 0) {
      // Space is taken as pieces arrive, never reserved ahead (one request of one byte must not
      // take what the whole file will need), but a file that cannot fit is refused at once.
      struct statvfs space {};
      if (options_.check_free_space && ::fstatvfs(data.get(), &space) == 0 &&
          static_cast<std::uint64_t>(space.f_bavail) * space.f_frsize < *manifest.total_size) {
        return fail_create(dir, {StorageCode::no_space, std::to_string(*manifest.total_size) + " bytes do not fit in " +
                                                            options_.chunk_dir.string()});
      }
      if (::ftruncate(data.get(), static_cast<off_t>(*manifest.total_size)) != 0) {
        return fail_create(dir, errno_status(errno, "size the data file"));
      }
    }
    if (options_.registry) {
      // The registry's record comes last, as the manifest does below: a directory without one is
      // an aborted create. conflict: another instance has just created this upload.
      if (auto status = sync_directory(options_.chunk_dir, options_.durable); !status) return fail_create(dir, status);
      if (auto status = options_.registry->create(manifest); !status) return fail_create(dir, status);
      out = std::make_unique<FilesystemUpload>(manifest, dir, options_.upload_to, options_.durable, options_.direct_io,
                                               false, open_files_, options_.registry);
      return StorageStatus::success();
    }
    UniqueFd log(::open((dir / "pieces.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (!log) return fail_create(dir, errno_status(errno, "create pieces.log"));
    // The manifest is written last: an upload directory without one is an aborted create.
    if (auto status = write_file_atomically(dir / "manifest.json", encode_manifest(manifest), options_.durable); !status) {
      return fail_create(dir, status);
    }
    if (auto status = sync_directory(options_.chunk_dir, options_.durable); !status) return fail_create(dir, status);
    out = std::make_unique<FilesystemUpload>(manifest, dir, options_.upload_to, options_.durable, options_.direct_io,
                                             false, open_files_, options_.registry);
    return StorageStatus::success();
  }

  // Nothing read back from the disk is trusted: the manifest must decode and name this upload, a
  // final record must decode and point where this store releases to, and an unreleased upload
  // must have all of its data file.
  StorageStatus open(const std::string& upload_id, RecordedUpload& out) override {
    if (!is_upload_id(upload_id)) return {StorageCode::not_found, "invalid upload id"};
    const fs::path dir = options_.chunk_dir / upload_id;
    std::error_code error;
    if (options_.registry) return open_registered(upload_id, dir, out);
    if (fs::symlink_status(dir / "manifest.json", error).type() == fs::file_type::not_found) {
      return {StorageCode::not_found, "no manifest in " + dir.string()};
    }
    const auto corrupt = [&](const std::string& what) { return StorageStatus{StorageCode::corrupt, what + " in " + dir.string()}; };
    const auto text = read_small_file(dir / "manifest.json", 1 << 20);
    if (!text) return corrupt("unreadable manifest");
    int version = 0;
    auto manifest = decode_manifest(*text, &version);
    if (!manifest || manifest->upload_id != upload_id) return corrupt("corrupt manifest");
    std::optional<FinalRecord> final;
    if (fs::symlink_status(dir / "final.json", error).type() != fs::file_type::not_found) {
      const auto contents = read_small_file(dir / "final.json", 1 << 16);
      if (contents) final = decode_final_record(*contents);
      if (!final) return corrupt("corrupt final record");
      if (final->location != location_for_release(*manifest).string()) return corrupt("final record with a foreign location");
    }
    if (!final) {  // the data file is gone once released
      struct stat info {};
      if (::stat((dir / "data").c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return corrupt("missing data file");
      if (manifest->total_size && static_cast<std::uint64_t>(info.st_size) < *manifest->total_size) {
        return corrupt("truncated data file");
      }
    }
    if (const auto log = fs::symlink_status(dir / "pieces.log", error).type();
        log != fs::file_type::regular && log != fs::file_type::not_found) {
      return corrupt("unusable pieces.log");
    }
    auto upload = std::make_unique<FilesystemUpload>(*manifest, dir, options_.upload_to, options_.durable,
                                                     options_.direct_io, final.has_value(), open_files_, options_.registry);
    if (!final && version < manifest_version) {
      // Recorded before the tree digest: its pieces' digests are another algorithm's, so they are
      // asked for again (the bytes are rewritten in place) and the manifest is brought up to date.
      if (auto status = upload->drop_torn_tail(false); !status) return status;
      for (const char* obsolete : {"chunks.log", "hash-progress"}) fs::remove(dir / obsolete, error);
      if (auto status = write_file_atomically(dir / "manifest.json", encode_manifest(*manifest), options_.durable); !status) {
        return status;
      }
    } else if (!final) {
      if (auto status = upload->drop_torn_tail(); !status) return status;
    }
    out.manifest = std::move(*manifest);
    out.pieces = upload->recorded_pieces();
    out.pieces_durable = options_.durable;  // commit_piece syncs the bytes before their record
    out.final = std::move(final);
    out.last_activity = upload->last_activity();
    out.upload = std::move(upload);
    return StorageStatus::success();
  }

  std::vector<std::string> list() override {
    std::vector<std::string> ids;
    if (options_.registry) {
      if (auto status = options_.registry->list(ids); !status) return {};
      return ids;
    }
    std::vector<fs::path> unfinished_removals;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(options_.chunk_dir, error)) {
      const std::string name = entry.path().filename().string();
      if (is_upload_id(name)) ids.push_back(name);
      if (name.size() == 32 + removed_suffix.size() && name.ends_with(removed_suffix) && is_upload_id(name.substr(0, 32))) {
        unfinished_removals.push_back(entry.path());
      }
    }
    for (const auto& doomed : unfinished_removals) {  // removals a crash interrupted (remove())
      std::error_code ignored;
      fs::remove_all(doomed, ignored);
    }
    return ids;
  }

  UploadRegistry* shared_registry() override { return options_.registry.get(); }

  StorageStatus remove(const std::string& upload_id, bool released_file) override {
    if (!is_upload_id(upload_id)) return {StorageCode::not_found, "invalid upload id"};
    const fs::path dir = options_.chunk_dir / upload_id;
    std::error_code error;
    if (released_file) {
      // Only ever the file this store would have released: upload_to/<id><ext>.
      RecordedUpload recorded;
      if (open(upload_id, recorded) && recorded.final) fs::remove(released_path(options_.upload_to, recorded.manifest), error);
    }
    if (options_.registry) {
      // The records go first: from then on no instance serves the upload; its bytes follow.
      if (auto status = options_.registry->remove(upload_id); !status) return status;
    }
    // One rename takes the upload out of list() at once, made durable before anything is deleted:
    // a crash or power loss in the middle of deleting its files then leaves no half-removed upload
    // (e.g. records without final.json and without data after a claim), only a directory that
    // list() finishes deleting.
    const fs::path doomed = removed_path(upload_id);
    if (::rename(dir.c_str(), doomed.c_str()) != 0 && errno != ENOENT) {
      return errno_status(errno, "rename " + dir.string());
    }
    if (auto status = sync_directory(options_.chunk_dir, options_.durable); !status) return status;
    // A request still finishing may add an entry while the directory goes; remove_all then fails
    // with ENOENT or ENOTEMPTY: try again (bounded).
    for (int attempt = 0; attempt < 5; ++attempt) {
      error.clear();
      fs::remove_all(doomed, error);
      if (!error) break;
    }
    if (error) return {StorageCode::io_error, "remove " + doomed.string() + ": " + error.message()};
    return sync_directory(options_.chunk_dir, options_.durable);
  }

 private:
  StorageStatus fail_create(const fs::path& dir, StorageStatus status) {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
    return status;
  }

  // open() with the records in the registry: validated as the files' are, plus the data file.
  StorageStatus open_registered(const std::string& upload_id, const fs::path& dir, RecordedUpload& out) {
    UploadRecords records;
    if (auto status = options_.registry->open(upload_id, records); !status) return status;
    const auto corrupt = [&](const std::string& what) { return StorageStatus{StorageCode::corrupt, what + " of " + upload_id}; };
    if (records.manifest.upload_id != upload_id) return corrupt("a foreign manifest");
    if (records.final && records.final->location != location_for_release(records.manifest).string()) {
      return corrupt("final record with a foreign location");
    }
    if (!records.final) {
      struct stat info {};
      if (::stat((dir / "data").c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return corrupt("missing data file");
      if (records.manifest.total_size && static_cast<std::uint64_t>(info.st_size) < *records.manifest.total_size) {
        return corrupt("truncated data file");
      }
    }
    out.upload = std::make_unique<FilesystemUpload>(records.manifest, dir, options_.upload_to, options_.durable,
                                                    options_.direct_io, records.final.has_value(), open_files_,
                                                    options_.registry);
    out.manifest = std::move(records.manifest);
    out.pieces = std::move(records.pieces);
    out.pieces_durable = options_.durable;
    out.final = std::move(records.final);
    out.last_activity = records.last_activity;
    return StorageStatus::success();
  }

  static constexpr std::string_view removed_suffix = ".removed";
  fs::path removed_path(const std::string& upload_id) const {
    return options_.chunk_dir / (upload_id + std::string(removed_suffix));
  }
  fs::path location_for_release(const UploadManifest& manifest) const { return released_path(options_.upload_to, manifest); }

  FilesystemStoreOptions options_;
  std::shared_ptr<OpenFiles> open_files_;
};

}  // namespace

std::shared_ptr<UploadStore> make_filesystem_store(const FilesystemStoreOptions& options, std::string* error) {
  std::error_code ec;
  for (const auto& dir : {options.chunk_dir, options.upload_to}) {
    if (dir.empty()) {
      if (error != nullptr) *error = "chunk_dir and upload_to must be set";
      return nullptr;
    }
    // The directories made here (and the ones that existed) must survive a power loss too: a new
    // directory's entry is durable only once its parent is synced.
    fs::path clean = dir.lexically_normal();
    if (!clean.has_filename()) clean = clean.parent_path();  // "a/b/" names "a/b"
    const bool existed = fs::exists(clean, ec);
    std::vector<fs::path> parents{clean.parent_path()};
    for (fs::path missing = clean.parent_path(); missing.has_relative_path() && !fs::exists(missing, ec);
         missing = missing.parent_path()) {
      parents.push_back(missing.parent_path());
    }
    fs::create_directories(dir, ec);
    if (ec) {
      if (error != nullptr) *error = "cannot create " + dir.string() + ": " + ec.message();
      return nullptr;
    }
    for (const auto& parent : parents) {
      const auto status = sync_directory(parent.empty() ? fs::path(".") : parent, options.durable);
      // A directory that existed before may sit in a parent this process cannot open: then it is
      // as durable as whoever made it left it (best effort); one made here must be made durable.
      if (!status && !existed) {
        if (error != nullptr) *error = status.detail;
        return nullptr;
      }
    }
  }
  return std::make_shared<FilesystemStore>(options);
}

}  // namespace resumable
