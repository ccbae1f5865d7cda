#include "document_files.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <set>
#include <system_error>

namespace resumable::demo {

namespace {

constexpr std::size_t stored_name_bytes = 16;
constexpr std::size_t stored_name_chars = 2 * stored_name_bytes;

std::string random_stored_name() {
  std::array<unsigned char, stored_name_bytes> random{};
  randombytes_buf(random.data(), random.size());
  std::array<char, stored_name_chars + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), random.data(), random.size());
  return std::string(hex.data(), stored_name_chars);
}

bool is_stored_name(std::string_view name) {
  return name.size() == stored_name_chars &&
         std::all_of(name.begin(), name.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// A rename is durable only once the directory holding the new name is synced.
void sync_directory(const std::filesystem::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw std::filesystem::filesystem_error("open folder", folder, std::error_code(errno, std::generic_category()));
  const int status = ::fsync(fd);
  const int sync_errno = errno;
  ::close(fd);
  if (status != 0) {
    throw std::filesystem::filesystem_error("sync folder", folder, std::error_code(sync_errno, std::generic_category()));
  }
}

}  // namespace

DocumentFiles::DocumentFiles(std::filesystem::path folder) : folder_(std::move(folder)) {
  std::filesystem::create_directories(folder_);
}

std::string DocumentFiles::adopt(const std::filesystem::path& claimed_location) {
  const std::string stored_name = random_stored_name();
  // The server library keeps released files in the data dir too, so this is a rename on one
  // filesystem: O(1) whatever the file's size.
  std::filesystem::rename(claimed_location, folder_ / stored_name);
  sync_directory(folder_);
  return stored_name;
}

std::filesystem::path DocumentFiles::path_of(std::string_view stored_name) const {
  if (!is_stored_name(stored_name)) return {};
  return folder_ / std::string(stored_name);
}

bool DocumentFiles::remove(std::string_view stored_name, std::string& error) {
  const auto path = path_of(stored_name);
  if (path.empty()) {
    error = "not a stored file name: " + std::string(stored_name);
    return false;
  }
  std::error_code code;
  std::filesystem::remove(path, code);
  if (code) {
    error = "cannot delete " + path.string() + ": " + code.message();
    return false;
  }
  return true;
}

std::size_t DocumentFiles::remove_unreferenced(const std::vector<std::string>& referenced,
                                              std::chrono::seconds min_age) {
  const std::set<std::string, std::less<>> keep(referenced.begin(), referenced.end());
  const auto cutoff = std::filesystem::file_time_type::clock::now() - min_age;
  std::size_t removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder_)) {
    const std::string name = entry.path().filename().string();
    if (!is_stored_name(name) || keep.contains(name)) continue;
    std::error_code code;
    if (min_age.count() > 0 && !(entry.last_write_time(code) < cutoff)) continue;
    if (std::filesystem::remove(entry.path(), code)) ++removed;
  }
  return removed;
}

}  // namespace resumable::demo
