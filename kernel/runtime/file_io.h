// runtime/file_io.h: FileIo, the seam between the storage classes and the file system for
// every call that changes what a crash leaves behind (create, write, truncate, fsync, rename,
// delete, mkdir). Reads go straight to the files. The real one is posix_file_io(); tests put
// a crash-state model under FileAppendLog and FileStorage through the same seam
// (crash_file_io.h) and enumerate what every crash point leaves on disk.
//
//   FileIo& io = posix_file_io();
//   NODUS_ASSIGN_OR_RETURN(UniqueFd fd, io.open(path, O_RDWR | O_CREAT));
//   NODUS_RETURN_IF_ERROR(io.write(fd.get(), "data", 0, path));
//   NODUS_RETURN_IF_ERROR(io.sync_data(fd.get(), path));
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "kernel/runtime/file_util.h"
#include "nodus/status.h"

namespace nodus::kernel {

class FileIo {
 public:
  virtual ~FileIo() = default;
  // open(2); errors name the path.
  virtual nodus::Result<UniqueFd> open(const std::filesystem::path& path, int flags,
                                       int mode = 0644) = 0;
  // Writes all of `data` at `offset`.
  virtual nodus::Status write(int fd, std::string_view data, uint64_t offset,
                              const std::filesystem::path& path) = 0;
  virtual nodus::Status truncate(int fd, uint64_t size_bytes,
                                 const std::filesystem::path& path) = 0;
  // fdatasync(2): the file's data and size are durable.
  virtual nodus::Status sync_data(int fd, const std::filesystem::path& path) = 0;
  // fsync(2) of a directory: the creations, renames and deletions inside it are durable.
  virtual nodus::Status sync_dir(const std::filesystem::path& dir) = 0;
  virtual nodus::Status rename(const std::filesystem::path& from,
                               const std::filesystem::path& to) = 0;
  // Deletes a file; a missing file is OK.
  virtual nodus::Status remove(const std::filesystem::path& path) = 0;
  // mkdir(2) of one level; an existing directory is OK.
  virtual nodus::Status make_dir(const std::filesystem::path& dir) = 0;
};

// The real file system.
FileIo& posix_file_io();

// Creates `dir` and its missing parents, fsyncing the parent of each directory it creates so
// that the new directory (and so every file later made durable inside it) survives a crash.
// PERMISSION_DENIED or UNAVAILABLE naming the directory.
nodus::Status ensure_durable_directory(FileIo& io, const std::filesystem::path& dir);

}  // namespace nodus::kernel
