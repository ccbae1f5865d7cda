// The Structured Field values (RFC 9651) the IETF draft's Resumable Uploads and RFC 9530's digest
// fields carry, parsed strictly: exactly the grammar, nothing a lenient parser would repair. A field
// value arrives with HTTP's surrounding whitespace already trimmed; whatever else does not match is
// refused (nullopt), so a request that carries it is refused instead of half-understood.
// Nothing here throws but std::bad_alloc.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace resumable::ietf {

// sf-boolean: "?1" or "?0", nothing else (no parameters).
std::optional<bool> parse_boolean(std::string_view text);

// A non-negative sf-integer: 1 to 15 digits (RFC 9651's range), no sign, no spaces, no parameters.
std::optional<std::uint64_t> parse_integer(std::string_view text);

// A Dictionary whose every member is a Byte Sequence (":" Base64 ":"), as Content-Digest and
// Repr-Digest are: `sha-256=:<base64>:, sha-512=:<base64>:`. Keys are sf-keys; members are separated
// by a comma with optional spaces or tabs around it; Base64 is padded standard Base64. Parameters,
// inner lists, other item types and repeated keys are refused.
using ByteDictionary = std::map<std::string, std::vector<std::uint8_t>, std::less<>>;
std::optional<ByteDictionary> parse_byte_dictionary(std::string_view text);

// ":" Base64 ":" for a reply (e.g. Repr-Digest).
std::string byte_sequence(const std::vector<std::uint8_t>& bytes);

}  // namespace resumable::ietf
