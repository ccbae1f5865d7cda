#include "hash_checkpoint.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace resumable {

namespace {

// Version 2 counts bytes (version 1 counted resumable.js chunks and is not read: a restart then
// re-reads the file once).
constexpr char magic[8] = {'R', 'S', 'M', 'H', 'A', 'S', 'H', '2'};
constexpr std::size_t implementation_bytes = 16;
constexpr std::size_t check_bytes = 8;
constexpr std::size_t body_bytes = sizeof(magic) + implementation_bytes + 8 + core::Blake2b256::saved_state_bytes;

std::array<std::uint8_t, implementation_bytes> implementation_field() {
  std::array<std::uint8_t, implementation_bytes> field{};
  const auto id = core::hash_implementation_id();
  std::memcpy(field.data(), id.data(), std::min(id.size(), field.size()));
  return field;
}

}  // namespace

std::vector<std::uint8_t> encode_hash_checkpoint(std::uint64_t hashed_bytes, const core::Blake2b256& state) {
  std::vector<std::uint8_t> blob(body_bytes);
  std::size_t at = 0;
  std::memcpy(blob.data(), magic, sizeof(magic));
  at += sizeof(magic);
  const auto implementation = implementation_field();
  std::memcpy(blob.data() + at, implementation.data(), implementation.size());
  at += implementation.size();
  for (int i = 0; i < 8; ++i) blob[at + i] = static_cast<std::uint8_t>(hashed_bytes >> (8 * i));
  at += 8;
  const auto saved = state.save_state();
  std::memcpy(blob.data() + at, saved.data(), saved.size());
  const auto check = core::blake2b256(blob.data(), blob.size());
  blob.insert(blob.end(), check.begin(), check.begin() + check_bytes);
  return blob;
}

std::optional<HashCheckpoint> decode_hash_checkpoint(std::span<const std::uint8_t> blob) {
  if (blob.size() != body_bytes + check_bytes) return std::nullopt;
  const auto check = core::blake2b256(blob.data(), body_bytes);
  if (!std::equal(check.begin(), check.begin() + check_bytes, blob.begin() + body_bytes)) return std::nullopt;
  if (std::memcmp(blob.data(), magic, sizeof(magic)) != 0) return std::nullopt;
  const auto implementation = implementation_field();
  if (std::memcmp(blob.data() + sizeof(magic), implementation.data(), implementation.size()) != 0) return std::nullopt;
  std::size_t at = sizeof(magic) + implementation_bytes;
  HashCheckpoint checkpoint;
  for (int i = 0; i < 8; ++i) checkpoint.hashed_bytes |= std::uint64_t{blob[at + i]} << (8 * i);
  at += 8;
  checkpoint.state.restore_state(blob.subspan(at).first<core::Blake2b256::saved_state_bytes>());
  return checkpoint;
}

}  // namespace resumable
