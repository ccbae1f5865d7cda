// The tree digest (docs/digest.md) of the native core against the vectors the Python reference
// generated (tests/vectors/tree_vectors.json), fed in awkward splits, and its C ABI.
#include <catch2/catch.hpp>

#include "resumable/core_c_api.h"
#include "resumable/tree_digest.h"
#include "test_data.h"

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <vector>

using namespace resumable::core;
using resumable::testing::test_bytes;
using resumable::testing::tree_vectors;

namespace {

using Bytes = std::vector<std::uint8_t>;

// Ways of cutting a stream into update() calls: byte by byte at first, then odd sizes that straddle
// leaf boundaries, whole leaves, and one call for everything.
const std::vector<std::vector<std::size_t>> splits = {
    {1, 63, 4097, 1000003, 1048575, 3, 1048577},
    {leaf_bytes},
    {leaf_bytes - 1, 2},
    {std::numeric_limits<std::size_t>::max()},
};

template <typename Feed>
void feed_in_pieces(std::span<const std::uint8_t> bytes, const std::vector<std::size_t>& sizes, Feed&& feed) {
  std::size_t position = 0;
  for (std::size_t i = 0; position < bytes.size(); ++i) {
    const std::size_t n = std::min(sizes[i % sizes.size()], bytes.size() - position);
    feed(bytes.subspan(position, n));
    position += n;
  }
}

std::vector<std::string> hex_leaves(LeafHasher hasher, std::span<const std::uint8_t> bytes,
                                    const std::vector<std::size_t>& sizes, std::uint64_t first_index) {
  std::vector<std::string> leaves;
  const auto collect = [&](const Leaf& leaf) {
    CHECK(leaf.index == first_index + leaves.size());
    leaves.push_back(to_hex(leaf.digest));
  };
  feed_in_pieces(bytes, sizes, [&](std::span<const std::uint8_t> piece) { hasher.update(piece, collect); });
  hasher.finish(collect);
  return leaves;
}

std::vector<Digest> digests_of(const nlohmann::json& hex_list) {
  std::vector<Digest> out;
  for (const auto& hex : hex_list) out.push_back(*digest_from_hex(hex.get<std::string>()));
  return out;
}

std::string hex_or_none(const std::optional<Digest>& digest) { return digest ? to_hex(*digest) : "none"; }

Bytes file_bytes(const nlohmann::json& file) {
  return test_bytes(file["size"].get<std::size_t>(), file["seed"].get<std::uint32_t>());
}

}  // namespace

TEST_CASE("tree digest: the vectors are for 1 MiB leaves", "[tree-digest]") {
  CHECK(tree_vectors()["leaf_bytes"].get<std::uint64_t>() == leaf_bytes);
  CHECK(leaf_bytes == 1048576);
}

TEST_CASE("tree digest: leaf digests and file digests equal the Python reference for every split of the input", "[tree-digest]") {
  for (const auto& file : tree_vectors()["files"]) {
    const Bytes bytes = file_bytes(file);
    const auto expected_leaves = file["leaves"].get<std::vector<std::string>>();
    INFO("file of " << bytes.size() << " bytes");
    REQUIRE(leaf_count(bytes.size()) == expected_leaves.size());
    for (const auto& sizes : splits) {
      INFO("first update of " << sizes.front() << " bytes");
      CHECK(hex_leaves(LeafHasher{}, bytes, sizes, 0) == expected_leaves);
    }
    const auto leaves = digests_of(file["leaves"]);
    const auto digest = file_digest_from_leaves(leaves, bytes.size());
    REQUIRE(digest);
    CHECK(to_hex(*digest) == file["file_digest"].get<std::string>());

    FileDigestHasher streaming;
    for (const auto& leaf : leaves) streaming.add_leaf(leaf);
    CHECK(streaming.finish(bytes.size()) == digest);
  }
}

