#include "kernel/runtime/crash_file_io.h"

#include <fcntl.h>

#include <fstream>
#include <iterator>
#include <system_error>

namespace nodus::kernel {
namespace {

std::string parent_of(const std::string& rel) {
  const size_t slash = rel.rfind('/');
  return slash == std::string::npos ? std::string() : rel.substr(0, slash);
}

// Writes `data` at `offset` into `target`, growing it with zeros like a sparse file.
void apply_write(std::string& target, uint64_t offset, std::string_view data) {
  if (target.size() < offset + data.size()) target.resize(offset + data.size(), '\0');
  std::copy(data.begin(), data.end(), target.begin() + static_cast<std::ptrdiff_t>(offset));
}

}  // namespace

const char* crash_state_name(CrashState state) {
  switch (state) {
    case CrashState::kSyncedOnly:
      return "synced-only";
    case CrashState::kTornLastWrite:
      return "torn-last-write";
    case CrashState::kMetadataAhead:
      return "metadata-ahead";
  }
  return "?";
}

CrashFileIo::CrashFileIo(std::filesystem::path root, uint64_t calls_before_crash)
    : root_(std::move(root)), calls_before_crash_(calls_before_crash) {
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root_, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    const std::string rel = it->path().lexically_relative(root_).string();
    const size_t id = new_inode(it->is_directory());
    if (!it->is_directory()) {
      std::ifstream in(it->path(), std::ios::binary);
      inodes_[id].data.assign(std::istreambuf_iterator<char>(in), {});
      inodes_[id].durable = inodes_[id].data;
    }
    live_[rel] = id;
    durable_[rel] = id;
  }
}

size_t CrashFileIo::new_inode(bool dir) {
  inodes_.push_back(Inode{dir, {}, {}});
  return inodes_.size() - 1;
}

std::optional<std::string> CrashFileIo::relative(const std::filesystem::path& path) const {
  const std::filesystem::path rel = path.lexically_normal().lexically_relative(root_);
  const std::string s = rel.string();
  if (s.empty() || s.rfind("..", 0) == 0) return std::nullopt;
  if (s == ".") return std::string();
  return s;
}

nodus::Status CrashFileIo::step(std::string_view op, const std::filesystem::path& path) {
  if (!crashed_ && calls_ == calls_before_crash_) {
    crashed_ = true;
    crash_point_ = std::string(op) + " " + path.string();
  }
  if (crashed_) {
    return nodus::unavailable(std::string(op) + " " + path.string() + ": simulated crash");
  }
  ++calls_;
  return {};
}

uint64_t CrashFileIo::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

bool CrashFileIo::crashed() const {
  std::lock_guard lock(mu_);
  return crashed_;
}

std::string CrashFileIo::crash_point() const {
  std::lock_guard lock(mu_);
  return crash_point_;
}

void CrashFileIo::set_before_write(std::function<void(const std::filesystem::path&)> hook) {
  std::lock_guard lock(mu_);
  before_write_ = std::move(hook);
}

nodus::Result<UniqueFd> CrashFileIo::open(const std::filesystem::path& path, int flags, int mode) {
  std::lock_guard lock(mu_);
  const auto rel = relative(path);
  if (!rel) return open_file(path, flags, mode);
  const bool create = (flags & O_CREAT) != 0 && live_.count(*rel) == 0;
  const bool trunc = (flags & O_TRUNC) != 0;
  if (create || trunc) NODUS_RETURN_IF_ERROR(step("open", path));
  if (crashed_) return nodus::unavailable("open " + path.string() + ": simulated crash");
  NODUS_ASSIGN_OR_RETURN(UniqueFd fd, open_file(path, flags, mode));
  auto it = live_.find(*rel);
  if (it == live_.end()) it = live_.emplace(*rel, new_inode(false)).first;
  if (trunc) inodes_[it->second].data.clear();
  fds_[fd.get()] = it->second;
  return fd;
}

nodus::Status CrashFileIo::write(int fd, std::string_view data, uint64_t offset,
                                 const std::filesystem::path& path) {
  std::function<void(const std::filesystem::path&)> hook;
  {
    std::lock_guard lock(mu_);
    hook = before_write_;
  }
  if (hook) hook(path);
  std::lock_guard lock(mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end()) return pwrite_all(fd, data, offset, path);
  NODUS_RETURN_IF_ERROR(step("write", path));
  NODUS_RETURN_IF_ERROR(pwrite_all(fd, data, offset, path));
  apply_write(inodes_[it->second].data, offset, data);
  last_unsynced_ = Write{it->second, offset, std::string(data)};
  return {};
}

