// The tus 1.0.0 front-end (https://tus.io/protocols/resumable-upload, docs/protocol.md "tus"):
//   OPTIONS B, B/<id>    capabilities (Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm)
//   POST B               creation, creation-with-upload, creation-defer-length -> 201, Location B/<id>
//   HEAD B/<id>          Upload-Offset, Upload-Length or Upload-Defer-Length, Upload-Metadata
//   PATCH B/<id>         application/offset+octet-stream at Upload-Offset (checksum: Upload-Checksum)
//   DELETE B/<id>        termination
//   POST B with Upload-Concat: partial (a part), final;<urls> (the parts joined: concatenation)
// Uploads are the core's, named by the id in their URL and scoped by the principal, so the mount's
// access hook, limits, claim and collection apply as on the resumable.js mount. Statuses are the tus
// spec's (tus_status); bodies of errors are the JSON of the one error table. The final result goes to
// the client in Upload-Token and Upload-File-Digest on the last PATCH and on HEAD.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "append_upload.h"
#include "front_end.h"
#include "resumable/upload_core.h"
#include "tus_status.h"

namespace resumable::tus {

inline constexpr const char* protocol_name = "tus";

// Upload-Metadata: "key base64,key base64,key" (a key may have no value). Keys are unique, ASCII
// without spaces and commas; values are decoded. nullopt when it is not that.
std::optional<std::map<std::string, std::string>> parse_metadata(std::string_view header);

// Upload-Concat: "partial", or "final;" and the partial uploads' URLs separated by spaces, each the
// mount's path `base` and an upload id ("/files/<id>"), alone or after "http://" or "https://" and an
// authority (tus-js-client sends absolute URLs; their host is not ours to check: proxies rewrite it).
// nullopt for anything else. The ids are returned in order, unchecked for repeats.
struct Concat {
  bool partial = false;
  std::vector<std::string> parts;  // of a final upload
};
std::optional<Concat> parse_concat(std::string_view header, std::string_view base);

class TusFrontEnd final : public http::FrontEnd {
 public:
  explicit TusFrontEnd(UploadCore& core) : core_(core) {}

  std::optional<std::string> allowed_methods(std::string_view path) const override;
  std::unique_ptr<http::Exchange> exchange(const http::RequestView& request, const std::string& principal) override;
  http::Reply error_reply(ErrorCode code, bool close) const override;
  http::MultipartRules multipart_rules() const override { return {}; }
  std::string exposed_headers() const override;
  void on_request() override { core_.collect_if_due(); }

 private:
  // POST with Upload-Concat: final;<urls>: the partials joined into a new upload, at once.
  std::unique_ptr<http::Exchange> concatenate(const http::RequestView& request, const std::string& principal,
                                              UploadDeclaration upload, const std::vector<std::string>& parts,
                                              bool has_checksum);

  UploadCore& core_;
  append::AppendLocks locks_;  // a PATCH takes over from a stalled one
};

}  // namespace resumable::tus
