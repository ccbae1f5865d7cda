#include "signing.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "exit_codes.h"
#include "resumable/image_signature.h"
#include "resumable/tree_digest.h"

namespace resumable::cli {

namespace {

constexpr const char* keygen_help =
    "usage: resumable keygen --secret FILE --public FILE\n"
    "Makes an Ed25519 key pair for signing firmware images: the secret key (hex, mode 0600; keep it\n"
    "off the device) and the public key (hex) that the device's --public-key option takes.\n"
    "Existing files are not overwritten.\n";

constexpr const char* sign_help =
    "usage: resumable sign --key SECRET_FILE IMAGE [-o OUTPUT]\n"
    "Appends the signature trailer (docs/firmware.md: 112 bytes, RSMIMG01, the payload's size and\n"
    "tree digest, Ed25519 signature) to IMAGE, written to OUTPUT (default IMAGE.signed). An image\n"
    "that already ends in a trailer is refused.\n";

int usage(const char* verb, const std::string& message) {
  std::fprintf(stderr, "resumable %s: %s\n(see `resumable %s --help`)\n", verb, message.c_str(), verb);
  return to_int(ExitCode::usage);
}

int local_error(const std::string& message) {
  std::fprintf(stderr, "resumable: %s\n", message.c_str());
  return to_int(ExitCode::local_error);
}

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Creates `path` (never replacing a file) with `text` and `mode`.
bool write_new(const std::string& path, const std::string& text, mode_t mode, std::string* error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    *error = path + ": " + std::strerror(errno);
    return false;
  }
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  if (!ok) *error = path + ": " + std::strerror(errno);
  ::close(fd);
  return ok;
}

}  // namespace

int keygen_command(std::span<const std::string> args) {
  std::optional<std::string> secret_path, public_path;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-h" || args[i] == "--help") {
      std::printf("%s", keygen_help);
      return 0;
    }
    if ((args[i] == "--secret" || args[i] == "--public") && i + 1 < args.size()) {
      (args[i] == "--secret" ? secret_path : public_path) = args[i + 1];
      ++i;
      continue;
    }
    return usage("keygen", "unexpected argument '" + args[i] + "'");
  }
  if (!secret_path || !public_path) return usage("keygen", "both --secret FILE and --public FILE are needed");
  PublicKey public_key{};
  SecretKey secret_key{};
  make_signing_keys(public_key, secret_key);
  std::string error;
  if (!write_new(*secret_path, key_to_hex(secret_key) + "\n", 0600, &error)) return local_error(error);
  if (!write_new(*public_path, key_to_hex(public_key) + "\n", 0644, &error)) return local_error(error);
  std::printf("public key %s\n", key_to_hex(public_key).c_str());
  return 0;
}

int sign_command(std::span<const std::string> args) {
  std::optional<std::string> key_path, output;
  std::vector<std::string> positional;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-h" || args[i] == "--help") {
      std::printf("%s", sign_help);
      return 0;
    }
    if ((args[i] == "--key" || args[i] == "-o" || args[i] == "--output") && i + 1 < args.size()) {
      (args[i] == "--key" ? key_path : output) = args[i + 1];
      ++i;
      continue;
    }
    if (!args[i].empty() && args[i][0] == '-') return usage("sign", "unknown option '" + args[i] + "'");
    positional.push_back(args[i]);
  }
  if (!key_path) return usage("sign", "--key SECRET_FILE is needed");
  if (positional.size() != 1) return usage("sign", "one IMAGE is needed");
  const std::string& image = positional[0];
  const auto key_text = read_text(*key_path);
  if (!key_text) return local_error(*key_path + ": cannot read it");
  const auto secret_key = secret_key_from_hex(*key_text);
  if (!secret_key) return local_error(*key_path + ": not a secret key (128 hex digits, from resumable keygen)");

  std::ifstream in(image, std::ios::binary);
  if (!in) return local_error(image + ": cannot read it");
  core::LeafHasher leaves;
  core::FileDigestHasher file;
  std::vector<std::uint8_t> buffer(1 << 20);
  std::vector<std::uint8_t> tail;  // the last trailer's worth of bytes, to refuse signing twice
  std::uint64_t size = 0;
  while (in) {
    in.read(reinterpret_cast<char*>(buffer.data()), static_cast<std::streamsize>(buffer.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    leaves.update(std::span(buffer.data(), n), [&](const core::Leaf& leaf) { file.add_leaf(leaf.digest); });
    tail.insert(tail.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
    if (tail.size() > image_trailer_bytes) tail.erase(tail.begin(), tail.end() - image_trailer_bytes);
    size += n;
  }
  if (in.bad()) return local_error(image + ": read error");
  if (decode_trailer(tail)) return local_error(image + ": already signed (it ends in a signature trailer)");
  leaves.finish([&](const core::Leaf& leaf) { file.add_leaf(leaf.digest); });
  const auto digest = file.finish(size);
  if (!digest) return local_error(image + ": digest failed");
  const auto trailer = sign_image(size, *digest, *secret_key);

  const std::string out_path = output.value_or(image + ".signed");
  std::ifstream again(image, std::ios::binary);
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  if (!out) return local_error(out_path + ": cannot write it");
  out << again.rdbuf();
  out.write(reinterpret_cast<const char*>(trailer.data()), static_cast<std::streamsize>(trailer.size()));
  if (!out.flush()) return local_error(out_path + ": write error");
  std::printf("%s  %s (payload %llu bytes, signed)\n", core::to_hex(*digest).c_str(), out_path.c_str(),
              static_cast<unsigned long long>(size));
  return 0;
}

}  // namespace resumable::cli
