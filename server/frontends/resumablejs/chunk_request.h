// A chunk request's parameters after parsing and validation (request_params.cpp), independent of
// whether they came from the query string or multipart fields, or with resumable* or flow* names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "resumable/digest.h"

namespace resumable::resumablejs {

struct ChunkRequest {
  std::uint64_t number = 0;
  std::uint64_t chunk_size = 0;
  std::uint64_t current_size = 0;
  std::uint64_t total_size = 0;
  std::uint64_t chunk_count = 0;
  std::string identifier;
  std::string file_name;
  std::string relative_path;
  std::string mime_type;
  std::optional<core::Digest> chunk_digest;
  std::optional<core::Digest> file_digest;
};

}  // namespace resumable::resumablejs