TEST_CASE("tree digest: chunk digests equal the Python reference, aligned from their leaves, unaligned from their bytes", "[tree-digest]") {
  std::size_t aligned = 0, unaligned = 0;
  for (const auto& file : tree_vectors()["files"]) {
    const Bytes bytes = file_bytes(file);
    const auto file_leaves = file["leaves"].get<std::vector<std::string>>();
    for (const auto& chunking : file["chunkings"]) {
      for (const auto& c : chunking["chunks"]) {
        const auto offset = c["offset"].get<std::uint64_t>();
        const auto size = c["size"].get<std::uint64_t>();
        const auto expected = c["digest"].get<std::string>();
        const std::span<const std::uint8_t> chunk(bytes.data() + offset, size);
        INFO("file of " << bytes.size() << " bytes, chunk size " << chunking["chunk_size"] << " ("
                        << chunking["mode"].get<std::string>() << "), chunk " << c["number"]);
        REQUIRE(chunk_is_leaf_aligned(offset, size, bytes.size()) == c["leaf_aligned"].get<bool>());
        CHECK(hex_or_none(chunk_digest(chunk, offset, bytes.size())) == expected);

        if (c["leaf_aligned"].get<bool>()) {
          ++aligned;
          const auto first = offset / leaf_bytes;
          const auto count = leaf_count(size);
          REQUIRE(first + count <= file_leaves.size());
          const std::vector<std::string> expected_leaves(file_leaves.begin() + first, file_leaves.begin() + first + count);
          std::vector<Digest> leaves;
          for (const auto& sizes : splits) {
            const auto hasher = LeafHasher::starting_at(offset);
            REQUIRE(hasher);
            CHECK(hasher->position() == offset);
            const auto hex = hex_leaves(*hasher, chunk, sizes, first);
            CHECK(hex == expected_leaves);
            leaves = digests_of(hex);
          }
          CHECK(hex_or_none(chunk_digest_from_leaves(leaves)) == expected);
        } else {
          ++unaligned;
          for (const auto& sizes : splits) {
            BytesChunkHasher hasher;
            feed_in_pieces(chunk, sizes, [&](std::span<const std::uint8_t> piece) { hasher.update(piece); });
            CHECK(to_hex(hasher.finish()) == expected);
          }
        }
      }
    }
  }
  // The vectors exercise both rules.
  CHECK(aligned > 20);
  CHECK(unaligned > 20);
}

TEST_CASE("tree digest: leaf-aligned means starting on a leaf boundary and ending on one or at the end of the file", "[tree-digest]") {
  constexpr std::uint64_t L = leaf_bytes;
  constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  CHECK(chunk_is_leaf_aligned(0, 0, 0));             // the empty file's one chunk
  CHECK_FALSE(chunk_is_leaf_aligned(0, 0, 1));       // no other empty range is a chunk
  CHECK_FALSE(chunk_is_leaf_aligned(L, 0, 2 * L));
  CHECK(chunk_is_leaf_aligned(0, 1, 1));
  CHECK(chunk_is_leaf_aligned(0, L, 3 * L + 5));
  CHECK(chunk_is_leaf_aligned(L, 2 * L, 3 * L + 5));
  CHECK(chunk_is_leaf_aligned(2 * L, L + 5, 3 * L + 5));
  CHECK_FALSE(chunk_is_leaf_aligned(0, L - 1, 3 * L));
  CHECK_FALSE(chunk_is_leaf_aligned(1, L, 3 * L));
  CHECK_FALSE(chunk_is_leaf_aligned(0, L + 1, 3 * L));
  CHECK_FALSE(chunk_is_leaf_aligned(0, 3 * L + 1, 3 * L));  // past the end
  CHECK_FALSE(chunk_is_leaf_aligned(4 * L, L, 3 * L));
  CHECK_FALSE(chunk_is_leaf_aligned(max - L + 1, 2 * L, max));  // no overflow
  CHECK(chunk_is_leaf_aligned(max / L * L, max % L, max));

  CHECK(leaf_count(0) == 1);
  CHECK(leaf_count(1) == 1);
  CHECK(leaf_count(L) == 1);
  CHECK(leaf_count(L + 1) == 2);
  CHECK(leaf_count(max) == max / L + 1);
}

TEST_CASE("tree digest: leaf hashers start only on leaf boundaries and report the empty leaf only for the empty file", "[tree-digest]") {
  CHECK_FALSE(LeafHasher::starting_at(1));
  CHECK_FALSE(LeafHasher::starting_at(leaf_bytes - 1));
  REQUIRE(LeafHasher::starting_at(3 * leaf_bytes));

  std::vector<Leaf> leaves;
  const auto collect = [&](const Leaf& leaf) { leaves.push_back(leaf); };
  LeafHasher at_start;
  at_start.finish(collect);
  REQUIRE(leaves.size() == 1);
  CHECK(leaves[0].index == 0);
  CHECK(to_hex(leaves[0].digest) == tree_vectors()["files"][0]["leaves"][0].get<std::string>());

  leaves.clear();
  auto later = *LeafHasher::starting_at(2 * leaf_bytes);
  later.finish(collect);
  CHECK(leaves.empty());  // an empty range past the start covers no leaf

  // A stream that ends on a leaf boundary has no shorter last leaf; finish() restarts at offset 0.
  const Bytes one_leaf(leaf_bytes, 0x5a);
  LeafHasher hasher;
  hasher.update(one_leaf, collect);
  REQUIRE(leaves.size() == 1);
  CHECK(hasher.position() == leaf_bytes);
  hasher.finish(collect);
  CHECK(leaves.size() == 1);
  CHECK(hasher.position() == 0);
  hasher.update(one_leaf, collect);
  hasher.finish(collect);
  REQUIRE(leaves.size() == 2);
  CHECK(leaves[1].index == 0);
  CHECK(leaves[1].digest == leaves[0].digest);
}

