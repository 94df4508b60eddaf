#include "kernel/runtime/file_io.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <vector>

namespace nodus::kernel {
namespace {

class PosixFileIo final : public FileIo {
 public:
  nodus::Result<UniqueFd> open(const std::filesystem::path& path, int flags, int mode) override {
    return open_file(path, flags, mode);
  }
  nodus::Status write(int fd, std::string_view data, uint64_t offset,
                      const std::filesystem::path& path) override {
    return pwrite_all(fd, data, offset, path);
  }
  nodus::Status truncate(int fd, uint64_t size_bytes, const std::filesystem::path& path) override {
    if (::ftruncate(fd, static_cast<off_t>(size_bytes)) != 0) {
      return errno_status(errno, "truncate", path);
    }
    return {};
  }
  nodus::Status sync_data(int fd, const std::filesystem::path& path) override {
    return fdatasync_fd(fd, path);
  }
  nodus::Status sync_dir(const std::filesystem::path& dir) override { return fsync_dir(dir); }
  nodus::Status rename(const std::filesystem::path& from,
                       const std::filesystem::path& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return errno_status(errno, "rename", to);
    return {};
  }
  nodus::Status remove(const std::filesystem::path& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return errno_status(errno, "delete", path);
    }
    return {};
  }
  nodus::Status make_dir(const std::filesystem::path& dir) override {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return errno_status(errno, "create directory", dir);
    }
    return {};
  }
};

}  // namespace

FileIo& posix_file_io() {
  static PosixFileIo io;
  return io;
}

nodus::Status ensure_durable_directory(FileIo& io, const std::filesystem::path& dir) {
  std::error_code ec;
  // Collect the missing directories, deepest first.
  std::vector<std::filesystem::path> missing;
  for (std::filesystem::path p = dir; !p.empty(); p = p.parent_path()) {
    if (std::filesystem::exists(p, ec)) break;
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    NODUS_RETURN_IF_ERROR(io.make_dir(*it));
    const std::filesystem::path parent =
        it->has_parent_path() ? it->parent_path() : std::filesystem::path(".");
    NODUS_RETURN_IF_ERROR(io.sync_dir(parent));
  }
  if (!std::filesystem::is_directory(dir, ec)) {
    return nodus::failed_precondition("create directory " + dir.string() +
                                      ": exists and is not a directory");
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) return errno_status(errno, "access", dir);
  return {};
}

}  // namespace nodus::kernel
