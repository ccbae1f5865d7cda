// The IETF draft's Resumable Uploads for HTTP (draft-ietf-httpbis-resumable-upload, interop
// versions 3 to 8; docs/protocol.md "IETF draft"):
//   OPTIONS B, B/<id>    Accept-Patch: application/partial-upload, Upload-Limit
//   POST or PUT B        creation with Upload-Complete (?1: the whole representation, ?0: a first
//                        part or nothing) -> 104 Upload Resumption Supported (to clients that name an
//                        interop version, when a body follows), then 201 (or 200 once complete) with
//                        Location B/<id>
//   HEAD B/<id>          Upload-Offset, Upload-Complete, Upload-Length, Upload-Limit
//   PATCH B/<id>         append at Upload-Offset (application/partial-upload from interop 6 on)
//   DELETE B/<id>        cancellation (ends a PATCH still in flight first)
// The version is the request's Upload-Draft-Interop-Version: 3 speaks Upload-Incomplete (URLSession
// on iOS 17), 4 and 5 take any PATCH body type, 6 to 8 and requests without it the newest text.
// Uploads are the core's, as the tus front-end's: the mount's access hook, limits, per-principal
// scoping, claim and collection apply. Content-Digest (and Repr-Digest where the request carries
// the whole representation) is verified before anything is recorded. The final result goes to the
// client in Upload-Token and Upload-File-Digest on the completing reply and on HEAD, and as the
// completing reply's JSON body.
#pragma once

#include <string>

#include "append_upload.h"
#include "front_end.h"
#include "ietf_status.h"
#include "resumable/upload_core.h"

namespace resumable::ietf {

inline constexpr const char* protocol_name = "ietf";

// What the request's Upload-Draft-Interop-Version says about the fields it speaks; nullopt for a
// version this front-end does not speak (or a malformed one). 0: no version named.
struct Dialect {
  std::uint64_t interop = 0;
  bool incomplete_field = false;   // interop 3: Upload-Incomplete, the inverse of Upload-Complete
  bool partial_upload_type = true;  // appends must be application/partial-upload (interop 6 on)
};
std::optional<Dialect> dialect_of(std::optional<std::string_view> interop_version);

// The file name of a Content-Disposition value (`inline; filename="a b.txt"` or `filename=a.txt`);
// "" when it names none; nullopt when it is malformed.
std::optional<std::string> disposition_file_name(std::string_view header);

class IetfFrontEnd final : public http::FrontEnd {
 public:
  explicit IetfFrontEnd(UploadCore& core) : core_(core) {}

  std::optional<std::string> allowed_methods(std::string_view path) const override;
  std::unique_ptr<http::Exchange> exchange(const http::RequestView& request, const std::string& principal) override;
  http::Reply error_reply(ErrorCode code, bool close) const override;
  http::MultipartRules multipart_rules() const override { return {}; }
  std::string exposed_headers() const override;
  void on_request() override { core_.collect_if_due(); }

 private:
  std::unique_ptr<http::Exchange> create(const http::RequestView& request, const std::string& principal,
                                         const Dialect& dialect);
  std::unique_ptr<http::Exchange> append(const http::RequestView& request, const std::string& principal,
                                         const Dialect& dialect);

  UploadCore& core_;
  append::AppendLocks locks_;  // a PATCH or DELETE ends a stalled PATCH
};

}  // namespace resumable::ietf
