// Every limit of an upload mount in one place, with its default. A mount copies these at start;
// change them per mount through EndpointOptions::limits.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace resumable {

// The build profile (RESUMABLE_PROFILE in CMake; docs/architecture.md). The device profile defines
// RESUMABLE_PROFILE_DEVICE for the library and everything that links it, and changes only the
// per-request buffer defaults below: 16 KiB, one per request, no writer threads and none kept
// between requests, so that an upload connection costs the endpoint 16 KiB of body buffer beyond
// CivetWeb's own. Every other limit is the same in both profiles.
#if defined(RESUMABLE_PROFILE_DEVICE) && RESUMABLE_PROFILE_DEVICE
inline constexpr bool device_profile = true;
#else
inline constexpr bool device_profile = false;
#endif

struct UploadLimits {
  // Largest accepted file (total size S).
  std::uint64_t max_file_size = std::uint64_t{64} << 30;  // 64 GiB
  // Accepted chunk sizes C (the clients' configured chunk size, not the last chunk's).
  std::uint64_t min_chunk_size = 1;
  std::uint64_t max_chunk_size = std::uint64_t{64} << 20;  // 64 MiB
  // Most chunks one upload may have (N); bounds the per-upload bookkeeping (about 33 bytes a chunk).
  std::uint64_t max_chunks = 100000;
  // Accepted file name extensions without the dot, compared case-insensitively; empty = any.
  std::vector<std::string> allowed_extensions;
  // Accepted MIME types (resumableType), exact or "image/*"; empty = any. A missing type passes.
  std::vector<std::string> allowed_types;
  // Unfinished uploads one principal may have at once.
  std::size_t max_uploads_per_principal = 16;
  // Finished uploads one principal may leave unclaimed at once (the form not sent yet).
  std::size_t max_unclaimed_per_principal = 64;
  // Uploads (unfinished and unclaimed) the mount holds in all, whoever they are from. Beyond any of
  // these three a new upload gets `too_many_uploads`.
  std::size_t max_uploads = 10000;
  // Incomplete uploads untouched for this long are collected; clients never say "cancel".
  std::chrono::seconds stale_after = std::chrono::hours(24);
  // Finished but unclaimed uploads are collected after this long.
  std::chrono::seconds unclaimed_after = std::chrono::hours(24 * 7);
  // A piece that arrives this soon after its upload was cancelled (a request already on its way)
  // starts a provisional upload: it does not count toward max_uploads_per_principal and is
  // collected after this long without another piece; a second piece makes it an ordinary upload
  // (the client really uploads the file again).
  std::chrono::seconds cancelled_grace = std::chrono::seconds(60);
  // Longest identifier, file name and relative path (bytes).
  std::size_t max_name_bytes = 255;
  std::size_t max_relative_path_bytes = 4096;
  // Body streaming buffers per request: `io_buffers` of `io_buffer_bytes` (4 x 1 MiB by default;
  // 1 x 16 KiB in the device profile, whose build has no writer threads: see device_profile),
  // the endpoint's only per-request allocation that scales. While one buffer receives, the others
  // are being hashed into leaf digests and written by `write_threads` background threads shared by
  // all requests (0: hash and write on the request thread). Writers mostly wait for the device, so
  // there may be more of them than cores. A buffer is one leaf of the tree digest: each handoff
  // costs thread wake-ups and each direct write a device request, so 1 MiB buffers spend 40 % less
  // kernel CPU per GiB than 256 KiB ones (docs/BENCHMARKS.md); lower it where memory is scarce.
  std::size_t io_buffer_bytes = device_profile ? 16 * 1024 : 1024 * 1024;
  std::size_t io_buffers = device_profile ? 1 : 4;
  // Buffers the receiving requests share before their rings shrink: a request starting a piece
  // gets an even share of them and no more than is left (at least 1, at most io_buffers), so the
  // rings together hold about this many: one stream keeps 4 MiB of writes in flight, four streams
  // 1 MiB each, and the endpoint's peak memory does not grow with the number of streams.
  std::size_t io_buffer_budget = device_profile ? 1 : 4;
  std::size_t write_threads = device_profile ? 0 : 4;
  // Buffers the endpoint keeps for reuse between requests (the rest are unmapped): peak memory
  // follows the requests receiving at once, never the number of server threads. The device
  // profile keeps none (a build without RESUMABLE_BUFFER_POOL keeps none anyway).
  std::size_t idle_io_buffers = device_profile ? 0 : 16;
  // A request body must keep arriving: within `body_grace` plus the time its bytes take at
  // `body_min_rate` bytes per second (0: no limit). Slower bodies are ended with 408 body_too_slow,
  // so a client dripping bytes cannot hold a server thread. With the defaults an 8 MiB chunk may
  // take up to 17 minutes (a 64 kbit/s link); use smaller chunks on slower links. Enforced by the
  // body watchdog thread: a build without it (RESUMABLE_BODY_WATCHDOG=OFF) ignores these two, and
  // a body is then bounded by CivetWeb's request_timeout_ms only (a client that stops sending).
  std::chrono::milliseconds body_grace = std::chrono::seconds(30);
  std::uint64_t body_min_rate = 8 * 1024;
  // Protocols that append at an offset (tus): a request body is committed in pieces of this many
  // bytes (a multiple of the digest's 1 MiB leaves), so that a body cut off keeps every piece it
  // completed; a body with a whole-body checksum (tus Upload-Checksum) is one piece, committed only
  // when it matches. An upload holds at most `max_chunks` pieces.
  std::uint64_t append_piece_bytes = std::uint64_t{16} << 20;  // 16 MiB
  // Longest tus Upload-Metadata header (bytes, as sent: Base64 included).
  std::size_t max_metadata_bytes = 4096;
  // Status documents of uploads with more than 1024 chunks are streamed, a page at a time; at most
  // this many at once (each can hold a server thread while a slow client reads it). Another waits
  // up to `chunk_wait`, then gets `server_busy`.
  std::size_t max_streamed_replies = 4;
  // How long a request waits for a concurrent request writing the same chunk before `chunk_busy`.
  std::chrono::milliseconds chunk_wait = std::chrono::seconds(10);
};

}  // namespace resumable
