#include "record_codec.h"

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

std::array<std::uint8_t, piece_record_bytes> encode_piece_record(const PieceRecord& record) {
  std::array<std::uint8_t, piece_record_bytes> bytes{};
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<std::uint8_t>(record.offset >> (8 * i));
  for (int i = 0; i < 8; ++i) bytes[8 + i] = static_cast<std::uint8_t>(record.size >> (8 * i));
  std::copy(record.digest.begin(), record.digest.end(), bytes.begin() + 16);
  const auto check = record_check(std::span(bytes.data(), 48));
  std::copy(check.begin(), check.end(), bytes.begin() + 48);
  return bytes;
}

std::optional<PieceRecord> decode_piece_record(std::span<const std::uint8_t> bytes) {
  if (bytes.size() != piece_record_bytes) return std::nullopt;
  const auto check = record_check(bytes.first(48));
  if (!std::equal(check.begin(), check.end(), bytes.begin() + 48)) return std::nullopt;
  PieceRecord record;
  for (int i = 0; i < 8; ++i) record.offset |= std::uint64_t{bytes[i]} << (8 * i);
  for (int i = 0; i < 8; ++i) record.size |= std::uint64_t{bytes[8 + i]} << (8 * i);
  std::copy(bytes.begin() + 16, bytes.begin() + 48, record.digest.begin());
  return record;
}

std::optional<ChunkRecordV1> decode_chunk_record_v1(std::span<const std::uint8_t> bytes) {
  if (bytes.size() != chunk_record_v1_bytes) return std::nullopt;
  const auto check = record_check(bytes.first(40));
  if (!std::equal(check.begin(), check.end(), bytes.begin() + 40)) return std::nullopt;
  ChunkRecordV1 record;
  for (int i = 0; i < 8; ++i) record.number |= std::uint64_t{bytes[i]} << (8 * i);
  std::copy(bytes.begin() + 8, bytes.begin() + 40, record.digest.begin());
  return record;
}

std::string encode_manifest(const UploadManifest& m) {
  json fields = json::object();
  for (const auto& [name, value] : m.protocol_fields) fields[name] = value;
  json j = {{"version", 2},
            {"uploadId", m.upload_id},
            {"principal", m.principal},
            {"identifier", m.identifier},
            {"fileName", m.file_name},
            {"relativePath", m.relative_path},
            {"mimeType", m.mime_type},
            {"totalSize", m.total_size ? json(*m.total_size) : json()},
            {"declaredFileDigest", m.declared_file_digest ? json(core::to_hex(*m.declared_file_digest)) : json()},
            {"protocolFields", std::move(fields)},
            {"createdUnix", m.created_unix}};
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::optional<UploadManifest> decode_manifest(const std::string& text, int* version_read) {
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  UploadManifest m;
  try {
    const std::int64_t version = integer_field(j, "version");
    if (version != 1 && version != 2) return std::nullopt;
    if (version_read != nullptr) *version_read = static_cast<int>(version);
    m.upload_id = string_field(j, "uploadId");
    m.principal = string_field(j, "principal");
    m.identifier = string_field(j, "identifier");
    m.file_name = string_field(j, "fileName");
    m.relative_path = string_field(j, "relativePath");
    m.mime_type = string_field(j, "mimeType");
    if (version == 1 || !j.at("totalSize").is_null()) m.total_size = unsigned_field(j, "totalSize");
    m.created_unix = integer_field(j, "createdUnix");
    if (!plausible_unix_seconds(m.created_unix)) return std::nullopt;
    const json& declared = j.at("declaredFileDigest");
    if (!declared.is_null()) {
      m.declared_file_digest = optional_digest(declared);
      if (!m.declared_file_digest) return std::nullopt;
    }
    if (version == 1) {
      // Version 1 knew only resumable.js chunks; these are the resumable.js front-end's fields.
      m.protocol_fields["chunkSize"] = std::to_string(unsigned_field(j, "chunkSize"));
      m.protocol_fields["chunkCount"] = std::to_string(unsigned_field(j, "chunkCount"));
    } else {
      const json& fields = j.at("protocolFields");
      if (!fields.is_object()) return std::nullopt;
      for (const auto& [name, value] : fields.items()) {
        if (!value.is_string()) return std::nullopt;
        m.protocol_fields[name] = value.get<std::string>();
      }
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
