// The resumable.js front-end's replies (docs/protocol.md): JSON errors from the error table, chunk
// acknowledgements, final results and status documents, with chunk numbers computed from the
// pieces the core reports. All JSON replies carry Cache-Control: no-store (the adapter adds it).
#pragma once

#include <nlohmann/json.hpp>

#include "front_end.h"
#include "json_error.h"
#include "resumable/upload_core.h"

namespace resumable::resumablejs {

// The chunk size and count the front-end pins in an upload's protocol fields.
inline constexpr const char* chunk_size_field = "chunkSize";
inline constexpr const char* chunk_count_field = "chunkCount";

using http::json_reply;
http::Reply error_reply(ErrorCode code, bool close = false);
http::Reply no_content(bool close = false);

nlohmann::json to_json(const FinalResult& result);
nlohmann::json chunk_stored_json(std::uint64_t number, const PieceStored& stored, std::uint64_t chunk_count);
// nullopt when the upload's pinned fields are not the front-end's (an upload of another protocol).
std::optional<nlohmann::json> to_json(const UploadState& state);

// The status document of an upload with more pieces than one page, streamed: it is written as
// pages are read from `next_page(after_offset)` (nullopt once the upload is gone), so that neither
// the pieces nor the document are ever held whole. Same document as to_json.
http::Reply streamed_status(UploadState first_page,
                            std::function<std::optional<UploadState>(std::uint64_t after_offset)> next_page);

}  // namespace resumable::resumablejs
