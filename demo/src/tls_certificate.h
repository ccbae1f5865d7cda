// The demo's HTTPS certificate: files given on the command line, or a self-signed pair the demo
// generates into its data dir on first start and reuses afterwards (OpenSSL 3). Main thread only,
// before the server starts; errors come back as text, nothing throws.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace resumable::demo {

struct TlsFiles {
  std::filesystem::path certificate;  // PEM, the server's certificate first, then any chain
  std::filesystem::path key;          // PEM private key
};

struct SelfSigned {
  TlsFiles files;
  bool generated = false;  // false: an earlier start's pair was reused
};

// <dir>/certificate.pem and <dir>/key.pem (0600): reused when both exist, else a new EC P-256 key
// and a certificate for localhost, 127.0.0.1 and ::1, valid for a year.
std::optional<SelfSigned> ensure_self_signed(const std::filesystem::path& dir, std::string* error);

// "AB:CD:..." of the certificate's DER encoding (what browsers show), or nullopt with *error.
std::optional<std::string> sha256_fingerprint(const std::filesystem::path& certificate, std::string* error);

// Loads the pair into CivetWeb's SSL_CTX (its init_ssl callback hands it over as void*) and checks
// that the key matches the certificate.
bool load_into_ssl_context(void* ssl_context, const TlsFiles& files, std::string* error);

}  // namespace resumable::demo
