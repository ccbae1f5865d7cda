// The `resumable keygen` and `resumable sign` verbs: Ed25519 key pairs for signed firmware images,
// and the 112-byte trailer (server/stores/slot/include/resumable/image_signature.h) appended to an
// image, which a device's slot store verifies before it hands the image over. Return exit codes
// (exit_codes.h); messages go to stderr, nothing throws.
#pragma once

#include <span>
#include <string>

namespace resumable::cli {

int keygen_command(std::span<const std::string> args);
int sign_command(std::span<const std::string> args);

}  // namespace resumable::cli
