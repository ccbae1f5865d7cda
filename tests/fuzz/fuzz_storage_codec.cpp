// libFuzzer target: the decoders of persisted upload state (manifest.json, final.json, 48-byte chunk
// records). They read bytes back from disk, so they must reject anything malformed without crashing,
// and what they accept must survive an encode/decode round trip.
#include <cstdint>
#include <string>

#include "storage_codec.h"

using namespace resumable;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (const auto manifest = decode_manifest(text)) {
    const auto again = decode_manifest(encode_manifest(*manifest));
    if (!again || again->upload_id != manifest->upload_id || again->total_size != manifest->total_size ||
        again->chunk_count != manifest->chunk_count || again->chunk_size != manifest->chunk_size ||
        again->declared_file_digest != manifest->declared_file_digest) {
      __builtin_trap();
    }
  }
  if (const auto final = decode_final_record(text)) {
    const auto again = decode_final_record(encode_final_record(*final));
    if (!again || again->token != final->token || again->file_digest != final->file_digest) __builtin_trap();
  }
  for (std::size_t at = 0; at + chunk_record_bytes <= size && at < 48 * 64; at += chunk_record_bytes) {
    if (const auto record = decode_chunk_record(std::span(data + at, chunk_record_bytes))) {
      const auto bytes = encode_chunk_record(*record);
      if (!std::equal(bytes.begin(), bytes.end(), data + at)) __builtin_trap();
    }
  }
  (void)decode_chunk_record(std::span(data, size));
  return 0;
}
