// Deterministic test bytes and the golden vectors (vectors.json, tree_vectors.json), shared by the unit tests. The byte generator
// mirrors tests/vectors/testdata.mjs (xorshift32, four bytes per step, little-endian).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace resumable::testing {

inline std::vector<std::uint8_t> test_bytes(std::size_t length, std::uint32_t seed) {
  std::vector<std::uint8_t> out(length);
  std::uint32_t x = seed != 0 ? seed : 1;
  for (std::size_t i = 0; i < length; i += 4) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    for (std::size_t b = 0; b < 4 && i + b < length; ++b) out[i + b] = static_cast<std::uint8_t>(x >> (8 * b));
  }
  return out;
}

inline nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

inline const nlohmann::json& golden_vectors() {
  static const nlohmann::json vectors = read_json_file(RESUMABLE_VECTORS_PATH);
  return vectors;
}

#ifdef RESUMABLE_TREE_VECTORS_PATH
// tests/vectors/tree_vectors.json, the tree digest's vectors from the Python reference.
inline const nlohmann::json& tree_vectors() {
  static const nlohmann::json vectors = read_json_file(RESUMABLE_TREE_VECTORS_PATH);
  return vectors;
}
#endif

// 64-bit values are stored as decimal strings in vectors.json.
inline std::uint64_t u64(const nlohmann::json& value) {
  return value.is_string() ? std::stoull(value.get<std::string>()) : value.get<std::uint64_t>();
}

}  // namespace resumable::testing
