// Header values of the protocols that append bytes at an offset (tus 1.0 now, the IETF draft's
// Resumable Uploads next): strict decimal offsets and lengths, Base64, and a body checksum named by
// algorithm. Nothing here knows a protocol's header names; every parser refuses what is not exactly
// the grammar (signs, spaces, leading "+", overflow) and never throws but std::bad_alloc.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace resumable::append {

// 1*DIGIT, at most 2^63 - 1 (tus: "a non-negative integer"; RFC 9651 integers stop at 15 digits, so
// every value both accept fits). nullopt for anything else.
std::optional<std::uint64_t> parse_offset(std::string_view text);

// Standard Base64 with padding (RFC 4648 section 4), nothing else (no line breaks, no spaces).
std::optional<std::string> base64_decode(std::string_view text);
std::string base64_encode(std::span<const std::uint8_t> bytes);

enum class ChecksumAlgorithm : std::uint8_t { sha1, sha256, sha512, tree };  // sha512: RFC 9530 digests only

// The algorithms a body checksum may name, as listed to clients ("sha1,sha256,rsm-tree-v1"). `tree`
// is our tree digest's chunk digest of the body's byte range (docs/digest.md), checked by the upload
// core on the one hash pass it makes anyway; sha1 and sha256 cost a second pass (OpenSSL).
std::string_view checksum_algorithm_list();

struct BodyChecksum {
  ChecksumAlgorithm algorithm = ChecksumAlgorithm::sha1;
  std::vector<std::uint8_t> expected;  // the raw digest, its algorithm's length
};

enum class ChecksumParse : std::uint8_t { ok, unknown_algorithm, malformed };
// "<algorithm> <Base64 of the raw digest>" (tus Upload-Checksum).
ChecksumParse parse_checksum(std::string_view text, BodyChecksum& out);

// Hashes a body for sha1 / sha256 / sha512 while it streams (OpenSSL EVP). One per request, one thread.
class BodyHasher {
 public:
  explicit BodyHasher(ChecksumAlgorithm algorithm);  // sha1, sha256 or sha512
  ~BodyHasher();
  BodyHasher(const BodyHasher&) = delete;
  BodyHasher& operator=(const BodyHasher&) = delete;
  void update(std::span<const std::uint8_t> bytes);
  // Constant-time comparison with the expected digest; the hasher is spent.
  bool matches(std::span<const std::uint8_t> expected);

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

}  // namespace resumable::append
