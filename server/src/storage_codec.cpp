#include "storage_codec.h"

#include <nlohmann/json.hpp>

namespace resumable {

using nlohmann::json;

namespace {

std::array<std::uint8_t, 8> record_check(std::span<const std::uint8_t> first40) {
  const auto digest = core::blake2b256(first40.data(), first40.size());
  std::array<std::uint8_t, 8> check{};
  std::copy_n(digest.begin(), check.size(), check.begin());
  return check;
}

// Timestamps come back from disk: outside [0, 2^33] s (until the year 2242) they are corrupt, and
// could overflow std::chrono's nanoseconds (which end in 2262) when turned into a time_point.
bool plausible_unix_seconds(std::int64_t t) { return t >= 0 && t <= (std::int64_t{1} << 33); }

// Typed reads that refuse instead of converting: nlohmann's get<integer>() casts a stored double,
// which is undefined behaviour when it is out of range (found by fuzzing the state reader).
std::uint64_t unsigned_field(const json& object, const char* name) {
  const json& value = object.at(name);
  if (!value.is_number_unsigned()) throw json::type_error::create(302, std::string(name) + " is not unsigned", &value);
  return value.get<std::uint64_t>();
}

std::int64_t integer_field(const json& object, const char* name) {
  const json& value = object.at(name);
  if (!value.is_number_integer()) throw json::type_error::create(302, std::string(name) + " is not an integer", &value);
  return value.get<std::int64_t>();
}

std::string string_field(const json& object, const char* name) {
  const json& value = object.at(name);
  if (!value.is_string()) throw json::type_error::create(302, std::string(name) + " is not a string", &value);
  return value.get<std::string>();
}

std::optional<core::Digest> optional_digest(const json& value) {
  if (!value.is_string()) return std::nullopt;
  return core::digest_from_hex(value.get<std::string>());
}

}  // namespace

std::array<std::uint8_t, chunk_record_bytes> encode_chunk_record(const ChunkRecord& record) {
  std::array<std::uint8_t, chunk_record_bytes> bytes{};
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<std::uint8_t>(record.number >> (8 * i));
  std::copy(record.digest.begin(), record.digest.end(), bytes.begin() + 8);
  const auto check = record_check(std::span(bytes.data(), 40));
  std::copy(check.begin(), check.end(), bytes.begin() + 40);
  return bytes;
}

std::optional<ChunkRecord> decode_chunk_record(std::span<const std::uint8_t> bytes) {
  if (bytes.size() != chunk_record_bytes) return std::nullopt;
  const auto check = record_check(bytes.first(40));
  if (!std::equal(check.begin(), check.end(), bytes.begin() + 40)) return std::nullopt;
  ChunkRecord record;
  for (int i = 0; i < 8; ++i) record.number |= std::uint64_t{bytes[i]} << (8 * i);
  std::copy(bytes.begin() + 8, bytes.begin() + 40, record.digest.begin());
  return record;
}

std::string encode_manifest(const UploadManifest& m) {
  json j = {{"version", 1},
            {"uploadId", m.upload_id},
            {"principal", m.principal},
            {"identifier", m.identifier},
            {"fileName", m.file_name},
            {"relativePath", m.relative_path},
            {"mimeType", m.mime_type},
            {"totalSize", m.total_size},
            {"chunkSize", m.chunk_size},
            {"chunkCount", m.chunk_count},
            {"declaredFileDigest", m.declared_file_digest ? json(core::to_hex(*m.declared_file_digest)) : json()},
            {"createdUnix", m.created_unix}};
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::optional<UploadManifest> decode_manifest(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  UploadManifest m;
  try {
    if (integer_field(j, "version") != 1) return std::nullopt;
    m.upload_id = string_field(j, "uploadId");
    m.principal = string_field(j, "principal");
    m.identifier = string_field(j, "identifier");
    m.file_name = string_field(j, "fileName");
    m.relative_path = string_field(j, "relativePath");
    m.mime_type = string_field(j, "mimeType");
    m.total_size = unsigned_field(j, "totalSize");
    m.chunk_size = unsigned_field(j, "chunkSize");
    m.chunk_count = unsigned_field(j, "chunkCount");
    m.created_unix = integer_field(j, "createdUnix");
    if (!plausible_unix_seconds(m.created_unix)) return std::nullopt;
    const json& declared = j.at("declaredFileDigest");
    if (!declared.is_null()) {
      m.declared_file_digest = optional_digest(declared);
      if (!m.declared_file_digest) return std::nullopt;
    }
  } catch (const json::exception&) {
    return std::nullopt;
  }
  return m;
}

std::string encode_final_record(const FinalRecord& r) {
  json j = {{"version", 1},
            {"token", r.token},
            {"fileDigest", core::to_hex(r.file_digest)},
            {"location", r.location},
            {"completedUnix", r.completed_unix}};
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::optional<FinalRecord> decode_final_record(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  FinalRecord r;
  try {
    if (integer_field(j, "version") != 1) return std::nullopt;
    r.token = string_field(j, "token");
    r.location = string_field(j, "location");
    r.completed_unix = integer_field(j, "completedUnix");
    if (!plausible_unix_seconds(r.completed_unix)) return std::nullopt;
    const auto digest = optional_digest(j.at("fileDigest"));
    if (!digest || r.token.size() != 64) return std::nullopt;
    r.file_digest = *digest;
  } catch (const json::exception&) {
    return std::nullopt;
  }
  return r;
}

std::string safe_extension(const std::string& file_name) {
  const auto dot = file_name.rfind('.');
  if (dot == std::string::npos || dot == 0 || file_name.size() - dot - 1 > 16 || dot + 1 == file_name.size()) return "";
  std::string ext = ".";
  for (std::size_t i = dot + 1; i < file_name.size(); ++i) {
    const char c = file_name[i];
    if (c >= 'A' && c <= 'Z') {
      ext += static_cast<char>(c - 'A' + 'a');
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      ext += c;
    } else {
      return "";
    }
  }
  return ext;
}

}  // namespace resumable
