#include "kernel/runtime/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace nodus::kernel {

void UniqueFd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

nodus::Status errno_status(int err, std::string_view op, const std::filesystem::path& path) {
  std::string msg(op);
  msg += ' ';
  msg += path.string();
  msg += ": ";
  msg += std::system_category().message(err);
  switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
    case EMFILE:
    case ENFILE:
      return nodus::resource_exhausted(std::move(msg));
    case EACCES:
    case EPERM:
    case EROFS:
      return nodus::permission_denied(std::move(msg));
    case ENOENT:
      return nodus::not_found(std::move(msg));
    default:
      return nodus::unavailable(std::move(msg));
  }
}

nodus::Result<UniqueFd> open_file(const std::filesystem::path& path, int flags, int mode) {
  int fd = -1;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return errno_status(errno, "open", path);
  return UniqueFd(fd);
}

nodus::Status pwrite_all(int fd, std::string_view data, uint64_t offset,
                         const std::filesystem::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status(errno, "write", path);
    }
    if (n == 0) return nodus::unavailable("write " + path.string() + ": wrote 0 bytes");
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return {};
}

nodus::Status pread_exact(int fd, char* out, size_t size, uint64_t offset,
                          const std::filesystem::path& path) {
  while (size > 0) {
    const ssize_t n = ::pread(fd, out, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status(errno, "read", path);
    }
    if (n == 0) {
      return nodus::data_loss("read " + path.string() + ": file ends before offset " +
                              std::to_string(offset + size));
    }
    out += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return {};
}

nodus::Result<std::string> read_whole_file(const std::filesystem::path& path) {
  NODUS_ASSIGN_OR_RETURN(UniqueFd fd, open_file(path, O_RDONLY));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_status(errno, "stat", path);
  std::string data(static_cast<size_t>(st.st_size), '\0');
  NODUS_RETURN_IF_ERROR(pread_exact(fd.get(), data.data(), data.size(), 0, path));
  return data;
}

nodus::Status fsync_fd(int fd, const std::filesystem::path& path) {
  if (::fsync(fd) != 0) return errno_status(errno, "fsync", path);
  return {};
}

nodus::Status fdatasync_fd(int fd, const std::filesystem::path& path) {
  if (::fdatasync(fd) != 0) return errno_status(errno, "fdatasync", path);
  return {};
}

nodus::Status fsync_dir(const std::filesystem::path& dir) {
  NODUS_ASSIGN_OR_RETURN(UniqueFd fd, open_file(dir, O_RDONLY | O_DIRECTORY));
  return fsync_fd(fd.get(), dir);
}

void put_u32_le(char* out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out[i] = static_cast<char>((v >> (8 * i)) & 0xFFu);
}

uint32_t get_u32_le(const char* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  return v;
}

}  // namespace nodus::kernel
