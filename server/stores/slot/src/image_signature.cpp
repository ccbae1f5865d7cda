#include "resumable/image_signature.h"

#include <sodium.h>

#include <cstring>

namespace resumable {

namespace {

constexpr char magic[8] = {'R', 'S', 'M', 'I', 'M', 'G', '0', '1'};

void put_le64(std::uint8_t* at, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) at[i] = static_cast<std::uint8_t>(value >> (8 * i));
}

std::uint64_t get_le64(const std::uint8_t* at) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | at[i];
  return value;
}

std::array<std::uint8_t, image_signed_bytes> signed_part(std::uint64_t size, const core::Digest& digest) {
  std::array<std::uint8_t, image_signed_bytes> part{};
  std::memcpy(part.data(), magic, sizeof magic);
  put_le64(part.data() + 8, size);
  std::memcpy(part.data() + 16, digest.data(), digest.size());
  return part;
}

template <std::size_t N>
std::optional<std::array<std::uint8_t, N>> from_hex(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
  if (text.size() != 2 * N) return std::nullopt;
  std::array<std::uint8_t, N> out{};
  std::size_t length = 0;
  if (sodium_hex2bin(out.data(), out.size(), text.data(), text.size(), nullptr, &length, nullptr) != 0 || length != N) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

void make_signing_keys(PublicKey& public_key, SecretKey& secret_key) {
  crypto_sign_keypair(public_key.data(), secret_key.data());
}

std::array<std::uint8_t, image_trailer_bytes> sign_image(std::uint64_t size, const core::Digest& digest,
                                                         const SecretKey& secret_key) {
  std::array<std::uint8_t, image_trailer_bytes> trailer{};
  const auto part = signed_part(size, digest);
  std::memcpy(trailer.data(), part.data(), part.size());
  crypto_sign_detached(trailer.data() + image_signed_bytes, nullptr, part.data(), part.size(), secret_key.data());
  return trailer;
}

std::optional<ImageTrailer> decode_trailer(std::span<const std::uint8_t> bytes) {
  if (bytes.size() != image_trailer_bytes || std::memcmp(bytes.data(), magic, sizeof magic) != 0) return std::nullopt;
  ImageTrailer trailer;
  trailer.payload_size = get_le64(bytes.data() + 8);
  std::memcpy(trailer.payload_digest.data(), bytes.data() + 16, trailer.payload_digest.size());
  std::memcpy(trailer.signature.data(), bytes.data() + image_signed_bytes, trailer.signature.size());
  return trailer;
}

bool trailer_signature_valid(const ImageTrailer& trailer, const PublicKey& public_key) {
  const auto part = signed_part(trailer.payload_size, trailer.payload_digest);
  return crypto_sign_verify_detached(trailer.signature.data(), part.data(), part.size(), public_key.data()) == 0;
}

std::string key_to_hex(std::span<const std::uint8_t> key) {
  std::string hex(2 * key.size() + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), key.data(), key.size());
  hex.pop_back();
  return hex;
}

std::optional<PublicKey> public_key_from_hex(std::string_view text) { return from_hex<32>(text); }
std::optional<SecretKey> secret_key_from_hex(std::string_view text) { return from_hex<64>(text); }

}  // namespace resumable
