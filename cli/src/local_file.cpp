#include "local_file.h"

#include "resumable/digest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <utility>

namespace resumable::cli {

namespace {
// Bumping it changes every identifier; it is the widget's, so both find each other's uploads.
constexpr const char* identifier_version = "resumable-widget/2";
}  // namespace

std::optional<LocalFile> LocalFile::open(const std::string& path, std::uint64_t chunk_size, std::string* error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = std::strerror(errno);
    return std::nullopt;
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    *error = S_ISDIR(info.st_mode) ? "is a directory" : "not a regular file";
    ::close(fd);
    return std::nullopt;
  }
  const auto geometry = core::ChunkGeometry::for_mode(static_cast<std::uint64_t>(info.st_size), chunk_size,
                                                      core::ChunkMode::last_absorbs_remainder);
  if (!geometry) {
    *error = "the chunk size must be at least 1 byte";
    ::close(fd);
    return std::nullopt;
  }
  // Browsers give lastModified in whole milliseconds, rounded down.
  const std::int64_t modified_ms = static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1000 + info.st_mtim.tv_nsec / 1000000;
  return LocalFile(fd, path, *geometry, modified_ms);
}

LocalFile::LocalFile(int fd, std::string path, core::ChunkGeometry geometry, std::int64_t modified_ms)
    : fd_(fd), path_(std::move(path)), geometry_(geometry), modified_ms_(modified_ms) {}

LocalFile::LocalFile(LocalFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      geometry_(other.geometry_),
      modified_ms_(other.modified_ms_),
      next_number_(other.next_number_),
      leaves_(other.leaves_),
      root_(other.root_),
      unaligned_(other.unaligned_),
      file_digest_(std::move(other.file_digest_)),
      buffers_(std::move(other.buffers_)) {}

LocalFile::~LocalFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::string LocalFile::name() const {
  const auto slash = path_.find_last_of('/');
  return slash == std::string::npos ? path_ : path_.substr(slash + 1);
}

void LocalFile::rewind() {
  next_number_ = 1;
  leaves_ = core::LeafHasher();
  root_.reset();
  unaligned_.reset();
  file_digest_.reset();
}

std::optional<ReadChunk> LocalFile::read_next(std::string* error) {
  const auto span = geometry_.span(next_number_);
  if (!span) {
    *error = "no chunk left to read";
    return std::nullopt;
  }
  std::shared_ptr<std::vector<std::uint8_t>> bytes;
  for (const auto& buffer : buffers_) {
    if (buffer.use_count() == 1) {
      bytes = buffer;
      break;
    }
  }
  if (!bytes) bytes = buffers_.emplace_back(std::make_shared<std::vector<std::uint8_t>>());
  bytes->resize(span->size);
  for (std::uint64_t done = 0; done < span->size;) {
    const ssize_t n = ::pread(fd_, bytes->data() + done, span->size - done, static_cast<off_t>(span->offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = std::strerror(errno);
      return std::nullopt;
    }
    if (n == 0) {
      *error = "the file became shorter while it was read";
      return std::nullopt;
    }
    done += static_cast<std::uint64_t>(n);
  }
  // One pass over the bytes gives the leaves; an aligned chunk's digest comes from them, an
  // unaligned one's needs its bytes once more (docs/digest.md, "Costs").
  std::vector<core::Digest> chunk_leaves;
  const auto add = [&](const core::Leaf& leaf) {
    chunk_leaves.push_back(leaf.digest);
    root_.add_leaf(leaf.digest);
  };
  leaves_.update(std::span<const std::uint8_t>(*bytes), add);
  const bool last = next_number_ == geometry_.chunk_count();
  if (last) leaves_.finish(add);
  core::Digest digest;
  if (core::chunk_is_leaf_aligned(span->offset, span->size, geometry_.total_size())) {
    digest = *core::chunk_digest_from_leaves(chunk_leaves);  // an aligned chunk completes its leaves
  } else {
    unaligned_.update(std::span<const std::uint8_t>(*bytes));
    digest = unaligned_.finish();
  }
  if (last) file_digest_ = core::to_hex(*root_.finish(geometry_.total_size()));
  ReadChunk chunk{next_number_, span->offset, std::move(bytes), core::to_hex(digest)};
  ++next_number_;
  return chunk;
}

std::string upload_identifier(const std::string& name, std::uint64_t size, std::int64_t modified_ms,
                              std::uint64_t chunk_size, const std::string& first_chunk_digest) {
  // JSON.stringify([version, name, size, lastModified, chunkSize, forceChunkSize, digest]) in the widget.
  const nlohmann::json description = {identifier_version, name, size, modified_ms, chunk_size, false, first_chunk_digest};
  const std::string text = description.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const std::string hex = core::to_hex(core::blake2b256(text.data(), text.size()));
  return std::to_string(size) + "-" + hex.substr(0, 40);
}

}  // namespace resumable::cli
