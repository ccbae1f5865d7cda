// libFuzzer target: query-string parameter parsing (both client families' names, 64-bit numbers,
// UTF-8 and control-character checks), digest hex parsing, the safe extension of released files and
// chunk geometry validation. Invariants: nothing crashes, and whatever is accepted is what the
// protocol allows.
#include <cstdint>
#include <cstring>
#include <string>

#include "query_params.h"
#include "record_codec.h"
#include "request_params.h"
#include "resumable/chunk_geometry.h"

using namespace resumable;
using namespace resumable::resumablejs;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  UploadLimits limits;
  const http::ParamLookup lookup = [&](std::string_view name) {
    return civetweb::query_param(input, name, limits.max_relative_path_bytes);
  };
  const auto parsed = parse_chunk_request(lookup, limits);
  if (const auto* request = std::get_if<ChunkRequest>(&parsed)) {
    for (const std::string* text : {&request->identifier, &request->file_name}) {
      if (text->empty() || text->size() > limits.max_name_bytes || !is_valid_utf8(*text)) __builtin_trap();
      for (unsigned char c : *text) {
        if (c < 0x20 || c == 0x7f) __builtin_trap();
      }
    }
    if (request->relative_path.size() > limits.max_relative_path_bytes) __builtin_trap();
  }
  const auto identifier = parse_identifier(lookup, limits);
  if (const auto* id = std::get_if<std::string>(&identifier)) {
    if (id->empty() || id->size() > limits.max_name_bytes || !is_valid_utf8(*id)) __builtin_trap();
  }

  (void)is_valid_utf8(input);
  if (const auto digest = core::digest_from_hex(input)) {
    std::string lower = input;
    for (auto& c : lower) c = static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
    if (core::to_hex(*digest) != lower) __builtin_trap();
  }
  const std::string ext = safe_extension(input);
  if (!ext.empty()) {
    if (ext[0] != '.' || ext.size() > 17) __builtin_trap();
    for (std::size_t i = 1; i < ext.size(); ++i) {
      const char c = ext[i];
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) __builtin_trap();
    }
  }
  if (size >= 40) {
    std::uint64_t v[5];
    std::memcpy(v, data, sizeof(v));
    if (core::validate_chunk(v[0], v[1], v[2], v[3], v[4]) == core::ChunkVerdict::ok) {
      const auto geometry = core::ChunkGeometry::from_declared(v[0], v[1], v[2]);
      if (!geometry) __builtin_trap();
      const auto span = geometry->span(v[3]);
      if (!span || span->size != v[4] || span->offset > v[0] || span->size > v[0] - span->offset) __builtin_trap();
    }
  }
  return 0;
}
