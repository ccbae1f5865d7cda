// The resumable.js / flow.js front-end (docs/protocol.md): chunk numbers, the clients' parameters
// and their status codes, mapped onto the upload core. A chunk k of the pinned geometry (S, C, N)
// is the piece [(k-1)·C, (k-1)·C + size(k)); C and N are pinned as protocol fields.
//   POST/PUT B   a chunk (raw or multipart body)    GET B         test whether a chunk is stored
//   GET B/status what is stored, in one request     DELETE B      cancel
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "front_end.h"
#include "resumable/upload_core.h"

namespace resumable::resumablejs {

class ResumableFrontEnd final : public http::FrontEnd {
 public:
  explicit ResumableFrontEnd(UploadCore& core) : core_(core) {}
  ~ResumableFrontEnd() override;

  std::optional<std::string> allowed_methods(std::string_view path) const override;
  std::unique_ptr<http::Exchange> exchange(const http::RequestView& request, const std::string& principal) override;
  http::Reply error_reply(ErrorCode code, bool close) const override;
  http::MultipartRules multipart_rules() const override;
  void on_request() override { core_.collect_if_due(); }

  // The core's summaries with the expected chunk count filled in.
  std::vector<UploadSummary> list_uploads();

 private:
  // A slot for one streamed reply (limits.max_streamed_replies), given back when the returned
  // handle goes; nullptr if none came free within limits.chunk_wait.
  std::shared_ptr<void> streamed_reply_slot();

  UploadCore& core_;
  std::mutex slots_mutex_;
  std::condition_variable slot_freed_;
  std::size_t streaming_ = 0;
};

}  // namespace resumable::resumablejs