TEST_CASE("tree digest: digests from leaf lists refuse lists that cannot be a chunk's or the file's", "[tree-digest]") {
  const auto& file = tree_vectors()["files"].back();
  const auto leaves = digests_of(file["leaves"]);
  const auto size = file["size"].get<std::uint64_t>();
  CHECK_FALSE(chunk_digest_from_leaves({}));
  CHECK_FALSE(file_digest_from_leaves(std::span(leaves).first(leaves.size() - 1), size));
  CHECK_FALSE(file_digest_from_leaves(leaves, size - 8));  // one leaf fewer than listed
  CHECK_FALSE(file_digest_from_leaves(leaves, size + leaf_bytes));
  CHECK_FALSE(file_digest_from_leaves({}, 0));
  // The size is part of the root: a list that fits two sizes gives two digests.
  const auto a = file_digest_from_leaves(leaves, size);
  const auto b = file_digest_from_leaves(leaves, size + 1);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(*a != *b);

  FileDigestHasher hasher;
  hasher.add_leaf(leaves[0]);
  CHECK_FALSE(hasher.finish(2 * leaf_bytes));
  hasher.add_leaf(leaves[0]);  // finish() reset the state: this is a fresh list of one leaf
  CHECK(hasher.finish(leaf_bytes) == file_digest_from_leaves(std::span(leaves).first(1), leaf_bytes));

  const Bytes bytes = file_bytes(file);
  CHECK_FALSE(chunk_digest(std::span(bytes).first(10), size - 5, size));  // past the end
  CHECK_FALSE(chunk_digest({}, 0, size));
}

