#include "record_codec.h"

#include <nlohmann/json.hpp>

#include "resumable/tree_digest.h"

namespace resumable {

using nlohmann::json;

namespace {

std::array<std::uint8_t, 8> record_check(std::span<const std::uint8_t> covered) {
  const auto digest = core::blake2b256(covered.data(), covered.size());
  std::array<std::uint8_t, 8> check{};
  std::copy_n(digest.begin(), check.size(), check.begin());
  return check;
}

void put_le(std::vector<std::uint8_t>& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

std::uint64_t get_le(std::span<const std::uint8_t> bytes, std::size_t at, int count) {
  std::uint64_t value = 0;
  for (int i = 0; i < count; ++i) value |= std::uint64_t{bytes[at + i]} << (8 * i);
  return value;
}

constexpr std::size_t record_head_bytes = 8 + 8 + core::digest_bytes + 8 + 4;
constexpr std::size_t record_check_bytes = 8;

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

std::vector<std::uint8_t> encode_piece_record(const PieceRecord& record) {
  std::vector<std::uint8_t> bytes;
  bytes.reserve(record_head_bytes + record.leaves.size() * core::digest_bytes + record_check_bytes);
  put_le(bytes, record.offset, 8);
  put_le(bytes, record.size, 8);
  bytes.insert(bytes.end(), record.digest.begin(), record.digest.end());
  put_le(bytes, record.first_leaf, 8);
  put_le(bytes, record.leaves.size(), 4);
  for (const auto& leaf : record.leaves) bytes.insert(bytes.end(), leaf.begin(), leaf.end());
  const auto check = record_check(bytes);
  bytes.insert(bytes.end(), check.begin(), check.end());
  return bytes;
}

std::optional<PieceRecord> decode_piece_record(std::span<const std::uint8_t> bytes, std::size_t& consumed) {
  if (bytes.size() < record_head_bytes + record_check_bytes) return std::nullopt;
  PieceRecord record;
  record.offset = get_le(bytes, 0, 8);
  record.size = get_le(bytes, 8, 8);
  std::copy_n(bytes.begin() + 16, core::digest_bytes, record.digest.begin());
  record.first_leaf = get_le(bytes, 48, 8);
  const std::uint64_t leaves = get_le(bytes, 56, 4);
  // A piece completes at most one leaf per 1 MiB it holds, plus the one it may end or start in.
  if (leaves > record.size / core::leaf_bytes + 2) return std::nullopt;
  const std::size_t length = record_head_bytes + static_cast<std::size_t>(leaves) * core::digest_bytes;
  if (bytes.size() < length + record_check_bytes) return std::nullopt;
  const auto check = record_check(bytes.first(length));
  if (!std::equal(check.begin(), check.end(), bytes.begin() + static_cast<std::ptrdiff_t>(length))) return std::nullopt;
  record.leaves.resize(static_cast<std::size_t>(leaves));
  for (std::size_t i = 0; i < record.leaves.size(); ++i) {
    std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(record_head_bytes + i * core::digest_bytes), core::digest_bytes,
                record.leaves[i].begin());
  }
  consumed = length + record_check_bytes;
  return record;
}

std::string encode_manifest(const UploadManifest& m) {
  json fields = json::object();
  for (const auto& [name, value] : m.protocol_fields) fields[name] = value;
  json j = {{"version", manifest_version},
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
  if (m.partial) j["partial"] = true;  // only then: manifests of other uploads read as before
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::optional<UploadManifest> decode_manifest(const std::string& text, int* version_read) {
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  UploadManifest m;
  try {
    const std::int64_t version = integer_field(j, "version");
    if (version < 1 || version > manifest_version) return std::nullopt;
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
    if (const auto partial = j.find("partial"); partial != j.end()) {
      if (!partial->is_boolean()) return std::nullopt;
      m.partial = partial->get<bool>();
    }
    const json& declared = j.at("declaredFileDigest");
    if (!declared.is_null() && version == manifest_version) {
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
