// runtime/crash_file_io.h: CrashFileIo, a FileIo for tests that performs every call on real
// files and also keeps a model of what a power cut would leave on disk, after the manner of
// ALICE and LazyFS: file data becomes durable at sync_data(), a creation, rename or deletion
// at sync_dir() of its directory. It can stop the world after N calls (a crash point) and
// write what the disk holds then into a fresh directory, in one of three crash states. Real
// fsyncs are skipped, which keeps enumerating hundreds of crash points fast.
// Test-only; not part of nodus_runtime.
//
//   CrashFileIo io(dir, /*calls_before_crash=*/17);
//   run_workload(io);                                  // calls after the 17th fail
//   ASSERT_TRUE(io.materialize(CrashState::kSyncedOnly, fresh_dir).ok());
//   check_recovery(fresh_dir);
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kernel/runtime/file_io.h"

namespace nodus::kernel {

enum class CrashState {
  kSyncedOnly,     // only what was synced: unsynced data and directory changes are gone
  kTornLastWrite,  // as kSyncedOnly, plus the first half of the newest unsynced write
  kMetadataAhead,  // every directory change reached the disk, file data only where synced
};
const char* crash_state_name(CrashState state);

class CrashFileIo final : public FileIo {
 public:
  static constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();
  // Models the files under `root` (an existing directory); what is there already counts as
  // durable. After `calls_before_crash` changing calls, every further one fails UNAVAILABLE.
  explicit CrashFileIo(std::filesystem::path root, uint64_t calls_before_crash = kNever);

  nodus::Result<UniqueFd> open(const std::filesystem::path& path, int flags, int mode) override;
  nodus::Status write(int fd, std::string_view data, uint64_t offset,
                      const std::filesystem::path& path) override;
  nodus::Status truncate(int fd, uint64_t size_bytes, const std::filesystem::path& path) override;
  nodus::Status sync_data(int fd, const std::filesystem::path& path) override;
  nodus::Status sync_dir(const std::filesystem::path& dir) override;
  nodus::Status rename(const std::filesystem::path& from, const std::filesystem::path& to) override;
  nodus::Status remove(const std::filesystem::path& path) override;
  nodus::Status make_dir(const std::filesystem::path& dir) override;

  // Changing calls performed so far (the crash points of a run are 0..calls()).
  uint64_t calls() const;
  bool crashed() const;
  // The refused call that marks the crash point ("rename /dir/state/term"), empty before it.
  std::string crash_point() const;
  // Writes the files a crash now would leave into `out`, an existing empty directory. Returns
  // false (and writes nothing) for kTornLastWrite when no unsynced write reaches the disk.
  nodus::Result<bool> materialize(CrashState state, const std::filesystem::path& out) const;
  // Runs before each write(), outside the model's lock (a test blocks a write there).
  void set_before_write(std::function<void(const std::filesystem::path&)> hook);

 private:
  struct Inode {
    bool dir = false;
    std::string data;     // what a reader sees now
    std::string durable;  // what survives a crash
  };
  struct Write {
    size_t inode = 0;
    uint64_t offset = 0;
    std::string data;
  };
  // The path relative to root_, or nullopt outside it (not modelled).
  std::optional<std::string> relative(const std::filesystem::path& path) const;
  // Counts one changing call; an error once the crash point is reached.
  nodus::Status step(std::string_view op, const std::filesystem::path& path);
  size_t new_inode(bool dir);

  const std::filesystem::path root_;
  const uint64_t calls_before_crash_;
  mutable std::mutex mu_;
  uint64_t calls_ = 0;
  bool crashed_ = false;
  std::string crash_point_;
  std::vector<Inode> inodes_;
  std::map<std::string, size_t> live_;     // relative path -> inode, as the process sees it
  std::map<std::string, size_t> durable_;  // relative path -> inode, as a crash leaves it
  std::map<int, size_t> fds_;
  std::optional<Write> last_unsynced_;
  std::function<void(const std::filesystem::path&)> before_write_;
};

}  // namespace nodus::kernel
