// libFuzzer target: the filesystem store's record decoders (manifest.json in every version,
// final.json, pieces.log's variable-length piece records with their leaf digests). They read bytes
// back from disk, so they must reject anything malformed without crashing, and what they accept must
// survive an encode/decode round trip.
#include <cstdint>
#include <string>

#include "record_codec.h"

using namespace resumable;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (const auto manifest = decode_manifest(text)) {
    int version = 0;
    const auto again = decode_manifest(encode_manifest(*manifest), &version);
    if (!again || version != manifest_version || again->upload_id != manifest->upload_id || again->total_size != manifest->total_size ||
        again->protocol_fields != manifest->protocol_fields ||
        again->declared_file_digest != manifest->declared_file_digest || again->principal != manifest->principal ||
        again->partial != manifest->partial) {
      __builtin_trap();
    }
  }
  if (const auto final = decode_final_record(text)) {
    const auto again = decode_final_record(encode_final_record(*final));
    if (!again || again->token != final->token || again->file_digest != final->file_digest) __builtin_trap();
  }
  // pieces.log read as the store reads it: record after record until one does not decode.
  std::span<const std::uint8_t> log(data, size);
  for (int records = 0; records < 64 && !log.empty(); ++records) {
    std::size_t consumed = 0;
    const auto record = decode_piece_record(log, consumed);
    if (!record) break;
    const auto bytes = encode_piece_record(*record);
    if (consumed == 0 || consumed > log.size() || bytes.size() != consumed ||
        !std::equal(bytes.begin(), bytes.end(), log.begin())) {
      __builtin_trap();
    }
    log = log.subspan(consumed);
  }
  return 0;
}
