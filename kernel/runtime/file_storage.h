// runtime/file_storage.h: FileStorage, the on-disk nodus::Storage of one plugin.
//
// Layout under the plugin's directory:
//   logs/<name>/           one FileAppendLog per log (see file_append_log.h)
//   state/<key>            small values, one file each
//   snapshots/<name>       snapshot blobs
// Values and snapshots are written atomically: to `<file>.tmp`, fsync, rename over the old
// file, fsync the directory. Each file starts with a 12-byte header, magic "NDV1", u32 payload
// length and u32 CRC-32C of the payload (little endian), so damage reads as DATA_LOSS naming
// the file instead of as a wrong value.
//
//   NODUS_ASSIGN_OR_RETURN(auto storage, FileStorage::open(data_dir / "io.nodus.consensus.raft"));
//   NODUS_RETURN_IF_ERROR(storage->put_state("term", "7"));
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "nodus/services/storage.h"
#include "nodus/status.h"
#include "runtime/file_append_log.h"

namespace nodus::kernel {

struct FileStorageOptions {
  FileAppendLogOptions log;
};

class FileStorage final : public nodus::Storage {
 public:
  // Creates `dir` (and parents) when needed. PERMISSION_DENIED or UNAVAILABLE naming the path
  // when it cannot be created or written.
  static nodus::Result<std::unique_ptr<FileStorage>> open(std::filesystem::path dir,
                                                          FileStorageOptions options = {});

  // A log can be open once at a time; a second open is FAILED_PRECONDITION.
  nodus::Result<std::unique_ptr<nodus::AppendLog>> open_log(std::string_view name) override;
  nodus::Status put_state(std::string_view key, std::string_view value) override;
  nodus::Result<std::optional<std::string>> get_state(std::string_view key) const override;
  nodus::Status write_snapshot(std::string_view name, std::string_view data) override;
  nodus::Result<std::optional<std::string>> read_snapshot(std::string_view name) const override;
  std::filesystem::path directory() const override { return dir_; }

  // The typed variant of open_log(), for callers that want recovery_report().
  nodus::Result<std::unique_ptr<FileAppendLog>> open_file_log(std::string_view name);

 private:
  FileStorage(std::filesystem::path dir, FileStorageOptions options);
  nodus::Status write_value(const std::filesystem::path& dir, std::string_view name,
                            std::string_view data);
  nodus::Result<std::optional<std::string>> read_value(const std::filesystem::path& dir,
                                                       std::string_view name) const;

  const std::filesystem::path dir_;
  const FileStorageOptions options_;
  std::mutex write_mu_;  // one writer per temporary file
};

// OK when `name` matches [a-z0-9_.-]+ and is not "." or ".."; else INVALID_ARGUMENT naming it.
nodus::Status validate_storage_name(std::string_view what, std::string_view name);

}  // namespace nodus::kernel