TEST_CASE("tree digest: the C ABI gives the same tree digests and refuses bad arguments", "[tree-digest][c-api]") {
  REQUIRE(rsm_leaf_bytes() == leaf_bytes);
  const auto& file = tree_vectors()["files"].back();
  const Bytes bytes = file_bytes(file);
  const auto size = bytes.size();
  const auto expected = file["leaves"].get<std::vector<std::string>>();
  const auto count = static_cast<std::size_t>(rsm_leaf_count(size));
  REQUIRE(count == expected.size());

  const auto hex_at = [](const Bytes& list, std::size_t i) {
    Digest d{};
    std::copy_n(list.begin() + static_cast<std::ptrdiff_t>(i * digest_bytes), digest_bytes, d.begin());
    return to_hex(d);
  };
  Bytes leaves(count * digest_bytes);
  CHECK(rsm_leaf_digests(leaves.data(), count - 1, bytes.data(), size) == -1);
  REQUIRE(rsm_leaf_digests(leaves.data(), count, bytes.data(), size) == 0);
  for (std::size_t i = 0; i < count; ++i) CHECK(hex_at(leaves, i) == expected[i]);

  Digest out{};
  REQUIRE(rsm_file_digest_from_leaves(out.data(), leaves.data(), count, size) == 0);
  CHECK(to_hex(out) == file["file_digest"].get<std::string>());
  CHECK(rsm_file_digest_from_leaves(out.data(), leaves.data(), count - 1, size) == -1);
  CHECK(rsm_file_digest_from_leaves(nullptr, leaves.data(), count, size) == -1);

  // Streaming, from a leaf boundary in the middle of the file, in odd pieces.
  const std::size_t alignment = rsm_leaf_hasher_alignment();
  const std::size_t room = (rsm_leaf_hasher_bytes() + alignment - 1) / alignment * alignment;
  std::unique_ptr<void, decltype(&std::free)> hasher(std::aligned_alloc(alignment, room), &std::free);
  REQUIRE(hasher);
  CHECK(rsm_leaf_hasher_init(hasher.get(), 1) == -1);
  CHECK(rsm_leaf_hasher_init(static_cast<unsigned char*>(hasher.get()) + 8, 0) == -1);
  REQUIRE(rsm_leaf_hasher_init(hasher.get(), 2 * leaf_bytes) == 0);
  Bytes streamed;
  Bytes room_for_two(2 * digest_bytes);
  std::size_t written = 99;
  CHECK(rsm_leaf_hasher_update(hasher.get(), bytes.data() + 2 * leaf_bytes, leaf_bytes, nullptr, 0, &written) == -1);
  feed_in_pieces(std::span(bytes).subspan(2 * leaf_bytes), {1000003, 7, leaf_bytes + 1}, [&](std::span<const std::uint8_t> piece) {
    REQUIRE(rsm_leaf_hasher_update(hasher.get(), piece.data(), piece.size(), room_for_two.data(), 2, &written) == 0);
    streamed.insert(streamed.end(), room_for_two.begin(), room_for_two.begin() + static_cast<std::ptrdiff_t>(written * digest_bytes));
  });
  REQUIRE(rsm_leaf_hasher_final(hasher.get(), room_for_two.data(), &written) == 0);
  streamed.insert(streamed.end(), room_for_two.begin(), room_for_two.begin() + static_cast<std::ptrdiff_t>(written * digest_bytes));
  REQUIRE(streamed.size() == (count - 2) * digest_bytes);
  for (std::size_t i = 2; i < count; ++i) CHECK(hex_at(streamed, i - 2) == expected[i]);

  // A leaf-aligned chunk from its leaves: chunk 2 of 4 MiB chunks with forceChunkSize (leaves 4 to 7).
  REQUIRE(rsm_chunk_digest_from_leaves(out.data(), leaves.data() + 4 * digest_bytes, 4) == 0);
  const auto& by_4mib = file["chunkings"][3];
  REQUIRE(by_4mib["chunk_size"].get<std::uint64_t>() == 4 * leaf_bytes);
  REQUIRE(by_4mib["mode"] == "force_chunk_size");
  REQUIRE(by_4mib["chunks"][1]["size"].get<std::uint64_t>() == 4 * leaf_bytes);
  CHECK(to_hex(out) == by_4mib["chunks"][1]["digest"].get<std::string>());
  CHECK(rsm_chunk_digest_from_leaves(out.data(), leaves.data(), 0) == -1);
  CHECK(rsm_chunk_is_leaf_aligned(4 * leaf_bytes, 4 * leaf_bytes, size) == 1);
  CHECK(rsm_chunk_is_leaf_aligned(1000000, 1000000, size) == 0);

  // An unaligned chunk from its bytes, one-shot and streaming in the hash state.
  const auto& by_million = file["chunkings"][4];
  REQUIRE(by_million["chunk_size"].get<std::uint64_t>() == 1000000);
  const auto& chunk = by_million["chunks"][1];
  const auto* chunk_bytes = bytes.data() + chunk["offset"].get<std::size_t>();
  const auto chunk_size = chunk["size"].get<std::size_t>();
  REQUIRE(rsm_bytes_chunk_digest(out.data(), chunk_bytes, chunk_size) == 0);
  CHECK(to_hex(out) == chunk["digest"].get<std::string>());
  std::unique_ptr<void, decltype(&std::free)> state(
      std::aligned_alloc(rsm_hash_state_alignment(), (rsm_hash_state_bytes() + 63) / 64 * 64), &std::free);
  REQUIRE(state);
  for (int round = 0; round < 2; ++round) {  // final() re-initialises for the next chunk
    if (round == 0) REQUIRE(rsm_bytes_chunk_init(state.get()) == 0);
    REQUIRE(rsm_bytes_chunk_update(state.get(), chunk_bytes, 12345) == 0);
    REQUIRE(rsm_bytes_chunk_update(state.get(), chunk_bytes + 12345, chunk_size - 12345) == 0);
    REQUIRE(rsm_bytes_chunk_final(state.get(), out.data()) == 0);
    CHECK(to_hex(out) == chunk["digest"].get<std::string>());
  }
  CHECK(rsm_bytes_chunk_init(nullptr) == -1);
  CHECK(rsm_bytes_chunk_update(state.get(), nullptr, 1) == -1);
  CHECK(rsm_bytes_chunk_final(state.get(), nullptr) == -1);
  CHECK(rsm_bytes_chunk_digest(nullptr, chunk_bytes, 1) == -1);
}
