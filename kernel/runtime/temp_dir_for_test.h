// runtime/temp_dir_for_test.h: a fresh temporary directory per test, removed afterwards.
// Test-only; not part of nodus_runtime.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace nodus::kernel {

class TempDir {
 public:
  // `base` empty: the system's temporary directory.
  explicit TempDir(const std::filesystem::path& base = {}) {
    const std::filesystem::path parent =
        base.empty() ? std::filesystem::temp_directory_path() : base;
    std::string pattern = (parent / "nodus-rt-XXXXXX").string();
    const char* made = ::mkdtemp(pattern.data());
    path_ = made != nullptr ? std::filesystem::path(made) : std::filesystem::path();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace nodus::kernel
