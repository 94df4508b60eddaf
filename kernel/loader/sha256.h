// loader/sha256.h: SHA-256 of a file, for plugin pinning (`sha256:` in a profile entry).
#pragma once

#include <filesystem>
#include <string>

#include "nodus/status.h"

namespace nodus::kernel {

// Lowercase hex SHA-256 of the file's contents. NOT_FOUND / PERMISSION_DENIED name the file.
Result<std::string> sha256_file(const std::filesystem::path& file);

// The same, read from an open descriptor (from offset 0, with pread, so the descriptor's
// offset is untouched). `file` only names the file in errors.
Result<std::string> sha256_fd(int fd, const std::filesystem::path& file);

}  // namespace nodus::kernel
