#include <catch2/catch.hpp>

#include "resumable/chunk_geometry.h"
#include "resumable/core_c_api.h"
#include "test_data.h"

using namespace resumable::core;
using resumable::testing::golden_vectors;
using resumable::testing::u64;

namespace {

constexpr std::uint64_t MiB = 1u << 20;

ChunkMode mode_named(const std::string& name) {
  return name == "force_chunk_size" ? ChunkMode::force_chunk_size : ChunkMode::last_absorbs_remainder;
}

ChunkVerdict verdict_named(const std::string& name) {
  for (auto v : {ChunkVerdict::ok, ChunkVerdict::zero_chunk_size, ChunkVerdict::inconsistent_count,
                 ChunkVerdict::number_out_of_range, ChunkVerdict::wrong_size}) {
    if (name == to_string(v)) return v;
  }
  FAIL("unknown verdict " << name);
  return ChunkVerdict::ok;
}

}  // namespace

TEST_CASE("geometry matches the golden vectors in both client modes", "[geometry]") {
  for (const auto& c : golden_vectors()["geometry"]) {
    const std::uint64_t total = u64(c["total_size"]);
    const std::uint64_t chunk = u64(c["chunk_size"]);
    for (const auto& [mode_name, m] : c["modes"].items()) {
      INFO(c["name"].get<std::string>() << " / " << mode_name);
      const auto mode = mode_named(mode_name);
      const auto geometry = ChunkGeometry::for_mode(total, chunk, mode);
      REQUIRE(geometry);
      CHECK(geometry->chunk_count() == u64(m["chunk_count"]));
      CHECK(chunk_count_for_mode(total, chunk, mode) == u64(m["chunk_count"]));
      CHECK(rsm_chunk_count(total, chunk, mode == ChunkMode::force_chunk_size) == u64(m["chunk_count"]));
      REQUIRE(ChunkGeometry::from_declared(total, chunk, u64(m["chunk_count"])) == geometry);
      for (const auto& s : m["spans"]) {
        const auto span = geometry->span(u64(s["number"]));
        REQUIRE(span);
        CHECK(*span == ChunkSpan{u64(s["offset"]), u64(s["size"])});
        std::uint64_t offset = 0, size = 0;
        REQUIRE(rsm_chunk_span(total, chunk, geometry->chunk_count(), u64(s["number"]), &offset, &size) == 0);
        CHECK(ChunkSpan{offset, size} == *span);
      }
      CHECK_FALSE(geometry->span(0));
      CHECK_FALSE(geometry->span(geometry->chunk_count() + 1));
      for (const auto& k : m["checks"]) {
        const auto expected = verdict_named(k["verdict"].get<std::string>());
        INFO("chunk " << u64(k["number"]) << " of size " << u64(k["size"]));
        CHECK(validate_chunk(total, chunk, u64(m["chunk_count"]), u64(k["number"]), u64(k["size"])) == expected);
        CHECK(rsm_validate_chunk(total, chunk, u64(m["chunk_count"]), u64(k["number"]), u64(k["size"])) ==
              static_cast<int>(expected));
      }
    }
    for (const auto& n : c["inconsistent_counts"]) {
      CHECK_FALSE(ChunkGeometry::from_declared(total, chunk, u64(n)));
      CHECK(validate_chunk(total, chunk, u64(n), 1, chunk) == ChunkVerdict::inconsistent_count);
    }
  }
}

TEST_CASE("chunks tile the file exactly: contiguous, covering every byte once", "[geometry]") {
  for (std::uint64_t total : {0ull, 1ull, 999ull, 1000ull, 1001ull, 4999ull, 5000ull, 5001ull}) {
    for (auto mode : {ChunkMode::last_absorbs_remainder, ChunkMode::force_chunk_size}) {
      const auto geometry = ChunkGeometry::for_mode(total, 1000, mode);
      REQUIRE(geometry);
      std::uint64_t next = 0;
      for (std::uint64_t k = 1; k <= geometry->chunk_count(); ++k) {
        const auto span = geometry->span(k);
        REQUIRE(span);
        CHECK(span->offset == next);
        CHECK(validate_chunk(total, 1000, geometry->chunk_count(), k, span->size) == ChunkVerdict::ok);
        next += span->size;
      }
      CHECK(next == total);
    }
  }
}

TEST_CASE("the last chunk absorbs the remainder by default and is short with forceChunkSize", "[geometry]") {
  const auto by_default = ChunkGeometry::for_mode(2 * MiB - 1, MiB, ChunkMode::last_absorbs_remainder);
  REQUIRE(by_default->chunk_count() == 1);
  CHECK(*by_default->span(1) == ChunkSpan{0, 2 * MiB - 1});

  const auto forced = ChunkGeometry::for_mode(2 * MiB - 1, MiB, ChunkMode::force_chunk_size);
  REQUIRE(forced->chunk_count() == 2);
  CHECK(*forced->span(2) == ChunkSpan{MiB, MiB - 1});

  const auto big = ChunkGeometry::for_mode(5 * 1024 * MiB + 3, MiB, ChunkMode::last_absorbs_remainder);
  REQUIRE(big->chunk_count() == 5 * 1024);
  CHECK(*big->span(5 * 1024) == ChunkSpan{(5 * 1024 - 1) * MiB, MiB + 3});
}

TEST_CASE("hostile geometry is refused without overflow", "[geometry]") {
  constexpr std::uint64_t max = ~std::uint64_t{0};
  CHECK_FALSE(ChunkGeometry::for_mode(100, 0, ChunkMode::force_chunk_size));
  CHECK(validate_chunk(100, 0, 1, 1, 100) == ChunkVerdict::zero_chunk_size);
  CHECK(rsm_chunk_count(100, 0, 1) == 0);
  CHECK(chunk_count_for_mode(max, 1, ChunkMode::force_chunk_size) == max);
  CHECK(chunk_count_for_mode(max, 2, ChunkMode::force_chunk_size) == max / 2 + 1);
  CHECK(validate_chunk(max, 2, max / 2 + 1, max / 2 + 1, 1) == ChunkVerdict::ok);
  CHECK(validate_chunk(max, max, 1, 1, max) == ChunkVerdict::ok);
  CHECK(validate_chunk(max, max, 1, max, max) == ChunkVerdict::number_out_of_range);
  CHECK(validate_chunk(10, 4, max, 1, 4) == ChunkVerdict::inconsistent_count);
  std::uint64_t offset = 0, size = 0;
  CHECK(rsm_chunk_span(10, 4, 3, 4, &offset, &size) == -1);
  CHECK(rsm_chunk_span(10, 4, 3, 1, nullptr, &size) == -1);
  CHECK(rsm_chunk_span(10, 4, 7, 1, &offset, &size) == -1);
}
