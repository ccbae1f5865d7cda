// An exchange whose reply is known from the request head alone (no body is read).
#pragma once

#include <memory>

#include "front_end.h"

namespace resumable::http {

class ImmediateExchange final : public Exchange, public BodySink {
 public:
  explicit ImmediateExchange(Reply reply) : reply_(std::move(reply)) {}
  std::variant<Reply, BodyKind> start() override { return std::move(reply_); }
  bool file_part(const ParamLookup&) override { return false; }
  BodySink& sink() override { return *this; }
  void fail(ErrorCode) override {}
  std::optional<Reply> finish(BodyEnd) override { return std::nullopt; }
  std::span<std::uint8_t> next_buffer() override { return {&discard_, 1}; }
  bool received(std::size_t) override { return false; }

 private:
  Reply reply_;
  std::uint8_t discard_ = 0;
};

inline std::unique_ptr<Exchange> immediate(Reply reply) { return std::make_unique<ImmediateExchange>(std::move(reply)); }

}  // namespace resumable::http