nodus::Status CrashFileIo::truncate(int fd, uint64_t size_bytes,
                                    const std::filesystem::path& path) {
  std::lock_guard lock(mu_);
  auto it = fds_.find(fd);
  if (it != fds_.end()) NODUS_RETURN_IF_ERROR(step("truncate", path));
  NODUS_RETURN_IF_ERROR(posix_file_io().truncate(fd, size_bytes, path));
  if (it != fds_.end()) inodes_[it->second].data.resize(size_bytes, '\0');
  return {};
}

nodus::Status CrashFileIo::sync_data(int fd, const std::filesystem::path& path) {
  std::lock_guard lock(mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end()) return fdatasync_fd(fd, path);
  NODUS_RETURN_IF_ERROR(step("fdatasync", path));
  Inode& inode = inodes_[it->second];
  inode.durable = inode.data;
  if (last_unsynced_ && last_unsynced_->inode == it->second) last_unsynced_.reset();
  return {};
}

nodus::Status CrashFileIo::sync_dir(const std::filesystem::path& dir) {
  std::lock_guard lock(mu_);
  const auto rel = relative(dir);
  if (!rel) return fsync_dir(dir);
  NODUS_RETURN_IF_ERROR(step("fsync", dir));
  for (auto it = durable_.begin(); it != durable_.end();) {
    if (parent_of(it->first) == *rel && live_.count(it->first) == 0) {
      it = durable_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [name, inode] : live_) {
    if (parent_of(name) == *rel) durable_[name] = inode;
  }
  return {};
}

nodus::Status CrashFileIo::rename(const std::filesystem::path& from,
                                  const std::filesystem::path& to) {
  std::lock_guard lock(mu_);
  const auto rel_from = relative(from);
  const auto rel_to = relative(to);
  if (!rel_from || !rel_to) return posix_file_io().rename(from, to);
  NODUS_RETURN_IF_ERROR(step("rename", to));
  NODUS_RETURN_IF_ERROR(posix_file_io().rename(from, to));
  auto it = live_.find(*rel_from);
  if (it != live_.end()) {
    live_[*rel_to] = it->second;
    live_.erase(*rel_from);
  }
  return {};
}

nodus::Status CrashFileIo::remove(const std::filesystem::path& path) {
  std::lock_guard lock(mu_);
  const auto rel = relative(path);
  if (!rel) return posix_file_io().remove(path);
  NODUS_RETURN_IF_ERROR(step("delete", path));
  NODUS_RETURN_IF_ERROR(posix_file_io().remove(path));
  live_.erase(*rel);
  return {};
}

nodus::Status CrashFileIo::make_dir(const std::filesystem::path& dir) {
  std::lock_guard lock(mu_);
  const auto rel = relative(dir);
  if (!rel) return posix_file_io().make_dir(dir);
  NODUS_RETURN_IF_ERROR(step("mkdir", dir));
  NODUS_RETURN_IF_ERROR(posix_file_io().make_dir(dir));
  if (live_.count(*rel) == 0) live_[*rel] = new_inode(true);
  return {};
}

nodus::Result<bool> CrashFileIo::materialize(CrashState state,
                                             const std::filesystem::path& out) const {
  std::lock_guard lock(mu_);
  const auto& names = state == CrashState::kMetadataAhead ? live_ : durable_;
  // A name is on disk only if every directory above it is.
  auto reachable = [&](const std::string& name) {
    for (std::string p = parent_of(name); !p.empty(); p = parent_of(p)) {
      auto it = names.find(p);
      if (it == names.end() || !inodes_[it->second].dir) return false;
    }
    return true;
  };
  std::optional<std::pair<size_t, std::string>> torn;  // inode, its torn contents
  if (state == CrashState::kTornLastWrite) {
    if (!last_unsynced_ || last_unsynced_->data.size() < 2) return false;
    bool on_disk = false;
    for (const auto& [name, inode] : names)
      on_disk = on_disk || (inode == last_unsynced_->inode && reachable(name));
    if (!on_disk) return false;
    std::string contents = inodes_[last_unsynced_->inode].durable;
    const std::string_view half(last_unsynced_->data.data(), last_unsynced_->data.size() / 2);
    apply_write(contents, last_unsynced_->offset, half);
    torn.emplace(last_unsynced_->inode, std::move(contents));
  }
  for (const auto& [name, id] : names) {
    if (!reachable(name)) continue;
    const Inode& inode = inodes_[id];
    const std::filesystem::path target = out / name;
    if (inode.dir) {
      std::error_code ec;
      std::filesystem::create_directory(target, ec);
      if (ec) return errno_status(ec.value(), "create directory", target);
      continue;
    }
    const std::string& contents = torn && torn->first == id ? torn->second : inode.durable;
    std::ofstream file(target, std::ios::binary | std::ios::trunc);
    file.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    if (!file) return nodus::unavailable("write " + target.string() + ": failed");
  }
  return true;
}

}  // namespace nodus::kernel
