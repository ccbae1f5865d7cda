#include "resumable/digest.h"

#include <cstring>

namespace resumable::core {

static_assert(crypto_generichash_BYTES_MIN <= digest_bytes && digest_bytes <= crypto_generichash_BYTES_MAX);
static_assert(alignof(crypto_generichash_state) >= 64, "libsodium requires 64-byte aligned state");

bool initialize_crypto() {
#ifdef __EMSCRIPTEN__
  // sodium_init would seed the random generator through JS glue this build does not ship;
  // BLAKE2b needs no initialisation and wasm has a single (portable) implementation anyway.
  return true;
#else
  return sodium_init() >= 0;
#endif
}

void Blake2b256::reset() { crypto_generichash_init(&state_, nullptr, 0, digest_bytes); }

void Blake2b256::update(const void* data, std::size_t length) {
  if (length == 0) return;
  crypto_generichash_update(&state_, static_cast<const unsigned char*>(data), length);
}

Digest Blake2b256::finish() {
  Digest out{};
  crypto_generichash_final(&state_, out.data(), out.size());
  reset();
  return out;
}

Digest Blake2b256::peek() const {
  crypto_generichash_state copy = state_;
  Digest out{};
  crypto_generichash_final(&copy, out.data(), out.size());
  return out;
}

std::array<std::uint8_t, Blake2b256::saved_state_bytes> Blake2b256::save_state() const {
  std::array<std::uint8_t, saved_state_bytes> saved{};
  std::memcpy(saved.data(), &state_, saved.size());
  return saved;
}

void Blake2b256::restore_state(std::span<const std::uint8_t, saved_state_bytes> saved) {
  std::memcpy(&state_, saved.data(), saved.size());
}

std::string_view hash_implementation_id() { return sodium_version_string(); }

Digest blake2b256(const void* data, std::size_t length) {
  Digest out{};
  crypto_generichash(out.data(), out.size(), static_cast<const unsigned char*>(data), length, nullptr, 0);
  return out;
}

std::string to_hex(const Digest& digest) {
  std::string hex(digest_hex_chars + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  hex.pop_back();
  return hex;
}

std::optional<Digest> digest_from_hex(std::string_view hex) {
  if (hex.size() != digest_hex_chars) return std::nullopt;
  Digest out{};
  std::size_t written = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &written, &end) != 0 ||
      written != digest_bytes || end != hex.data() + hex.size()) {
    return std::nullopt;
  }
  return out;
}

bool digests_equal(const Digest& a, const Digest& b) {
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace resumable::core
