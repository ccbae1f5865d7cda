// A local file read chunk by chunk in order, each byte read and hashed once: every chunk comes
// with its tree digest (docs/digest.md; from its leaves when it is leaf-aligned), and the file
// digest is known once the last chunk has been read. Chunk geometry and digests are the core's
// (wasm/include/resumable), as the widget's and the server's are.
//
// Contract: one reader per file, one thread; read_next() hands out one chunk's buffer, shared with
// the requests that send it; buffers nobody holds any more are reused (fresh memory costs a page
// fault per 4 KiB), so there are never many more than chunks in flight. Errors are returned, never thrown.
#pragma once

#include "resumable/chunk_geometry.h"
#include "resumable/tree_digest.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace resumable::cli {

struct ReadChunk {
  std::uint64_t number = 0;  // 1-based
  std::uint64_t offset = 0;
  std::shared_ptr<const std::vector<std::uint8_t>> bytes;
  std::string digest;  // hex
};

class LocalFile {
 public:
  // Opens `path` for chunks of `chunk_size` bytes (the clients' default mode: the last chunk
  // absorbs the remainder). nullopt with *error set if it cannot be opened or is not a regular file.
  static std::optional<LocalFile> open(const std::string& path, std::uint64_t chunk_size, std::string* error);
  LocalFile(LocalFile&& other) noexcept;
  LocalFile& operator=(LocalFile&&) = delete;
  ~LocalFile();

  const std::string& path() const { return path_; }
  std::string name() const;  // the last path component, as a browser names a selected file
  std::uint64_t size() const { return geometry_.total_size(); }
  std::int64_t modified_ms() const { return modified_ms_; }
  const core::ChunkGeometry& geometry() const { return geometry_; }

  // Starts again from chunk 1 (after the file was found changed on the server, say).
  void rewind();
  // The next chunk in order, or nullopt with *error set on a read error (or a file that shrank).
  // Only while chunks remain: next_number() <= geometry().chunk_count().
  std::optional<ReadChunk> read_next(std::string* error);
  std::uint64_t next_number() const { return next_number_; }
  // The file digest (hex) once every chunk has been read.
  const std::optional<std::string>& file_digest() const { return file_digest_; }

 private:
  LocalFile(int fd, std::string path, core::ChunkGeometry geometry, std::int64_t modified_ms);

  int fd_;
  std::string path_;
  core::ChunkGeometry geometry_;
  std::int64_t modified_ms_;
  std::uint64_t next_number_ = 1;
  core::LeafHasher leaves_;
  core::FileDigestHasher root_;
  core::BytesChunkHasher unaligned_;
  std::optional<std::string> file_digest_;
  std::vector<std::shared_ptr<std::vector<std::uint8_t>>> buffers_;  // reused once only this holds them
};

// The widget's identifier for a file (widget/resumable-hash-worker.js identifierFor): stable for the
// same name, size, modification time, chunking and first chunk, so a later run (or the widget)
// finds the upload again; any change gives a new upload instead of mixing two files.
std::string upload_identifier(const std::string& name, std::uint64_t size, std::int64_t modified_ms,
                              std::uint64_t chunk_size, const std::string& first_chunk_digest);

}  // namespace resumable::cli
