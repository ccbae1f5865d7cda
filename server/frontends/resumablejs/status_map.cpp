#include "status_map.h"

namespace resumable::resumablejs {

int http_status(ErrorCode code) {
  switch (code) {  // no default: a new code fails the build until it has a status here
    case ErrorCode::unauthenticated: return 401;
    case ErrorCode::forbidden: return 403;
    case ErrorCode::not_found: return 404;
    case ErrorCode::method_not_allowed: return 405;
    case ErrorCode::unsupported_version: return 412;
    case ErrorCode::malformed_request: return 400;
    case ErrorCode::invalid_parameter: return 400;
    case ErrorCode::invalid_geometry: return 400;
    case ErrorCode::chunk_size_not_allowed: return 400;
    case ErrorCode::invalid_body: return 400;
    case ErrorCode::upload_conflict: return 409;
    case ErrorCode::chunk_conflict: return 409;
    case ErrorCode::offset_mismatch: return 409;
    case ErrorCode::file_digest_mismatch: return 409;
    case ErrorCode::file_too_large: return 413;
    case ErrorCode::too_many_chunks: return 413;
    case ErrorCode::type_not_allowed: return 415;
    case ErrorCode::unsupported_content_type: return 415;
    case ErrorCode::chunk_digest_mismatch: return 422;
    case ErrorCode::incomplete_body: return 422;
    case ErrorCode::body_too_slow: return 408;
    case ErrorCode::too_many_uploads: return 429;
    case ErrorCode::upload_not_found: return 404;
    case ErrorCode::not_a_partial_upload: return 400;
    case ErrorCode::partial_upload_unfinished: return 409;
    case ErrorCode::final_upload_immutable: return 403;
    case ErrorCode::update_pending: return 409;
    case ErrorCode::slot_busy: return 409;
    case ErrorCode::slot_active: return 409;
    case ErrorCode::image_rejected: return 422;
    case ErrorCode::chunk_busy: return 503;
    case ErrorCode::out_of_order: return 503;
    case ErrorCode::server_busy: return 503;
    case ErrorCode::insufficient_storage: return 507;
    case ErrorCode::internal_error: return 500;
  }
  return 500;
}

}  // namespace resumable::resumablejs
