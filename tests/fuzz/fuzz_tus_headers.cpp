// libFuzzer target: the tus front-end's header parsers (server/frontends/append, tus): offsets and
// lengths, Base64, Upload-Checksum and Upload-Metadata. Invariants: nothing crashes; an accepted
// offset is exactly its decimal digits and below 2^63; Base64 that decodes re-encodes to the same
// text; an accepted checksum has its algorithm's digest length; accepted metadata keys are printable
// ASCII without spaces or commas, and re-encoding the pairs parses back to the same pairs; an
// accepted Upload-Concat is "partial" exactly, or names at least one upload id of 32 lower-case hex
// digits, and the final's ids written back as paths parse to the same ids.
#include <cstdint>
#include <string>

#include "append_headers.h"
#include "append_upload.h"
#include "tus_front_end.h"

using namespace resumable;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  if (const auto offset = append::parse_offset(input)) {
    if (std::to_string(*offset) != input && input.find_first_not_of('0') != std::string::npos && input[0] != '0') {
      __builtin_trap();
    }
    if (*offset > (std::uint64_t{1} << 63) - 1 || input.empty() || input.size() > 19) __builtin_trap();
    for (char c : input) {
      if (c < '0' || c > '9') __builtin_trap();
    }
  }
  if (const auto decoded = append::base64_decode(input)) {
    const auto bytes = reinterpret_cast<const std::uint8_t*>(decoded->data());
    if (append::base64_encode({bytes, decoded->size()}) != input) __builtin_trap();
  }
  append::BodyChecksum checksum;
  if (append::parse_checksum(input, checksum) == append::ChecksumParse::ok) {
    const std::size_t expected = checksum.algorithm == append::ChecksumAlgorithm::sha1 ? 20 : 32;
    if (checksum.expected.size() != expected) __builtin_trap();
  }
  if (const auto pairs = tus::parse_metadata(input)) {
    std::string again;
    for (const auto& [key, value] : *pairs) {
      if (key.empty()) __builtin_trap();
      for (unsigned char c : key) {
        if (c <= 0x20 || c >= 0x7f || c == ',') __builtin_trap();
      }
      if (!again.empty()) again += ',';
      again += key;
      if (!value.empty()) {
        again += ' ';
        again += append::base64_encode({reinterpret_cast<const std::uint8_t*>(value.data()), value.size()});
      }
    }
    if (tus::parse_metadata(again) != pairs) __builtin_trap();
  }
  if (const auto concat = tus::parse_concat(input, "/files")) {
    if (concat->partial != (input == "partial")) __builtin_trap();
    if (!concat->partial) {
      if (concat->parts.empty() || input.rfind("final;", 0) != 0) __builtin_trap();
      std::string again = "final;";
      for (const auto& id : concat->parts) {
        if (!append::is_upload_id(id)) __builtin_trap();
        again += (again.size() > 6 ? " /files/" : "/files/") + id;
      }
      const auto reparsed = tus::parse_concat(again, "/files");
      if (!reparsed || reparsed->partial || reparsed->parts != concat->parts) __builtin_trap();
    }
  }
  return 0;
}
