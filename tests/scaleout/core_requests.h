// What the scale-out tests share to drive upload cores directly: a piece request for bytes of a
// file (with its chunk digest), sending it through a core in one write, naming an outcome, and
// printing a StorageStatus in Catch2's messages. Header-only, for the test programs only.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "resumable/tree_digest.h"
#include "resumable/upload_core.h"

namespace Catch {
template <>
struct StringMaker<resumable::StorageStatus> {
  static std::string convert(const resumable::StorageStatus& status) {
    return "{code " + std::to_string(static_cast<int>(status.code)) + ": " + status.detail + "}";
  }
};
}  // namespace Catch

namespace scaleout {

// Bytes [offset, offset + size) of `file`, as a client sending "scan.bin" would ask to store them.
inline resumable::PieceRequest request_for(const std::string& identifier, const std::vector<std::uint8_t>& file,
                                           std::uint64_t offset, std::uint64_t size) {
  resumable::PieceRequest request;
  request.upload.identifier = identifier;
  request.upload.file_name = "scan.bin";
  request.upload.total_size = file.size();
  request.offset = offset;
  request.size = size;
  request.digest = resumable::core::chunk_digest(std::span(file.data() + offset, size), offset, file.size());
  return request;
}

// Sends the piece through `core` as user "alice", in one write.
inline resumable::PieceOutcome send(resumable::UploadCore& core, const resumable::PieceRequest& request,
                                    const std::vector<std::uint8_t>& file) {
  auto start = core.begin_piece("alice", request);
  if (auto* error = std::get_if<resumable::ErrorCode>(&start)) return *error;
  if (auto* stored = std::get_if<resumable::PieceStored>(&start)) return *stored;
  if (auto* final = std::get_if<resumable::FinalResult>(&start)) return *final;
  auto& writer = std::get<resumable::PieceWriter>(start);
  writer.write(std::span(file.data() + request.offset, request.size));
  return writer.finish();
}

inline std::string describe(const resumable::PieceOutcome& outcome) {
  if (auto* error = std::get_if<resumable::ErrorCode>(&outcome)) return "error " + std::string(resumable::error_info(*error).id);
  if (std::holds_alternative<resumable::PieceStored>(outcome)) return "stored";
  return "final";
}

}  // namespace scaleout
