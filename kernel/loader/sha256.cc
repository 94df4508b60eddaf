#include "kernel/loader/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>
#include <system_error>

namespace nodus::kernel {

Result<std::string> sha256_file(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    std::string msg = file.string() + ": cannot read: " + std::system_category().message(err);
    if (err == ENOENT) return not_found(std::move(msg));
    return permission_denied(std::move(msg));
  }
  auto digest = sha256_fd(fd, file);
  ::close(fd);
  return digest;
}

Result<std::string> sha256_fd(int fd, const std::filesystem::path& file) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return internal_error("sha256: cannot initialise digest");
  }
  std::array<char, 64 * 1024> buf{};
  off_t offset = 0;
  while (true) {
    const ssize_t n = ::pread(fd, buf.data(), buf.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return unavailable(file.string() + ": read error: " + std::system_category().message(errno));
    if (n == 0) break;
    if (EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n)) != 1) {
      return internal_error("sha256: digest update failed");
    }
    offset += n;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest.data(), &len) != 1) {
    return internal_error("sha256: digest final failed");
  }
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

}  // namespace nodus::kernel
