// libFuzzer target: the IETF draft front-end's header parsers (server/frontends/ietf): sf-boolean,
// sf-integer, the byte-sequence dictionaries of Content-Digest / Repr-Digest, the interop version and
// Content-Disposition's file name. Invariants: nothing crashes; a boolean is exactly "?0" or "?1"; an
// accepted integer is exactly its digits (1 to 15, no sign) and prints back to them without leading
// zeros; an accepted dictionary re-serializes to members that parse back to the same dictionary; an
// accepted interop version is 3 to 8.
#include <cstdint>
#include <string>

#include "ietf_front_end.h"
#include "structured_fields.h"

using namespace resumable;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  if (const auto flag = ietf::parse_boolean(input)) {
    if (input != (*flag ? "?1" : "?0")) __builtin_trap();
  }
  if (const auto number = ietf::parse_integer(input)) {
    if (input.empty() || input.size() > 15 || *number > 999999999999999) __builtin_trap();
    for (char c : input) {
      if (c < '0' || c > '9') __builtin_trap();
    }
    const auto digits = input.find_first_not_of('0');
    if (std::to_string(*number) != (digits == std::string::npos ? "0" : input.substr(digits))) __builtin_trap();
  }
  if (const auto members = ietf::parse_byte_dictionary(input)) {
    if (members->empty()) __builtin_trap();  // an empty value is not a dictionary with members
    std::string again;
    for (const auto& [key, bytes] : *members) {
      if (key.empty()) __builtin_trap();
      if (!again.empty()) again += ", ";
      again += key + "=" + ietf::byte_sequence(bytes);
    }
    if (ietf::parse_byte_dictionary(again) != members) __builtin_trap();
  }
  if (const auto dialect = ietf::dialect_of(input)) {
    if (dialect->interop < 3 || dialect->interop > 8) __builtin_trap();
    if (dialect->incomplete_field != (dialect->interop == 3)) __builtin_trap();
  }
  (void)ietf::disposition_file_name(input);
  return 0;
}
