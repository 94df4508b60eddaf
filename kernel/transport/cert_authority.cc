#include "kernel/transport/cert_authority.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace nodus::kernel {
namespace fs = std::filesystem;

namespace {

// Certificates are back-dated by this much so that peers with slightly slow clocks accept them.
constexpr long kBackdateSeconds = 300;
constexpr int kDaysMax = 36500;

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free_all(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Free>;
using Cert = std::unique_ptr<X509, Free>;
using Bio = std::unique_ptr<BIO, Free>;

// The newest OpenSSL error as text, for a one-line message.
std::string ssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  std::array<char, 256> buf{};
  ERR_error_string_n(e, buf.data(), buf.size());
  return buf.data();
}

Status write_file(const fs::path& file, const std::string& data, mode_t mode) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return permission_denied(file.string() + ": " + std::system_category().message(errno));
  // O_CREAT honours the umask and keeps the mode of an existing file; fchmod sets it exactly.
  bool ok = ::fchmod(fd, mode) == 0;
  size_t done = 0;
  while (ok && done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  ok = ::fsync(fd) == 0 && ok;
  const int saved = errno;
  ::close(fd);
  if (!ok) return unavailable(file.string() + ": " + std::system_category().message(saved));
  return {};
}

template <typename Writer>
Result<std::string> to_pem(Writer write) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return internal_error("PEM encoding: " + ssl_error());
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Status write_pair(const fs::path& dir, const std::string& stem, X509* cert, EVP_PKEY* key) {
  NODUS_ASSIGN_OR_RETURN(std::string key_pem, to_pem([key](BIO* b) {
                           return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr,
                                                           nullptr);
                         }));
  NODUS_ASSIGN_OR_RETURN(std::string cert_pem,
                         to_pem([cert](BIO* b) { return PEM_write_bio_X509(b, cert); }));
  NODUS_RETURN_IF_ERROR(write_file(dir / (stem + ".key"), key_pem, 0600));
  return write_file(dir / (stem + ".pem"), cert_pem, 0644);
}

Result<Key> new_key() {
  Key key(EVP_EC_gen("P-256"));
  if (!key) return internal_error("key generation: " + ssl_error());
  return key;
}

Status add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, Free> ext(
      X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return invalid_argument(std::string(OBJ_nid2sn(nid)) + " '" + value + "': " + ssl_error());
  }
  return {};
}

// An unsigned certificate for `key`, issued by `issuer` (by itself when `issuer` is null).
Result<Cert> new_cert(const std::string& common_name, int days, EVP_PKEY* key, X509* issuer) {
  if (days < 1 || days > kDaysMax) {
    return invalid_argument("--days " + std::to_string(days) + ": must be in 1.." +
                            std::to_string(kDaysMax));
  }
  Cert cert(X509_new());
  std::unique_ptr<BIGNUM, Free> serial(BN_new());
  if (!cert || !serial || X509_set_version(cert.get(), 2) != 1 ||
      BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L * days) == nullptr ||
      X509_set_pubkey(cert.get(), key) != 1 ||
      X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer ? issuer : cert.get())) != 1) {
    return internal_error("certificate '" + common_name + "': " + ssl_error());
  }
  return cert;
}

Status sign(X509* cert, EVP_PKEY* key, const std::string& what) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) {
    return internal_error("signing " + what + ": " + ssl_error());
  }
  return {};
}

Result<std::string> read_text(const fs::path& file) {
  Bio bio(BIO_new_file(file.c_str(), "r"));
  if (!bio) return not_found(file.string() + ": cannot read (run `nodus certs init` first?)");
  std::string text;
  std::array<char, 4096> buf{};
  int n = 0;
  while ((n = BIO_read(bio.get(), buf.data(), buf.size())) > 0)
    text.append(buf.data(), static_cast<size_t>(n));
  return text;
}

