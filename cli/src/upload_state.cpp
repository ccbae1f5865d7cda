#include "upload_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace resumable::cli {

namespace {

using Json = nlohmann::json;

constexpr std::int64_t keep_seconds = 30 * 24 * 3600;

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The file's entries, or an empty object when it is missing or not ours.
Json read_uploads(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Json::object();
  std::stringstream text;
  text << in.rdbuf();
  Json parsed = Json::parse(text.str(), nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("uploads") || !parsed["uploads"].is_object()) {
    return Json::object();
  }
  return parsed["uploads"];
}

// mkdir -p of the file's directory, private to the user (upload URLs let their holder resume).
bool make_parents(const std::string& path, std::string* error) {
  for (std::size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    const std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      *error = dir + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

class FileLock {
 public:
  explicit FileLock(const std::string& path) : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (fd_ >= 0 && ::flock(fd_, LOCK_EX) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  int fd_;
};

}  // namespace

UploadUrlStore::UploadUrlStore(std::string path) : path_(std::move(path)) {}

std::string UploadUrlStore::default_path() {
  if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && state[0] == '/') {
    return std::string(state) + "/resumable/uploads.json";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && home[0] == '/') {
    return std::string(home) + "/.local/state/resumable/uploads.json";
  }
  return "";
}

std::optional<std::string> UploadUrlStore::find(const std::string& key) const {
  if (path_.empty()) return std::nullopt;
  const Json uploads = read_uploads(path_);
  const auto it = uploads.find(key);
  if (it == uploads.end() || !it->is_object() || !it->contains("url") || !(*it)["url"].is_string()) return std::nullopt;
  return (*it)["url"].get<std::string>();
}

bool UploadUrlStore::remember(const std::string& key, const std::string& url, std::string* error) {
  return update(key, url, error);
}

bool UploadUrlStore::forget(const std::string& key, std::string* error) { return update(key, std::nullopt, error); }

bool UploadUrlStore::update(const std::string& key, const std::optional<std::string>& url, std::string* error) {
  if (path_.empty()) return true;
  if (!make_parents(path_, error)) return false;
  const FileLock lock(path_ + ".lock");
  if (!lock.held()) {
    *error = path_ + ".lock: " + std::strerror(errno);
    return false;
  }
  Json uploads = read_uploads(path_);
  const std::int64_t now = now_seconds();
  for (auto it = uploads.begin(); it != uploads.end();) {
    const bool fresh = it->is_object() && it->contains("saved") && (*it)["saved"].is_number_integer() &&
                       now - (*it)["saved"].get<std::int64_t>() < keep_seconds;
    it = fresh ? std::next(it) : uploads.erase(it);
  }
  if (url) {
    uploads[key] = {{"url", *url}, {"saved", now}};
  } else {
    uploads.erase(key);
  }
  const std::string text = Json{{"version", 1}, {"uploads", uploads}}.dump(1, ' ', false, Json::error_handler_t::replace) + "\n";
  // No fsync: losing the newest entry in a power cut costs a fresh upload, never a wrong one.
  const std::string temporary = path_ + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool written = fd >= 0;
  for (std::size_t done = 0; written && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    written = n > 0;
    if (written) done += static_cast<std::size_t>(n);
  }
  if (fd >= 0 && ::close(fd) != 0) written = false;
  if (!written || ::rename(temporary.c_str(), path_.c_str()) != 0) {
    *error = path_ + ": " + std::strerror(errno);
    ::unlink(temporary.c_str());
    return false;
  }
  return true;
}

}  // namespace resumable::cli
