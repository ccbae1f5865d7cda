// The folder that holds the records' files. A file enters it only by adopt(): a finished upload
// that the application claimed from the server library is moved in under a random name the demo
// chooses, so no client-supplied name or path ever reaches the filesystem.
// Thread-safety: all methods may be called concurrently (each works on its own file).
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace resumable::demo {

class DocumentFiles {
 public:
  // Creates the folder if needed. Throws std::filesystem::filesystem_error if it cannot.
  explicit DocumentFiles(std::filesystem::path folder);

  // Moves `claimed_location` (a path the server library created) into the folder and makes the
  // move durable; returns the new stored name. Throws std::filesystem::filesystem_error.
  std::string adopt(const std::filesystem::path& claimed_location);

  // The path of a stored name (as returned by adopt). Empty if the name is not one adopt makes.
  std::filesystem::path path_of(std::string_view stored_name) const;

  // Deletes a stored file; false (and `error` set) if it could not be deleted.
  bool remove(std::string_view stored_name, std::string& error);

  // Deletes files that no record references (left by a crash between adopt and the record's
  // commit) and that were last written at least `min_age` ago. Call at start-up, before requests
  // are served; with other instances sharing the folder, give a min_age longer than any request.
  // Returns how many were removed.
  std::size_t remove_unreferenced(const std::vector<std::string>& referenced,
                                  std::chrono::seconds min_age = std::chrono::seconds(0));

  const std::filesystem::path& folder() const { return folder_; }

 private:
  std::filesystem::path folder_;
};

}  // namespace resumable::demo
