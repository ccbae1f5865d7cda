#include <catch2/catch.hpp>

#include "resumable/core_c_api.h"
#include "resumable/digest.h"
#include "test_data.h"

#include <cstdlib>
#include <memory>

using namespace resumable::core;
using resumable::testing::golden_vectors;
using resumable::testing::test_bytes;

TEST_CASE("one-shot digests equal the b2sum golden vectors", "[digest]") {
  REQUIRE(initialize_crypto());
  for (const auto& v : golden_vectors()["digests"]) {
    const auto bytes = test_bytes(v["length"].get<std::size_t>(), v["seed"].get<std::uint32_t>());
    INFO("length " << bytes.size());
    CHECK(to_hex(blake2b256(bytes.data(), bytes.size())) == v["blake2b256"].get<std::string>());
  }
}

TEST_CASE("streaming digests equal one-shot for every way of splitting the input", "[digest]") {
  for (const auto& v : golden_vectors()["digests"]) {
    const auto bytes = test_bytes(v["length"].get<std::size_t>(), v["seed"].get<std::uint32_t>());
    const auto expected = v["blake2b256"].get<std::string>();
    std::vector<std::size_t> sizes{1, 63, 64, 65, 4096};
    if (v.contains("update_sizes")) sizes = v["update_sizes"].get<std::vector<std::size_t>>();
    Blake2b256 hasher;
    std::size_t position = 0;
    for (std::size_t i = 0; position < bytes.size(); ++i) {
      const std::size_t n = std::min(sizes[i % sizes.size()], bytes.size() - position);
      hasher.update(bytes.data() + position, n);
      position += n;
    }
    INFO("length " << bytes.size());
    CHECK(to_hex(hasher.finish()) == expected);
    // finish() resets: the same object hashes the next stream from scratch.
    hasher.update(bytes.data(), bytes.size());
    CHECK(to_hex(hasher.finish()) == expected);
  }
}

TEST_CASE("the C ABI computes the same digests and refuses bad arguments", "[digest][c-api]") {
  REQUIRE(rsm_digest_bytes() == digest_bytes);
  const std::size_t alignment = rsm_hash_state_alignment();
  REQUIRE(alignment >= 64);
  const std::size_t state_bytes = (rsm_hash_state_bytes() + alignment - 1) / alignment * alignment;
  std::unique_ptr<void, decltype(&std::free)> state(std::aligned_alloc(alignment, state_bytes), &std::free);
  REQUIRE(state);

  const auto& v = golden_vectors()["digests"].back();
  const auto bytes = test_bytes(v["length"].get<std::size_t>(), v["seed"].get<std::uint32_t>());
  Digest out{};
  REQUIRE(rsm_hash_init(state.get()) == 0);
  REQUIRE(rsm_hash_update(state.get(), bytes.data(), 12345) == 0);
  REQUIRE(rsm_hash_update(state.get(), bytes.data() + 12345, bytes.size() - 12345) == 0);
  REQUIRE(rsm_hash_final(state.get(), out.data()) == 0);
  CHECK(to_hex(out) == v["blake2b256"].get<std::string>());

  REQUIRE(rsm_hash_oneshot(out.data(), bytes.data(), bytes.size()) == 0);
  CHECK(to_hex(out) == v["blake2b256"].get<std::string>());

  auto* misaligned = static_cast<unsigned char*>(state.get()) + 8;
  CHECK(rsm_hash_init(misaligned) == -1);
  CHECK(rsm_hash_init(nullptr) == -1);
  CHECK(rsm_hash_update(state.get(), nullptr, 1) == -1);
  CHECK(rsm_hash_final(state.get(), nullptr) == -1);
  CHECK(rsm_hash_oneshot(nullptr, bytes.data(), 1) == -1);
}

TEST_CASE("hex digests round-trip and malformed hex is refused", "[digest]") {
  const auto digest = blake2b256("abc", 3);
  const auto hex = to_hex(digest);
  REQUIRE(hex.size() == 64);
  CHECK(digest_from_hex(hex) == digest);
  std::string upper = hex;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(digest_from_hex(upper) == digest);
  CHECK_FALSE(digest_from_hex(hex.substr(1)));
  CHECK_FALSE(digest_from_hex(hex + "0"));
  CHECK_FALSE(digest_from_hex(std::string(63, '0') + "g"));
  CHECK_FALSE(digest_from_hex(std::string(62, '0') + " 0"));
  CHECK_FALSE(digest_from_hex(""));
}

TEST_CASE("digest comparison detects a single flipped bit", "[digest]") {
  const auto a = blake2b256("chunk", 5);
  auto b = a;
  CHECK(digests_equal(a, b));
  b[31] ^= 1;
  CHECK_FALSE(digests_equal(a, b));
}
