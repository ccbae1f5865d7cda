// Chunk geometry shared by the browser (via WebAssembly) and the server.
//
// Compatible with resumable.js and flow.js: chunks are numbered from 1; chunk k starts at
// (k-1)*C. In the clients' default mode the last chunk absorbs the remainder (C <= last < 2C),
// with forceChunkSize every chunk is at most C. A server cannot tell which mode a client uses,
// so validation accepts exactly the two chunk counts those modes produce.
// All sizes are 64-bit; no function allocates, throws or overflows on hostile input.
#pragma once

#include <cstdint>
#include <optional>

namespace resumable::core {

enum class ChunkMode : std::uint8_t {
  last_absorbs_remainder,  // resumable.js / flow.js default: N = max(1, floor(S / C))
  force_chunk_size,        // forceChunkSize: true:           N = max(1, ceil(S / C))
};

struct ChunkSpan {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  friend bool operator==(const ChunkSpan& a, const ChunkSpan& b) {
    return a.offset == b.offset && a.size == b.size;
  }
};

// A validated (total size S, chunk size C, chunk count N) triple.
class ChunkGeometry {
 public:
  // Geometry a client in `mode` produces for a file of `total_size` bytes. nullopt if chunk_size is 0.
  static std::optional<ChunkGeometry> for_mode(std::uint64_t total_size, std::uint64_t chunk_size,
                                               ChunkMode mode);
  // Geometry from what a client declared; nullopt unless chunk_count is what one of the two modes
  // would produce for (total_size, chunk_size). This is the rule a server pins at the first chunk.
  static std::optional<ChunkGeometry> from_declared(std::uint64_t total_size, std::uint64_t chunk_size,
                                                    std::uint64_t chunk_count);

  std::uint64_t total_size() const { return total_size_; }
  std::uint64_t chunk_size() const { return chunk_size_; }
  std::uint64_t chunk_count() const { return chunk_count_; }

  // Offset and size of 1-based chunk `number`; nullopt if number is outside 1..chunk_count.
  std::optional<ChunkSpan> span(std::uint64_t number) const;

  friend bool operator==(const ChunkGeometry& a, const ChunkGeometry& b) {
    return a.total_size_ == b.total_size_ && a.chunk_size_ == b.chunk_size_ &&
           a.chunk_count_ == b.chunk_count_;
  }

 private:
  ChunkGeometry(std::uint64_t total, std::uint64_t chunk, std::uint64_t count)
      : total_size_(total), chunk_size_(chunk), chunk_count_(count) {}
  std::uint64_t total_size_;
  std::uint64_t chunk_size_;
  std::uint64_t chunk_count_;
};

// Chunk counts of the two client modes. chunk_size must be > 0.
std::uint64_t chunk_count_for_mode(std::uint64_t total_size, std::uint64_t chunk_size, ChunkMode mode);

// Verdict of checking one chunk request against a (declared) geometry.
enum class ChunkVerdict : std::uint8_t {
  ok = 0,
  zero_chunk_size = 1,     // C == 0
  inconsistent_count = 2,  // N is neither floor- nor ceil-mode count for (S, C)
  number_out_of_range = 3, // k outside 1..N
  wrong_size = 4,          // n differs from the size chunk k must have
};

// Is chunk `number` of `size` bytes consistent with total S, chunk size C and declared count N?
ChunkVerdict validate_chunk(std::uint64_t total_size, std::uint64_t chunk_size, std::uint64_t chunk_count,
                            std::uint64_t number, std::uint64_t size);

const char* to_string(ChunkVerdict verdict);

}  // namespace resumable::core
