#include "kernel/process/rotating_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace nodus::kernel {
namespace fs = std::filesystem;

Result<std::unique_ptr<RotatingLog>> RotatingLog::open(fs::path file, uint64_t bytes_max,
                                                       int keep) {
  std::unique_ptr<RotatingLog> log(new RotatingLog(std::move(file), bytes_max, keep));
  NODUS_RETURN_IF_ERROR(log->reopen());
  return log;
}

Status RotatingLog::reopen() {
  const int fd = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return permission_denied("log file " + file_.string() + ": " +
                             std::system_category().message(errno));
  }
  fd_ = UniqueFd(fd);
  struct stat st {};
  size_bytes_ = ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return {};
}

Status RotatingLog::rotate() {
  std::error_code ec;
  const auto numbered = [this](int i) {
    return fs::path(file_.string() + "." + std::to_string(i));
  };
  fs::remove(numbered(keep_), ec);
  for (int i = keep_ - 1; i >= 1; --i) {
    if (fs::exists(numbered(i), ec)) fs::rename(numbered(i), numbered(i + 1), ec);
  }
  if (keep_ > 0) {
    fs::rename(file_, numbered(1), ec);
  } else {
    fs::remove(file_, ec);
  }
  return reopen();
}

Status RotatingLog::append(std::string_view data) {
  if (size_bytes_ > 0 && size_bytes_ + data.size() > bytes_max_) NODUS_RETURN_IF_ERROR(rotate());
  while (!data.empty()) {
    const ssize_t n = ::write(fd_.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return unavailable("log file " + file_.string() + ": " +
                         std::system_category().message(errno));
    }
    size_bytes_ += static_cast<uint64_t>(n);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Status RotatingLog::append_lines(std::string_view data) {
  while (!data.empty()) {
    const uint64_t room = size_bytes_ < bytes_max_ ? bytes_max_ - size_bytes_ : 0;
    size_t take = data.size();
    if (take > room) {
      // The whole lines that fit; else one line, which append() starts a new file for.
      const size_t cut = room == 0 ? std::string_view::npos : data.rfind('\n', room - 1);
      if (cut != std::string_view::npos) {
        take = cut + 1;
      } else {
        const size_t eol = data.find('\n');
        take = eol == std::string_view::npos ? data.size() : eol + 1;
      }
    }
    NODUS_RETURN_IF_ERROR(append(data.substr(0, take)));
    data.remove_prefix(take);
  }
  return {};
}

}  // namespace nodus::kernel
