// Plain BLAKE2b-256 (libsodium's crypto_generichash, 32-byte output, no key): the digest type, hex
// text and constant-time comparison every digest shares, and plain hashing for record checks,
// ETags and identifiers. Uploads use the tree digest built on it (tree_digest.h, docs/digest.md).
//
// Streaming state lives inside Blake2b256 (fixed size, 64-byte aligned, no heap); one instance
// per stream, not shared between threads. No function throws.
#pragma once

#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace resumable::core {

inline constexpr std::size_t digest_bytes = 32;
inline constexpr std::size_t digest_hex_chars = 2 * digest_bytes;
using Digest = std::array<std::uint8_t, digest_bytes>;

// Prepares libsodium (picks the fastest BLAKE2b for this CPU). Idempotent and thread-safe;
// false only if libsodium cannot initialise. Digests are correct without it, only slower.
bool initialize_crypto();

class Blake2b256 {
 public:
  Blake2b256() { reset(); }
  void reset();
  void update(const void* data, std::size_t length);
  // Writes the digest and resets the state, so the object can hash the next stream.
  Digest finish();
  // The digest of what was hashed so far; the state goes on unchanged.
  Digest peek() const;

  // The running state as bytes, so that a checkpoint can be stored and hashing resumed later by
  // the same implementation (a state saved by another one is meaningless: compare
  // hash_implementation_id() before restoring).
  static constexpr std::size_t saved_state_bytes = sizeof(crypto_generichash_state);
  std::array<std::uint8_t, saved_state_bytes> save_state() const;
  void restore_state(std::span<const std::uint8_t, saved_state_bytes> saved);

 private:
  crypto_generichash_state state_;  // CRYPTO_ALIGN(64) in libsodium's header
};

Digest blake2b256(const void* data, std::size_t length);

// Names the implementation whose saved states Blake2b256::restore_state accepts (libsodium's version).
std::string_view hash_implementation_id();

// Lower-case hex, 64 characters.
std::string to_hex(const Digest& digest);
// Accepts exactly 64 hex digits (either case); nullopt otherwise.
std::optional<Digest> digest_from_hex(std::string_view hex);
// Constant-time comparison.
bool digests_equal(const Digest& a, const Digest& b);

}  // namespace resumable::core