bool is_ip(const std::string& host) {
  std::array<unsigned char, sizeof(in6_addr)> buf{};
  return ::inet_pton(AF_INET, host.c_str(), buf.data()) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf.data()) == 1;
}

}  // namespace

std::string instance_uri(const std::string& cluster, uint32_t id) {
  return "nodus://" + cluster + "/instance/" + std::to_string(id);
}

Status create_ca(const fs::path& dir, const std::string& common_name, int days) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return permission_denied(dir.string() + ": " + ec.message());
  if (::chmod(dir.c_str(), 0700) != 0) {
    return permission_denied(dir.string() +
                             ": chmod 0700: " + std::system_category().message(errno));
  }
  if (fs::exists(dir / "ca.key")) {
    return already_exists((dir / "ca.key").string() +
                          ": a CA already exists here; remove it to start over (every "
                          "certificate it signed stops working)");
  }
  NODUS_ASSIGN_OR_RETURN(Key key, new_key());
  NODUS_ASSIGN_OR_RETURN(Cert cert, new_cert(common_name, days, key.get(), nullptr));
  NODUS_RETURN_IF_ERROR(
      add_extension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  NODUS_RETURN_IF_ERROR(
      add_extension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  NODUS_RETURN_IF_ERROR(add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  NODUS_RETURN_IF_ERROR(sign(cert.get(), key.get(), "the CA"));
  return write_pair(dir, "ca", cert.get(), key.get());
}

Status issue_cert(const fs::path& dir, const std::string& stem, const CertRequest& request) {
  if (request.uris.empty() && request.hosts.empty()) {
    return invalid_argument("certificate '" + stem + "': names no URI and no host");
  }
  NODUS_ASSIGN_OR_RETURN(std::string ca_pem, read_text(dir / "ca.pem"));
  NODUS_ASSIGN_OR_RETURN(std::string ca_key_pem, read_text(dir / "ca.key"));
  Bio cert_bio(BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size())));
  Bio key_bio(BIO_new_mem_buf(ca_key_pem.data(), static_cast<int>(ca_key_pem.size())));
  Cert ca(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!ca) return invalid_argument((dir / "ca.pem").string() + ": not a PEM certificate");
  Key ca_key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!ca_key) return invalid_argument((dir / "ca.key").string() + ": not a PEM private key");
  if (X509_check_private_key(ca.get(), ca_key.get()) != 1) {
    ERR_clear_error();
    return invalid_argument((dir / "ca.key").string() + ": does not match ca.pem");
  }

  std::string san;
  for (const std::string& uri : request.uris)
    san += (san.empty() ? "" : ",") + std::string("URI:") + uri;
  for (const std::string& host : request.hosts)
    san += (san.empty() ? "" : ",") + std::string(is_ip(host) ? "IP:" : "DNS:") + host;

  NODUS_ASSIGN_OR_RETURN(Key key, new_key());
  NODUS_ASSIGN_OR_RETURN(Cert cert,
                         new_cert(request.common_name, request.days, key.get(), ca.get()));
  NODUS_RETURN_IF_ERROR(
      add_extension(cert.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE"));
  NODUS_RETURN_IF_ERROR(add_extension(cert.get(), ca.get(), NID_key_usage,
                                      "critical,digitalSignature,keyEncipherment"));
  NODUS_RETURN_IF_ERROR(
      add_extension(cert.get(), ca.get(), NID_ext_key_usage, "serverAuth,clientAuth"));
  NODUS_RETURN_IF_ERROR(add_extension(cert.get(), ca.get(), NID_subject_alt_name, san));
  NODUS_RETURN_IF_ERROR(
      add_extension(cert.get(), ca.get(), NID_authority_key_identifier, "keyid:always"));
  NODUS_RETURN_IF_ERROR(sign(cert.get(), ca_key.get(), "certificate '" + stem + "'"));
  return write_pair(dir, stem, cert.get(), key.get());
}

}  // namespace nodus::kernel
