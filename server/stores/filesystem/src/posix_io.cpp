#include "posix_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <vector>

#include "unique_fd.h"

namespace resumable::posix {

namespace fs = std::filesystem;

StorageStatus errno_status(int error, const std::string& what) {
  const StorageCode code = (error == ENOSPC || error == EDQUOT) ? StorageCode::no_space
                           : error == ENOENT                    ? StorageCode::not_found
                                                                : StorageCode::io_error;
  return {code, what + ": " + std::strerror(error)};
}

StorageStatus write_all(int fd, const void* data, std::size_t length, std::uint64_t offset, const fs::path& path) {
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  while (length > 0) {
    const ssize_t n = ::pwrite(fd, bytes, length, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status(errno, "write " + path.string());
    }
    bytes += n;
    length -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return StorageStatus::success();
}

StorageStatus read_all(int fd, void* data, std::size_t length, std::uint64_t offset, const fs::path& path) {
  auto* bytes = static_cast<std::uint8_t*>(data);
  while (length > 0) {
    const ssize_t n = ::pread(fd, bytes, length, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_status(errno, "read " + path.string());
    if (n == 0) return {StorageCode::io_error, "unexpected end of " + path.string()};
    bytes += n;
    length -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return StorageStatus::success();
}

StorageStatus append_record(int fd, const void* data, std::size_t length, const fs::path& path) {
  for (;;) {
    const ssize_t n = ::write(fd, data, length);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_status(errno, "append " + path.string());
    if (static_cast<std::size_t>(n) != length) return {StorageCode::io_error, "short append to " + path.string()};
    return StorageStatus::success();
  }
}

StorageStatus sync_directory(const fs::path& dir, bool durable) {
  if (!durable) return StorageStatus::success();
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0) return errno_status(errno, "fsync " + dir.string());
  return StorageStatus::success();
}

StorageStatus write_file_atomically(const fs::path& path, const std::string& contents, bool durable) {
  const fs::path temporary = path.string() + ".tmp";
  {
    UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) return errno_status(errno, "create " + temporary.string());
    if (auto status = write_all(fd.get(), contents.data(), contents.size(), 0, temporary); !status) return status;
    if (durable && ::fsync(fd.get()) != 0) return errno_status(errno, "fsync " + temporary.string());
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) return errno_status(errno, "rename " + path.string());
  return sync_directory(path.parent_path(), durable);
}

StorageStatus copy_file_durably(const fs::path& from, const fs::path& to, bool durable) {
  UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return errno_status(errno, "open " + from.string());
  const fs::path temporary = to.string() + ".tmp";
  UniqueFd out(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!out) return errno_status(errno, "create " + temporary.string());
  std::vector<std::uint8_t> buffer(1 << 20);
  std::uint64_t offset = 0;
  for (;;) {
    const ssize_t n = ::read(in.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_status(errno, "read " + from.string());
    if (n == 0) break;
    if (auto status = write_all(out.get(), buffer.data(), static_cast<std::size_t>(n), offset, temporary); !status) {
      return status;
    }
    offset += static_cast<std::uint64_t>(n);
  }
  if (durable && ::fsync(out.get()) != 0) return errno_status(errno, "fsync " + temporary.string());
  if (::rename(temporary.c_str(), to.c_str()) != 0) return errno_status(errno, "rename " + to.string());
  return StorageStatus::success();
}

std::optional<std::string> read_small_file(const fs::path& path, std::size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode) || static_cast<std::uint64_t>(info.st_size) > max_bytes) {
    return std::nullopt;
  }
  // Sized from fstat, but read to the end: the file may still grow (an append in flight).
  std::string contents(static_cast<std::size_t>(info.st_size) + 1, '\0');
  std::size_t filled = 0;
  for (;;) {
    if (filled == contents.size()) {
      if (contents.size() > max_bytes) return std::nullopt;
      contents.resize(std::min(contents.size() * 2, max_bytes + 1));
    }
    const ssize_t n = ::read(fd.get(), contents.data() + filled, contents.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    filled += static_cast<std::size_t>(n);
  }
  if (filled > max_bytes) return std::nullopt;
  contents.resize(filled);
  return contents;
}

}  // namespace resumable::posix
