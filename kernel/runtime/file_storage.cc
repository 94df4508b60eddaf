#include "kernel/runtime/file_storage.h"

#include <fcntl.h>

#include <array>
#include <cstdio>
#include <utility>

#include "kernel/runtime/crc32c.h"
#include "kernel/runtime/file_util.h"

namespace nodus::kernel {
namespace {

constexpr std::string_view kValueMagic = "NDV1";
constexpr size_t kValueHeaderBytes = 12;
constexpr size_t kNameLenMax = 200;  // leaves room for ".tmp" within NAME_MAX

bool valid_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

}  // namespace

nodus::Status validate_storage_name(std::string_view what, std::string_view name) {
  bool ok = !name.empty() && name.size() <= kNameLenMax && name != "." && name != "..";
  for (const char c : name)
    ok = ok && valid_name_char(c);
  if (ok) return {};
  return nodus::invalid_argument(std::string(what) + " '" + std::string(name) +
                                 "' is invalid: use 1-200 characters from [a-z0-9_.-]");
}

FileStorage::FileStorage(std::filesystem::path dir, FileStorageOptions options)
    : dir_(std::move(dir)),
      options_(options),
      io_(options.io != nullptr ? *options.io : posix_file_io()) {}

nodus::Result<std::unique_ptr<FileStorage>> FileStorage::open(std::filesystem::path dir,
                                                              FileStorageOptions options) {
  NODUS_RETURN_IF_ERROR(
      ensure_durable_directory(options.io != nullptr ? *options.io : posix_file_io(), dir));
  return std::unique_ptr<FileStorage>(new FileStorage(std::move(dir), options));
}

nodus::Result<std::unique_ptr<FileAppendLog>> FileStorage::open_file_log(std::string_view name) {
  NODUS_RETURN_IF_ERROR(validate_storage_name("log name", name));
  FileAppendLogOptions log_options = options_.log;
  if (log_options.io == nullptr) log_options.io = &io_;
  return FileAppendLog::open(dir_ / "logs" / std::string(name), log_options);
}

nodus::Result<std::unique_ptr<nodus::AppendLog>> FileStorage::open_log(std::string_view name) {
  NODUS_ASSIGN_OR_RETURN(std::unique_ptr<FileAppendLog> log, open_file_log(name));
  if (options_.executor != nullptr) {
    return std::unique_ptr<nodus::AppendLog>(
        std::make_unique<BackgroundSyncLog>(std::move(log), *options_.executor));
  }
  return std::unique_ptr<nodus::AppendLog>(std::move(log));
}

BackgroundSyncLog::BackgroundSyncLog(std::unique_ptr<FileAppendLog> log, nodus::Executor& executor)
    : log_(std::move(log)), executor_(executor), thread_([this] { run(); }) {}

BackgroundSyncLog::~BackgroundSyncLog() {
  liveness_->alive.store(false, std::memory_order_release);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void BackgroundSyncLog::sync_async(std::function<void(nodus::Status)> done) {
  {
    std::lock_guard lock(mu_);
    waiting_.push_back(std::move(done));
  }
  wake_.notify_one();
}

uint64_t BackgroundSyncLog::sync_rounds() const {
  std::lock_guard lock(mu_);
  return rounds_;
}

void BackgroundSyncLog::set_before_sync_for_test(std::function<void()> hook) {
  std::lock_guard lock(mu_);
  before_sync_ = std::move(hook);
}

void BackgroundSyncLog::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
    if (stopping_) return;
    // Every request taken here was made before this fdatasync starts, so it covers all the
    // records they were waiting for; requests arriving meanwhile wait for the next round.
    std::vector<std::function<void(nodus::Status)>> batch;
    batch.swap(waiting_);
    std::function<void()> hook = before_sync_;
    lock.unlock();
    if (hook) hook();
    nodus::Status st = log_->sync();
    // Counted before the completion is posted, so whoever sees the completion sees the round.
    lock.lock();
    ++rounds_;
    lock.unlock();
    executor_.post([liveness = liveness_, batch = std::move(batch), st]() {
      if (!liveness->alive.load(std::memory_order_acquire)) return;
      for (const auto& done : batch)
        done(st);
    });
    lock.lock();
  }
}

nodus::Status FileStorage::put_state(std::string_view key, std::string_view value) {
  NODUS_RETURN_IF_ERROR(validate_storage_name("state key", key));
  return write_value(dir_ / "state", key, value);
}

nodus::Result<std::optional<std::string>> FileStorage::get_state(std::string_view key) const {
  NODUS_RETURN_IF_ERROR(validate_storage_name("state key", key));
  return read_value(dir_ / "state", key);
}

nodus::Status FileStorage::write_snapshot(std::string_view name, std::string_view data) {
  NODUS_RETURN_IF_ERROR(validate_storage_name("snapshot name", name));
  return write_value(dir_ / "snapshots", name, data);
}

