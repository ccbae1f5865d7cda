// Encodings of what a backend persists: the manifest and final record (JSON), chunk records (fixed
// 48 bytes: number LE64, digest, first 8 bytes of BLAKE2b-256 over the first 40 as a check).
// Decoders never throw and reject anything malformed (these bytes come back from disk).
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string>

#include "resumable/storage.h"

namespace resumable {

inline constexpr std::size_t chunk_record_bytes = 48;

std::array<std::uint8_t, chunk_record_bytes> encode_chunk_record(const ChunkRecord& record);
std::optional<ChunkRecord> decode_chunk_record(std::span<const std::uint8_t> bytes);

std::string encode_manifest(const UploadManifest& manifest);
std::optional<UploadManifest> decode_manifest(const std::string& text);

std::string encode_final_record(const FinalRecord& record);
std::optional<FinalRecord> decode_final_record(const std::string& text);

// ".ext" (lower case) when the name ends in 1–16 ASCII letters or digits after a dot, else "".
std::string safe_extension(const std::string& file_name);

}  // namespace resumable
