// loader/sha256.h: SHA-256 of a file, for plugin pinning (`sha256:` in a profile entry).
#pragma once

#include <filesystem>
#include <string>

#include "nodus/status.h"

namespace nodus::kernel {

// Lowercase hex SHA-256 of the file's contents. NOT_FOUND / PERMISSION_DENIED name the file.
Result<std::string> sha256_file(const std::filesystem::path& file);

}  // namespace nodus::kernel
