// Unguessable identifiers and tokens from the operating system's CSPRNG (libsodium's
// randombytes). Native builds only: the WebAssembly core has no use for secrets.
#pragma once

#include <cstddef>
#include <string>

namespace resumable::core {

// `bytes` random bytes as 2 * bytes lower-case hex digits. Thread-safe; needs initialize_crypto().
std::string random_hex(std::size_t bytes);

}  // namespace resumable::core
