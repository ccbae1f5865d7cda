// A flash partition emulated by a preallocated file, with NOR's rules (see slot_store.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "resumable/slot_store.h"

namespace resumable {

namespace {

StorageStatus errno_status(const std::string& what) { return {StorageCode::io_error, what + ": " + std::strerror(errno)}; }

class FileFlash final : public FlashArea {
 public:
  FileFlash(int fd, std::filesystem::path path, std::uint64_t size, std::uint64_t block)
      : fd_(fd), path_(std::move(path)), size_(size), block_(block) {}
  ~FileFlash() override { ::close(fd_); }
  FileFlash(const FileFlash&) = delete;
  FileFlash& operator=(const FileFlash&) = delete;

  std::uint64_t size() const override { return size_; }
  std::uint64_t erase_block_bytes() const override { return block_; }

  StorageStatus read(std::uint64_t offset, void* data, std::size_t length) override {
    if (offset > size_ || length > size_ - offset) return {StorageCode::io_error, "read past the end of " + path_.string()};
    auto* out = static_cast<std::uint8_t*>(data);
    while (length > 0) {
      const ssize_t n = ::pread(fd_, out, length, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return n < 0 ? errno_status("pread " + path_.string()) : StorageStatus{StorageCode::io_error, "short read"};
      out += n;
      offset += static_cast<std::uint64_t>(n);
      length -= static_cast<std::size_t>(n);
    }
    return StorageStatus::success();
  }

  StorageStatus program(std::uint64_t offset, const void* data, std::size_t length) override {
    if (offset > size_ || length > size_ - offset) return {StorageCode::io_error, "program past the end of " + path_.string()};
    // NOR: bits only go from 1 to 0. Read what is there and AND into it, a page at a time.
    std::uint8_t page[4096];
    const auto* in = static_cast<const std::uint8_t*>(data);
    while (length > 0) {
      const std::size_t part = std::min(length, sizeof page);
      if (auto status = read(offset, page, part); !status) return status;
      for (std::size_t i = 0; i < part; ++i) page[i] &= in[i];
      if (auto status = write_all(offset, page, part); !status) return status;
      in += part;
      offset += part;
      length -= part;
    }
    return StorageStatus::success();
  }

  StorageStatus erase(std::uint64_t offset, std::uint64_t length) override {
    if (offset % block_ != 0 || length % block_ != 0 || offset > size_ || length > size_ - offset) {
      return {StorageCode::io_error, "erase of a range that is not whole blocks of " + path_.string()};
    }
    const std::vector<std::uint8_t> erased(static_cast<std::size_t>(std::min<std::uint64_t>(block_, 1 << 20)), 0xff);
    while (length > 0) {
      const std::size_t part = static_cast<std::size_t>(std::min<std::uint64_t>(length, erased.size()));
      if (auto status = write_all(offset, erased.data(), part); !status) return status;
      offset += part;
      length -= part;
    }
    return StorageStatus::success();
  }

  StorageStatus sync() override {
    if (::fdatasync(fd_) != 0) return errno_status("fdatasync " + path_.string());
    return StorageStatus::success();
  }

 private:
  StorageStatus write_all(std::uint64_t offset, const std::uint8_t* data, std::size_t length) {
    while (length > 0) {
      const ssize_t n = ::pwrite(fd_, data, length, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno == ENOSPC ? StorageStatus{StorageCode::no_space, "pwrite: no space"} : errno_status("pwrite " + path_.string());
      data += n;
      offset += static_cast<std::uint64_t>(n);
      length -= static_cast<std::size_t>(n);
    }
    return StorageStatus::success();
  }

  int fd_;
  std::filesystem::path path_;
  std::uint64_t size_;
  std::uint64_t block_;
};

}  // namespace

std::unique_ptr<FlashArea> open_file_flash(const std::filesystem::path& file, std::uint64_t size,
                                           std::uint64_t erase_block_bytes, std::string* error) {
  auto fail = [&](const std::string& why) -> std::unique_ptr<FlashArea> {
    if (error) *error = file.string() + ": " + why;
    return nullptr;
  };
  if (erase_block_bytes == 0 || size == 0 || size % erase_block_bytes != 0) {
    return fail("the size must be a non-zero multiple of the erase block");
  }
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return fail(std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    ::close(fd);
    return fail(std::strerror(errno));
  }
  auto flash = std::make_unique<FileFlash>(fd, file, size, erase_block_bytes);
  if (info.st_size == 0) {
    // A new partition comes erased.
    if (auto status = flash->erase(0, size); !status || !flash->sync()) return fail("cannot create it: " + status.detail);
  } else if (static_cast<std::uint64_t>(info.st_size) != size) {
    return fail("holds " + std::to_string(info.st_size) + " bytes, not the " + std::to_string(size) + " of the partition");
  }
  return flash;
}

}  // namespace resumable
