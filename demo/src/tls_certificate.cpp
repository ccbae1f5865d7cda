#include "tls_certificate.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <system_error>

namespace resumable::demo {

namespace {

template <auto free_function>
struct Free {
  template <typename T>
  void operator()(T* p) const {
    free_function(p);
  }
};
using Key = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using Certificate = std::unique_ptr<X509, Free<X509_free>>;
using Extension = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION_free>>;
using BigNumber = std::unique_ptr<BIGNUM, Free<BN_free>>;
using File = std::unique_ptr<std::FILE, Free<std::fclose>>;

constexpr long validity_seconds = 365L * 24 * 3600;

// The first queued OpenSSL error, with what we were doing.
bool fail(std::string* error, const std::string& what) {
  char reason[256] = "no detail from OpenSSL";
  if (const unsigned long code = ERR_get_error(); code != 0) ERR_error_string_n(code, reason, sizeof reason);
  ERR_clear_error();
  *error = what + ": " + reason;
  return false;
}

File open_for_reading(const std::filesystem::path& path) { return File(std::fopen(path.c_str(), "rb")); }

// A new file only its owner can read (the key), opened for writing.
File create_private(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return nullptr;
  File file(::fdopen(fd, "wb"));
  if (!file) ::close(fd);
  return file;
}

bool add_extension(X509* certificate, int nid, const char* value, std::string* error) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, certificate, certificate, nullptr, nullptr, 0);
  const Extension extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value));
  if (!extension || X509_add_ext(certificate, extension.get(), -1) != 1) {
    return fail(error, std::string("cannot add the certificate extension ") + value);
  }
  return true;
}

Certificate make_certificate(EVP_PKEY* key, std::string* error) {
  Certificate certificate(X509_new());
  const BigNumber serial(BN_new());
  if (!certificate || !serial || X509_set_version(certificate.get(), 2) != 1 ||
      BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(certificate.get())) == nullptr ||
      X509_gmtime_adj(X509_getm_notBefore(certificate.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(certificate.get()), validity_seconds) == nullptr ||
      X509_set_pubkey(certificate.get(), key) != 1) {
    fail(error, "cannot set up the certificate");
    return nullptr;
  }
  X509_NAME* name = X509_get_subject_name(certificate.get());
  const auto* common_name = reinterpret_cast<const unsigned char*>("resumable demo (self-signed)");
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, common_name, -1, -1, 0) != 1 ||
      X509_set_issuer_name(certificate.get(), name) != 1) {
    fail(error, "cannot name the certificate");
    return nullptr;
  }
  // Its own CA, so that a client can trust exactly this certificate (curl --cacert, a test's CA).
  if (!add_extension(certificate.get(), NID_basic_constraints, "critical,CA:TRUE", error) ||
      !add_extension(certificate.get(), NID_key_usage, "critical,digitalSignature,keyCertSign", error) ||
      !add_extension(certificate.get(), NID_ext_key_usage, "serverAuth", error) ||
      !add_extension(certificate.get(), NID_subject_key_identifier, "hash", error) ||
      !add_extension(certificate.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1", error)) {
    return nullptr;
  }
  if (X509_sign(certificate.get(), key, EVP_sha256()) == 0) {
    fail(error, "cannot sign the certificate");
    return nullptr;
  }
  return certificate;
}

bool generate(const TlsFiles& files, std::string* error) {
  const Key key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return fail(error, "cannot generate a P-256 key");
  const Certificate certificate = make_certificate(key.get(), error);
  if (!certificate) return false;
  // Written under temporary names and renamed, key first: a start that finds the certificate
  // finds its key too.
  auto temporary = [](const std::filesystem::path& path) { return std::filesystem::path(path.string() + ".new"); };
  {
    File out = create_private(temporary(files.key));
    if (!out) return fail(error, "cannot create " + temporary(files.key).string());
    if (PEM_write_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
        std::fclose(out.release()) != 0) {
      return fail(error, "cannot write " + temporary(files.key).string());
    }
  }
  {
    File out(std::fopen(temporary(files.certificate).c_str(), "wb"));
    if (!out) return fail(error, "cannot create " + temporary(files.certificate).string());
    if (PEM_write_X509(out.get(), certificate.get()) != 1 || std::fclose(out.release()) != 0) {
      return fail(error, "cannot write " + temporary(files.certificate).string());
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary(files.key), files.key, ec);
  if (!ec) std::filesystem::rename(temporary(files.certificate), files.certificate, ec);
  if (ec) {
    *error = "cannot store the self-signed pair: " + ec.message();
    return false;
  }
  return true;
}

}  // namespace

std::optional<SelfSigned> ensure_self_signed(const std::filesystem::path& dir, std::string* error) {
  SelfSigned result;
  result.files = {dir / "certificate.pem", dir / "key.pem"};
  std::error_code ec;
  if (std::filesystem::exists(result.files.certificate, ec) && std::filesystem::exists(result.files.key, ec)) {
    return result;
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    *error = "cannot create " + dir.string() + ": " + ec.message();
    return std::nullopt;
  }
  if (!generate(result.files, error)) return std::nullopt;
  result.generated = true;
  return result;
}

std::optional<std::string> sha256_fingerprint(const std::filesystem::path& certificate, std::string* error) {
  const File in = open_for_reading(certificate);
  if (!in) {
    *error = "cannot open " + certificate.string();
    return std::nullopt;
  }
  const Certificate parsed(PEM_read_X509(in.get(), nullptr, nullptr, nullptr));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!parsed || X509_digest(parsed.get(), EVP_sha256(), digest, &length) != 1) {
    fail(error, "cannot read the certificate " + certificate.string());
    return std::nullopt;
  }
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string text;
  for (unsigned int i = 0; i < length; ++i) {
    if (i > 0) text += ':';
    text += hex[digest[i] >> 4];
    text += hex[digest[i] & 0xf];
  }
  return text;
}

bool load_into_ssl_context(void* ssl_context, const TlsFiles& files, std::string* error) {
  auto* context = static_cast<SSL_CTX*>(ssl_context);
  if (SSL_CTX_use_certificate_chain_file(context, files.certificate.c_str()) != 1) {
    return fail(error, "cannot load the certificate " + files.certificate.string());
  }
  if (SSL_CTX_use_PrivateKey_file(context, files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail(error, "cannot load the key " + files.key.string());
  }
  if (SSL_CTX_check_private_key(context) != 1) {
    return fail(error, files.key.string() + " is not the key of " + files.certificate.string());
  }
  return true;
}

}  // namespace resumable::demo
