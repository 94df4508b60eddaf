// runtime/file_util.h: small POSIX file helpers shared by the storage classes: an owning file
// descriptor, full writes and reads that retry on EINTR and short counts, directory fsync,
// and the mapping from errno to a nodus::Status that names the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "nodus/status.h"

namespace nodus::kernel {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.release();
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset();

 private:
  int fd_ = -1;
};

// "<op> <path>: <strerror>" with a code chosen from errno: RESOURCE_EXHAUSTED for a full disk
// or quota, PERMISSION_DENIED for access problems, NOT_FOUND for a missing file, UNAVAILABLE
// for everything else (I/O errors are environmental, not bugs).
nodus::Status errno_status(int err, std::string_view op, const std::filesystem::path& path);

// Opens `path`; errors name the path.
nodus::Result<UniqueFd> open_file(const std::filesystem::path& path, int flags, int mode = 0644);

// Writes all of `data` at `offset` (pwrite), retrying short writes and EINTR.
nodus::Status pwrite_all(int fd, std::string_view data, uint64_t offset,
                         const std::filesystem::path& path);
// Reads exactly `size` bytes at `offset` into `out`; DATA_LOSS when the file is shorter.
nodus::Status pread_exact(int fd, char* out, size_t size, uint64_t offset,
                          const std::filesystem::path& path);
// Reads a whole file.
nodus::Result<std::string> read_whole_file(const std::filesystem::path& path);

nodus::Status fsync_fd(int fd, const std::filesystem::path& path);
nodus::Status fdatasync_fd(int fd, const std::filesystem::path& path);
// Makes creations, renames and deletions inside `dir` durable.
nodus::Status fsync_dir(const std::filesystem::path& dir);

// Little-endian fixed-width integers, the byte order of every nodus file.
void put_u32_le(char* out, uint32_t v);
uint32_t get_u32_le(const char* in);

}  // namespace nodus::kernel
