// The whole-file hash's checkpoint as a store keeps it (HashCheckpoints): magic, the hash
// implementation that can restore it, how many bytes it covers, the raw state, and a check value.
// A blob from another implementation, a torn or a damaged one decodes to nullopt: the core then
// hashes from the start (or, without read-back, asks for the pieces again).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "resumable/digest.h"

namespace resumable {

struct HashCheckpoint {
  std::uint64_t hashed_bytes = 0;
  core::Blake2b256 state;
};

std::vector<std::uint8_t> encode_hash_checkpoint(std::uint64_t hashed_bytes, const core::Blake2b256& state);
std::optional<HashCheckpoint> decode_hash_checkpoint(std::span<const std::uint8_t> blob);

}  // namespace resumable