FileStorage::~FileStorage() {
  writer_alive_->store(false, std::memory_order_release);
  {
    std::lock_guard lock(writer_mu_);
    writer_stopping_ = true;
  }
  writer_wake_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void FileStorage::write_snapshot_async(std::string name, std::shared_ptr<const std::string> data,
                                       std::function<void(nodus::Status)> done) {
  if (options_.executor == nullptr) {
    done(write_snapshot(name, *data));
    return;
  }
  {
    std::lock_guard lock(writer_mu_);
    writes_.push_back({std::move(name), std::move(data), std::move(done)});
    if (!writer_.joinable()) writer_ = std::thread([this] { run_writer(); });
  }
  writer_wake_.notify_one();
}

void FileStorage::run_writer() {
  std::unique_lock lock(writer_mu_);
  for (;;) {
    writer_wake_.wait(lock, [this] { return writer_stopping_ || !writes_.empty(); });
    if (writer_stopping_) return;
    SnapshotWrite w = std::move(writes_.front());
    writes_.pop_front();
    lock.unlock();
    nodus::Status st = write_snapshot(w.name, *w.data);
    options_.executor->post([alive = writer_alive_, done = std::move(w.done), st]() {
      if (alive->load(std::memory_order_acquire)) done(st);
    });
    lock.lock();
  }
}

nodus::Result<std::optional<std::string>> FileStorage::read_snapshot(std::string_view name) const {
  NODUS_RETURN_IF_ERROR(validate_storage_name("snapshot name", name));
  return read_value(dir_ / "snapshots", name);
}

size_t FileStorage::value_locks_in_use() const {
  std::lock_guard lock(value_locks_mu_);
  return value_locks_.size();
}

FileStorage::ValueLock::ValueLock(FileStorage& storage, const std::filesystem::path& path)
    : storage_(storage), key_(path.string()) {
  {
    std::lock_guard lock(storage_.value_locks_mu_);
    auto& slot = storage_.value_locks_[key_];
    if (!slot) slot = std::make_shared<std::mutex>();
    mu_ = slot;
  }
  mu_->lock();
}

FileStorage::ValueLock::~ValueLock() {
  mu_->unlock();
  std::lock_guard lock(storage_.value_locks_mu_);
  // Every copy is made and dropped under value_locks_mu_, so the count is exact: when only the
  // table and this holder have it, nobody waits and the entry can go.
  const bool last = mu_.use_count() == 2;
  mu_.reset();
  if (last) storage_.value_locks_.erase(key_);
}

nodus::Status FileStorage::write_value(const std::filesystem::path& dir, std::string_view name,
                                       std::string_view data) {
  if (data.size() > UINT32_MAX) {
    return nodus::invalid_argument("value for '" + std::string(name) + "' exceeds 4 GiB");
  }
  {
    std::lock_guard lock(dirs_mu_);
    NODUS_RETURN_IF_ERROR(ensure_durable_directory(io_, dir));
  }
  const std::filesystem::path final_path = dir / std::string(name);
  ValueLock lock(*this, final_path);
  std::filesystem::path tmp_path = final_path;
  tmp_path += ".tmp";

  std::array<char, kValueHeaderBytes> header{};
  std::copy(kValueMagic.begin(), kValueMagic.end(), header.begin());
  put_u32_le(header.data() + 4, static_cast<uint32_t>(data.size()));
  put_u32_le(header.data() + 8, crc32c(data));
  {
    NODUS_ASSIGN_OR_RETURN(UniqueFd fd, io_.open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC));
    nodus::Status st =
        io_.write(fd.get(), std::string_view(header.data(), header.size()), 0, tmp_path);
    if (st.ok()) st = io_.write(fd.get(), data, kValueHeaderBytes, tmp_path);
    if (st.ok()) st = io_.sync_data(fd.get(), tmp_path);
    if (!st.ok()) {
      (void)io_.remove(tmp_path);  // do not leave a partial file behind
      return st;
    }
  }
  nodus::Status st = io_.rename(tmp_path, final_path);
  if (!st.ok()) {
    (void)io_.remove(tmp_path);
    return st;
  }
  return io_.sync_dir(dir);
}

nodus::Result<std::optional<std::string>> FileStorage::read_value(const std::filesystem::path& dir,
                                                                  std::string_view name) const {
  const std::filesystem::path path = dir / std::string(name);
  auto data = read_whole_file(path);
  if (!data.ok()) {
    if (data.status().code() == nodus::StatusCode::kNotFound) return std::optional<std::string>();
    return data.status();
  }
  const std::string& raw = *data;
  auto corrupt = [&](const std::string& why) {
    return nodus::data_loss("value file " + path.string() + " is corrupt: " + why);
  };
  if (raw.size() < kValueHeaderBytes) return corrupt("shorter than its header");
  if (std::string_view(raw.data(), 4) != kValueMagic) return corrupt("bad magic");
  const uint32_t len = get_u32_le(raw.data() + 4);
  if (len != raw.size() - kValueHeaderBytes) {
    return corrupt("header says " + std::to_string(len) + " bytes, file holds " +
                   std::to_string(raw.size() - kValueHeaderBytes));
  }
  std::string value = raw.substr(kValueHeaderBytes);
  if (crc32c(value) != get_u32_le(raw.data() + 8)) return corrupt("checksum mismatch");
  return std::optional<std::string>(std::move(value));
}

}  // namespace nodus::kernel
