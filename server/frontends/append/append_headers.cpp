#include "append_headers.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <charconv>

namespace resumable::append {

std::optional<std::uint64_t> parse_offset(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value > (std::uint64_t{1} << 63) - 1) return std::nullopt;
  return value;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  // libsodium 1.0.18 takes some bytes above 0x7f for Base64 digits (found by fuzz_tus_headers): the
  // alphabet is checked here first, padding only at the end.
  const std::size_t padding = text.size() - std::min(text.size(), text.find_last_not_of('=') + 1);
  if (padding > 2) return std::nullopt;
  for (std::size_t i = 0; i + padding < text.size(); ++i) {
    const char c = text[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/')) {
      return std::nullopt;
    }
  }
  std::string out(text.size() / 4 * 3, '\0');
  std::size_t length = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr,
                        &length, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(length);
  return out;
}

std::string base64_encode(std::span<const std::uint8_t> bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::string_view checksum_algorithm_list() { return "sha1,sha256,rsm-tree-v1"; }

ChecksumParse parse_checksum(std::string_view text, BodyChecksum& out) {
  const auto space = text.find(' ');
  if (space == std::string_view::npos) return ChecksumParse::malformed;
  const std::string_view name = text.substr(0, space);
  std::size_t length = 0;
  if (name == "sha1") {
    out.algorithm = ChecksumAlgorithm::sha1;
    length = 20;
  } else if (name == "sha256") {
    out.algorithm = ChecksumAlgorithm::sha256;
    length = 32;
  } else if (name == "rsm-tree-v1") {
    out.algorithm = ChecksumAlgorithm::tree;
    length = 32;
  } else {
    return ChecksumParse::unknown_algorithm;
  }
  const auto raw = base64_decode(text.substr(space + 1));
  if (!raw || raw->size() != length) return ChecksumParse::malformed;
  out.expected.assign(raw->begin(), raw->end());
  return ChecksumParse::ok;
}

struct BodyHasher::Context {
  EVP_MD_CTX* md = nullptr;
  ~Context() { EVP_MD_CTX_free(md); }
};

BodyHasher::BodyHasher(ChecksumAlgorithm algorithm) : context_(std::make_unique<Context>()) {
  context_->md = EVP_MD_CTX_new();
  if (context_->md == nullptr) throw std::bad_alloc();
  const EVP_MD* md = algorithm == ChecksumAlgorithm::sha1     ? EVP_sha1()
                    : algorithm == ChecksumAlgorithm::sha512 ? EVP_sha512()
                                                             : EVP_sha256();
  EVP_DigestInit_ex(context_->md, md, nullptr);
}

BodyHasher::~BodyHasher() = default;

void BodyHasher::update(std::span<const std::uint8_t> bytes) { EVP_DigestUpdate(context_->md, bytes.data(), bytes.size()); }

bool BodyHasher::matches(std::span<const std::uint8_t> expected) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context_->md, digest, &length) != 1 || length != expected.size()) return false;
  return CRYPTO_memcmp(digest, expected.data(), length) == 0;
}

}  // namespace resumable::append
