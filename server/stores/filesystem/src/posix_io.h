// POSIX file helpers for stores, each safe against EINTR and short writes, each reporting failures
// as StorageStatus (ENOSPC/EDQUOT: no_space, ENOENT: not_found, else io_error). `durable` means
// fsync'ed, including the directory entry where a name changes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "resumable/upload_store.h"

namespace resumable::posix {

StorageStatus errno_status(int error, const std::string& what);

StorageStatus write_all(int fd, const void* data, std::size_t length, std::uint64_t offset,
                        const std::filesystem::path& path);
// Reads exactly `length` bytes at `offset`; an early end of file is io_error.
StorageStatus read_all(int fd, void* data, std::size_t length, std::uint64_t offset, const std::filesystem::path& path);
// Appends `length` bytes in one write(2) on an O_APPEND descriptor, so that concurrent appends
// never interleave within one record.
StorageStatus append_record(int fd, const void* data, std::size_t length, const std::filesystem::path& path);

StorageStatus sync_directory(const std::filesystem::path& dir, bool durable);
// Replaces `path` so that readers see the old file or the whole new one, never a part.
StorageStatus write_file_atomically(const std::filesystem::path& path, const std::string& contents, bool durable);
// Copies across filesystems through a fixed buffer (rename cannot cross them).
StorageStatus copy_file_durably(const std::filesystem::path& from, const std::filesystem::path& to, bool durable);
// The whole file, or nullopt when it cannot be read (absent, a directory, unreadable) or is
// larger than `max_bytes`.
std::optional<std::string> read_small_file(const std::filesystem::path& path, std::size_t max_bytes = 64 << 20);

}  // namespace resumable::posix
