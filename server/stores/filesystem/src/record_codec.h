// The filesystem store's record formats, decoded defensively (these bytes come back from disk and
// may be torn or damaged; decoders never throw and refuse anything malformed):
//   manifest.json  version 2: the UploadManifest as JSON (version 1, written before the upload
//                  core learnt byte ranges, had chunkSize/chunkCount; it is read as the resumable.js
//                  front-end's fields, so uploads in progress survive an upgrade)
//   pieces.log     56-byte records: offset LE64, size LE64, digest, check (first 8 bytes of the
//                  BLAKE2b-256 of the first 48)
//   chunks.log     version 1's 48-byte records: chunk number LE64, digest, check (read only)
//   final.json     the FinalRecord as JSON
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string>

#include "resumable/upload_store.h"

namespace resumable {

inline constexpr std::size_t piece_record_bytes = 56;
inline constexpr std::size_t chunk_record_v1_bytes = 48;

std::array<std::uint8_t, piece_record_bytes> encode_piece_record(const PieceRecord& record);
std::optional<PieceRecord> decode_piece_record(std::span<const std::uint8_t> bytes);

// A version 1 record: the chunk number and its digest.
struct ChunkRecordV1 {
  std::uint64_t number = 0;
  core::Digest digest{};
};
std::optional<ChunkRecordV1> decode_chunk_record_v1(std::span<const std::uint8_t> bytes);

std::string encode_manifest(const UploadManifest& manifest);
// `version` (if given) says which version was read.
std::optional<UploadManifest> decode_manifest(const std::string& text, int* version = nullptr);

std::string encode_final_record(const FinalRecord& record);
std::optional<FinalRecord> decode_final_record(const std::string& text);

// ".ext" (lower case) when the name ends in 1–16 ASCII letters or digits after a dot, else "".
std::string safe_extension(const std::string& file_name);

}  // namespace resumable
