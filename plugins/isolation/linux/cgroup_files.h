// cgroup_files.h: reading and writing cgroup interface files. Each write is one write(2) on a
// file opened without creating it, as cgroupfs expects; errors name the file and errno.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodus/status.h"

namespace nodus::isolation {

// Status codes: NOT_FOUND when the file does not exist (the controller is absent),
// PERMISSION_DENIED for EACCES/EPERM/EROFS, otherwise INVALID_ARGUMENT or INTERNAL.
Status write_file(const std::filesystem::path& file, std::string_view text);
Result<std::string> read_file(const std::filesystem::path& file);
// A one-line cgroup file (a CPU list, say) without its trailing newline and spaces.
Result<std::string> read_line(const std::filesystem::path& file);
Status errno_status(int err, const std::string& what);

// First unsigned integer of a file ("max" and unreadable files give nullopt).
std::optional<uint64_t> read_uint(const std::filesystem::path& file);
// The value of "key N" in a flat keyed file such as cpu.stat or memory.events.
std::optional<uint64_t> read_keyed(const std::filesystem::path& file, std::string_view key);

// mkdir -p for cgroupfs: creates each missing directory. `created` gets the directories made
// here, outermost first, so that they can be removed in reverse.
Status make_dirs(const std::filesystem::path& dir, std::vector<std::filesystem::path>* created);

}  // namespace nodus::isolation
