// libFuzzer target: the filesystem store's record decoders (manifest.json in both versions,
// final.json, 56-byte piece records, version 1's 48-byte chunk records). They read bytes back from
// disk, so they must reject anything malformed without crashing, and what they accept must survive
// an encode/decode round trip.
#include <cstdint>
#include <string>

#include "record_codec.h"

using namespace resumable;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (const auto manifest = decode_manifest(text)) {
    int version = 0;
    const auto again = decode_manifest(encode_manifest(*manifest), &version);
    if (!again || version != 2 || again->upload_id != manifest->upload_id || again->total_size != manifest->total_size ||
        again->protocol_fields != manifest->protocol_fields ||
        again->declared_file_digest != manifest->declared_file_digest || again->principal != manifest->principal) {
      __builtin_trap();
    }
  }
  if (const auto final = decode_final_record(text)) {
    const auto again = decode_final_record(encode_final_record(*final));
    if (!again || again->token != final->token || again->file_digest != final->file_digest) __builtin_trap();
  }
  for (std::size_t at = 0; at + piece_record_bytes <= size && at < piece_record_bytes * 64; at += piece_record_bytes) {
    if (const auto record = decode_piece_record(std::span(data + at, piece_record_bytes))) {
      const auto bytes = encode_piece_record(*record);
      if (!std::equal(bytes.begin(), bytes.end(), data + at)) __builtin_trap();
    }
  }
  for (std::size_t at = 0; at + chunk_record_v1_bytes <= size && at < chunk_record_v1_bytes * 64;
       at += chunk_record_v1_bytes) {
    (void)decode_chunk_record_v1(std::span(data + at, chunk_record_v1_bytes));
  }
  (void)decode_piece_record(std::span(data, size));
  return 0;
}
