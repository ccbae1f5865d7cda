// Signed firmware images (docs/firmware.md): the image is the payload followed by a 112-byte
// trailer that the signing tool (`resumable sign`) appends:
//   "RSMIMG01" (8 bytes) | payload size, LE64 | payload tree digest (docs/digest.md, 32 bytes) |
//   Ed25519 signature (64 bytes) over the first 48 bytes of the trailer
// Signing the tree digest rather than the bytes lets a verifier hash the payload once, in any
// order, with the same digest the upload already uses. Plain functions; nothing throws.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "resumable/digest.h"

namespace resumable {

inline constexpr std::size_t image_trailer_bytes = 112;
inline constexpr std::size_t image_signed_bytes = 48;  // magic, size, digest
using PublicKey = std::array<std::uint8_t, 32>;
using SecretKey = std::array<std::uint8_t, 64>;  // libsodium's form: seed followed by the public key

struct ImageTrailer {
  std::uint64_t payload_size = 0;
  core::Digest payload_digest{};
  std::array<std::uint8_t, 64> signature{};
};

// A new key pair (libsodium crypto_sign_keypair).
void make_signing_keys(PublicKey& public_key, SecretKey& secret_key);
// The trailer for a payload of `size` bytes with tree digest `digest`.
std::array<std::uint8_t, image_trailer_bytes> sign_image(std::uint64_t size, const core::Digest& digest,
                                                         const SecretKey& secret_key);
// nullopt when the bytes are not a trailer (wrong length or magic).
std::optional<ImageTrailer> decode_trailer(std::span<const std::uint8_t> bytes);
// Whether the trailer's signature verifies against `public_key` (crypto_sign_verify_detached).
bool trailer_signature_valid(const ImageTrailer& trailer, const PublicKey& public_key);

// Keys on disk: 64 (secret) or 32 (public) bytes as lower-case hex on one line.
std::string key_to_hex(std::span<const std::uint8_t> key);
std::optional<PublicKey> public_key_from_hex(std::string_view text);
std::optional<SecretKey> secret_key_from_hex(std::string_view text);

}  // namespace resumable
