// process/rotating_log.h: a log file with size-based rotation (node instances, plugin programs).
//
// Lines are appended to FILE; when a line would take FILE past `bytes_max`, FILE becomes
// FILE.1 (FILE.1 becomes FILE.2, ... up to `keep` old files; the oldest is dropped) and a new
// FILE is started. One thread writes it (the supervisor's, or a node's process watcher), so it
// takes no lock.
//
//   NODUS_ASSIGN_OR_RETURN(auto log, RotatingLog::open(run_dir / "logs/aurigraph-0.log"));
//   log->append("2026-... INFO [aurigraph-0] kernel: node started\n");
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

#include "kernel/runtime/file_util.h"
#include "nodus/status.h"

namespace nodus::kernel {

class RotatingLog {
 public:
  static constexpr uint64_t kDefaultBytesMax = uint64_t{10} << 20;
  static constexpr int kDefaultKeep = 3;

  static nodus::Result<std::unique_ptr<RotatingLog>> open(std::filesystem::path file,
                                                          uint64_t bytes_max = kDefaultBytesMax,
                                                          int keep = kDefaultKeep);
  // Appends `data` (whole lines); rotates first when needed. Errors are returned, not thrown.
  nodus::Status append(std::string_view data);
  // Appends text of many lines, rotating between lines as often as needed, so that no file
  // passes `bytes_max` unless a single line is longer than that.
  nodus::Status append_lines(std::string_view data);
  const std::filesystem::path& file() const { return file_; }

 private:
  RotatingLog(std::filesystem::path file, uint64_t bytes_max, int keep)
      : file_(std::move(file)), bytes_max_(bytes_max), keep_(keep) {}
  nodus::Status reopen();
  nodus::Status rotate();

  std::filesystem::path file_;
  uint64_t bytes_max_;
  int keep_;
  UniqueFd fd_;
  uint64_t size_bytes_ = 0;
};

}  // namespace nodus::kernel
