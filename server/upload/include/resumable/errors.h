// Every refusal the library can give, in one table of {stable code, meaning, client action,
// retryable}, shared by the upload core and every protocol front-end. The table is protocol-neutral:
// each front-end maps codes to its own status (the resumable.js one: frontends/resumablejs). The
// stable code is what clients see as "error"; docs/protocol.md mirrors the table with one status
// column per front-end (a unit test compares them).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace resumable {

enum class ErrorCode : std::uint8_t {
  unauthenticated,
  forbidden,
  not_found,
  method_not_allowed,
  unsupported_version,
  malformed_request,
  invalid_parameter,
  invalid_geometry,
  chunk_size_not_allowed,
  invalid_body,
  upload_conflict,
  chunk_conflict,
  offset_mismatch,
  file_digest_mismatch,
  file_too_large,
  too_many_chunks,
  type_not_allowed,
  unsupported_content_type,
  chunk_digest_mismatch,
  incomplete_body,
  body_too_slow,
  too_many_uploads,
  upload_not_found,
  not_a_partial_upload,
  partial_upload_unfinished,
  final_upload_immutable,
  update_pending,
  slot_busy,
  slot_active,
  image_rejected,
  chunk_busy,
  out_of_order,
  server_busy,
  insufficient_storage,
  internal_error,
};

struct ErrorInfo {
  ErrorCode code;
  std::string_view id;  // stable, sent as "error" in the JSON body
  std::string_view meaning;
  std::string_view client_action;
  bool retryable;  // sent as "retryable": whether retrying the same request can succeed
};

const ErrorInfo& error_info(ErrorCode code);
std::span<const ErrorInfo> error_table();

}  // namespace resumable
