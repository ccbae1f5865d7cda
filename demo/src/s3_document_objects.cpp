#include "s3_document_objects.h"

#include <vector>

#include "resumable/digest.h"

namespace resumable::demo {

namespace {

// A GET per 8 MiB: few requests, and one such piece in memory per download.
constexpr std::size_t read_piece_bytes = 8u << 20;

class S3DocumentObjects final : public DocumentObjects {
 public:
  explicit S3DocumentObjects(std::unique_ptr<S3Client> client) : client_(std::move(client)) {}

  DownloadSource source(const StoredFile& file) const override {
    const std::string key = file.stored_name.substr(stored_prefix.size());
    DownloadSource source;
    source.size = file.size;
    // Released objects are written once under a key of their own: the key names the bytes.
    source.etag = "\"" + core::to_hex(core::blake2b256(key.data(), key.size())).substr(0, 32) + "\"";
    source.last_modified = static_cast<std::time_t>(file.uploaded_at);
    source.read_bytes = read_piece_bytes;
    S3Client* client = client_.get();
    source.read = [client, key](std::uint64_t offset, std::size_t length, std::string& out) {
      out.clear();
      return static_cast<bool>(client->get_object(key, out, offset, length));
    };
    return source;
  }

  bool remove(std::string_view stored_name, std::string& error) override {
    if (!holds(stored_name)) {
      error = "not an S3 stored name: " + std::string(stored_name);
      return false;
    }
    const std::string key(stored_name.substr(stored_prefix.size()));
    const auto status = client_->delete_object(key);
    if (!status) error = "cannot delete the S3 object " + key + ": " + status.detail;
    return static_cast<bool>(status);
  }

 private:
  std::unique_ptr<S3Client> client_;
};

}  // namespace

std::unique_ptr<DocumentObjects> connect_document_objects(const S3Options& options, const std::string& prefix,
                                                          std::string* error) {
  auto client = S3Client::create(options, error);
  if (!client) return nullptr;
  // A listing of a prefix that holds nothing: cheap, and it fails when the bucket is missing or
  // the credentials are refused (a HEAD of a missing key would say 404 either way).
  std::vector<S3ObjectInfo> none;
  if (const auto status = client->list_objects(prefix + "bucket-check/", none); !status) {
    if (error != nullptr) *error = "bucket " + options.bucket + " at " + options.endpoint + ": " + status.detail;
    return nullptr;
  }
  return std::make_unique<S3DocumentObjects>(std::move(client));
}

}  // namespace resumable::demo
