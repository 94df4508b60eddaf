#include "cgroup_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>
#include <vector>

namespace nodus::isolation {

Status errno_status(int err, const std::string& what) {
  std::string msg = what + ": " + std::system_category().message(err);
  switch (err) {
    case ENOENT:
      return not_found(std::move(msg));
    case EACCES:
    case EPERM:
    case EROFS:
      return permission_denied(std::move(msg));
    case EINVAL:
    case ERANGE:
    case ENOTDIR:
      return invalid_argument(std::move(msg));
    case EBUSY:
    case ENOTEMPTY:
      return failed_precondition(std::move(msg));
    default:
      return internal_error(std::move(msg));
  }
}

Status write_file(const std::filesystem::path& file, std::string_view text) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return errno_status(errno, "cannot open " + file.string());
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int err = errno;
  ::close(fd);
  if (n < 0)
    return errno_status(err, "cannot write '" + std::string(text) + "' to " + file.string());
  if (static_cast<size_t>(n) != text.size()) {
    return internal_error("short write of '" + std::string(text) + "' to " + file.string());
  }
  return {};
}

Result<std::string> read_line(const std::filesystem::path& file) {
  NODUS_ASSIGN_OR_RETURN(std::string s, read_file(file));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  return s;
}

Result<std::string> read_file(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status(errno, "cannot open " + file.string());
  std::string out;
  std::array<char, 4096> buf{};
  while (true) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return errno_status(err, "cannot read " + file.string());
    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<size_t>(n));
    if (out.size() > (1u << 20)) break;  // interface files are small; bound the read
  }
  ::close(fd);
  return out;
}

std::optional<uint64_t> read_uint(const std::filesystem::path& file) {
  Result<std::string> text = read_file(file);
  if (!text.ok()) return std::nullopt;
  uint64_t v = 0;
  const char* begin = text->data();
  auto [end, ec] = std::from_chars(begin, begin + text->size(), v);
  if (ec != std::errc() || end == begin) return std::nullopt;
  return v;
}

std::optional<uint64_t> read_keyed(const std::filesystem::path& file, std::string_view key) {
  Result<std::string> text = read_file(file);
  if (!text.ok()) return std::nullopt;
  std::string_view rest = *text;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (!line.starts_with(key) || line.size() <= key.size() || line[key.size()] != ' ') continue;
    line.remove_prefix(key.size() + 1);
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), v);
    if (ec == std::errc()) return v;
  }
  return std::nullopt;
}

Status make_dirs(const std::filesystem::path& dir, std::vector<std::filesystem::path>* created) {
  std::vector<std::filesystem::path> missing;
  for (std::filesystem::path p = dir; !p.empty() && p != p.root_path(); p = p.parent_path()) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) return invalid_argument(p.string() + ": not a directory");
      break;
    }
    missing.push_back(p);
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0755) != 0 && errno != EEXIST) {
      return errno_status(errno, "cannot create cgroup " + it->string());
    }
    if (created != nullptr) created->push_back(*it);
  }
  return {};
}

}  // namespace nodus::isolation
