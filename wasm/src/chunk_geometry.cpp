#include "resumable/chunk_geometry.h"

namespace resumable::core {

std::uint64_t chunk_count_for_mode(std::uint64_t total_size, std::uint64_t chunk_size, ChunkMode mode) {
  if (chunk_size == 0) return 0;
  std::uint64_t count = total_size / chunk_size;
  // Written as quotient + carry so that no intermediate can overflow near 2^64.
  if (mode == ChunkMode::force_chunk_size && total_size % chunk_size != 0) ++count;
  return count == 0 ? 1 : count;
}

std::optional<ChunkGeometry> ChunkGeometry::for_mode(std::uint64_t total_size, std::uint64_t chunk_size,
                                                     ChunkMode mode) {
  if (chunk_size == 0) return std::nullopt;
  return ChunkGeometry(total_size, chunk_size, chunk_count_for_mode(total_size, chunk_size, mode));
}

std::optional<ChunkGeometry> ChunkGeometry::from_declared(std::uint64_t total_size, std::uint64_t chunk_size,
                                                          std::uint64_t chunk_count) {
  if (chunk_size == 0) return std::nullopt;
  if (chunk_count != chunk_count_for_mode(total_size, chunk_size, ChunkMode::last_absorbs_remainder) &&
      chunk_count != chunk_count_for_mode(total_size, chunk_size, ChunkMode::force_chunk_size)) {
    return std::nullopt;
  }
  return ChunkGeometry(total_size, chunk_size, chunk_count);
}

std::optional<ChunkSpan> ChunkGeometry::span(std::uint64_t number) const {
  if (number < 1 || number > chunk_count_) return std::nullopt;
  // chunk_count_ <= ceil(S / C), so (number - 1) * C <= S: no overflow.
  const std::uint64_t offset = (number - 1) * chunk_size_;
  const std::uint64_t size = number < chunk_count_ ? chunk_size_ : total_size_ - offset;
  return ChunkSpan{offset, size};
}

ChunkVerdict validate_chunk(std::uint64_t total_size, std::uint64_t chunk_size, std::uint64_t chunk_count,
                            std::uint64_t number, std::uint64_t size) {
  if (chunk_size == 0) return ChunkVerdict::zero_chunk_size;
  const auto geometry = ChunkGeometry::from_declared(total_size, chunk_size, chunk_count);
  if (!geometry) return ChunkVerdict::inconsistent_count;
  const auto expected = geometry->span(number);
  if (!expected) return ChunkVerdict::number_out_of_range;
  if (expected->size != size) return ChunkVerdict::wrong_size;
  return ChunkVerdict::ok;
}

const char* to_string(ChunkVerdict verdict) {
  switch (verdict) {
    case ChunkVerdict::ok: return "ok";
    case ChunkVerdict::zero_chunk_size: return "zero_chunk_size";
    case ChunkVerdict::inconsistent_count: return "inconsistent_count";
    case ChunkVerdict::number_out_of_range: return "number_out_of_range";
    case ChunkVerdict::wrong_size: return "wrong_size";
  }
  return "unknown";
}

}  // namespace resumable::core
