// The filesystem store's record formats, decoded defensively (these bytes come back from disk and
// may be torn or damaged; decoders never throw and refuse anything malformed):
//   manifest.json  version 3: the UploadManifest as JSON. Versions 1 and 2 were written before the
//                  tree digest (docs/digest.md): their digests are of another algorithm, so their
//                  pieces are not trusted as records and a declared file digest is dropped (the
//                  store then asks for the pieces again; see FilesystemStore::open).
//   pieces.log     one record per committed piece: offset LE64, size LE64, chunk digest, first leaf
//                  LE64, leaf count LE32, the leaf digests, check (first 8 bytes of the BLAKE2b-256
//                  of everything before it in the record)
//   final.json     the FinalRecord as JSON
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "resumable/upload_store.h"

namespace resumable {

inline constexpr int manifest_version = 3;

std::vector<std::uint8_t> encode_piece_record(const PieceRecord& record);
// The record at the start of `bytes` and, in `consumed`, its length; nullopt for a torn or damaged
// one (or one with more leaves than its size can have).
std::optional<PieceRecord> decode_piece_record(std::span<const std::uint8_t> bytes, std::size_t& consumed);

std::string encode_manifest(const UploadManifest& manifest);
// `version` (if given) says which version was read; versions below manifest_version come without
// their declared file digest (another algorithm's).
std::optional<UploadManifest> decode_manifest(const std::string& text, int* version = nullptr);

std::string encode_final_record(const FinalRecord& record);
std::optional<FinalRecord> decode_final_record(const std::string& text);

// ".ext" (lower case) when the name ends in 1–16 ASCII letters or digits after a dot, else "".
std::string safe_extension(const std::string& file_name);

}  // namespace resumable
