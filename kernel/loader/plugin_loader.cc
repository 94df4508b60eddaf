#include "kernel/loader/plugin_loader.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

#include "kernel/loader/sha256.h"

namespace nodus::kernel {
namespace fs = std::filesystem;

namespace {

Status file_error(const fs::path& file, StatusCode code, std::string_view what) {
  return {code, file.string() + ": " + std::string(what)};
}

// A descriptor closed on scope exit unless released.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Opens a plugin file for checking and loading: never through a symbolic link (O_NOFOLLOW on
// the last component; open() resolved the directories), only a regular file, owned by root or
// by us, and writable by its owner alone, since whoever can rewrite it runs code in the node.
Result<int> open_plugin_file(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      return file_error(file, StatusCode::kNotFound,
                        std::string("cannot open plugin file: ") + std::strerror(err));
    }
    if (err == ELOOP) {
      return file_error(file, StatusCode::kPermissionDenied,
                        "is a symbolic link; plugin files are opened without following links");
    }
    return file_error(
        file, StatusCode::kPermissionDenied,
        std::string("cannot open plugin file: ") + std::system_category().message(err));
  }
  Fd guard(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return file_error(
        file, StatusCode::kPermissionDenied,
        std::string("cannot stat plugin file: ") + std::system_category().message(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return file_error(file, StatusCode::kInvalidArgument, "not a regular file");
  }
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
    return file_error(file, StatusCode::kPermissionDenied,
                      "owned by uid " + std::to_string(st.st_uid) +
                          ", neither root nor this process's user (uid " +
                          std::to_string(::geteuid()) + ")");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    std::array<char, 8> mode{};
    std::snprintf(mode.data(), mode.size(), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return file_error(file, StatusCode::kPermissionDenied,
                      std::string("is group- or world-writable (mode ") + mode.data() +
                          "); a plugin file must be writable by its owner only");
  }
  return guard.release();
}

// dlopen() happily maps odd files and then fails deep inside; checking the ELF header first
// gives the operator a precise reason for the common mistakes (a text file, an executable).
Status check_elf_shared_object(int fd, const fs::path& file) {
  Elf64_Ehdr header{};
  const ssize_t n = ::pread(fd, &header, sizeof(header), 0);
  if (n < static_cast<ssize_t>(EI_NIDENT) || std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0) {
    return file_error(file, StatusCode::kInvalidArgument, "not a shared object (no ELF header)");
  }
  if (n == sizeof(header) && header.e_ident[EI_CLASS] == ELFCLASS64 && header.e_type != ET_DYN) {
    return file_error(file, StatusCode::kInvalidArgument,
                      "not a shared object (ELF type is not ET_DYN)");
  }
  return {};
}

// Loads the file open at `fd` (through /proc/self/fd/N, so the checked inode is the loaded
// one, whatever the path points to by now). RTLD_NOW so that unresolved symbols fail here,
// with dlerror()'s explanation, rather than at the first call into the plugin.
//
// RTLD_NODELETE keeps the code mapped after the last handle goes: plugins are never unloaded
// while the process runs (ARCHITECTURE.md), and they must not be, because a plugin's generated
// protobuf code registers its descriptors in libprotobuf's process-wide pool, which cannot
// forget them. Unloading and loading such a plugin again (a SimCluster per test, a node
// restarted in-process) registered the same .proto twice and aborted the process; whether it
// happened depended on the optimiser, since any STB_GNU_UNIQUE symbol also pins a library.
//
// The dynamic linker remembers a library by every name it was opened with, so a
// /proc/self/fd/N it has seen must keep meaning that file: once a file loads, its descriptor
// is kept open for the life of the process, and a later load of the same inode goes through
// that kept name (while it is open the inode cannot be reused by another file). That bounds
// the descriptors kept to the distinct plugin files loaded, however often each is loaded.
Result<std::shared_ptr<boost::dll::shared_library>> load_library(Fd& fd, const fs::path& file) {
  static std::mutex kept_mu;
  static std::map<std::pair<dev_t, ino_t>, int> kept_fds;  // guarded by kept_mu
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return file_error(
        file, StatusCode::kPermissionDenied,
        std::string("cannot stat plugin file: ") + std::system_category().message(errno));
  }
  std::lock_guard<std::mutex> lock(kept_mu);
  const auto key = std::make_pair(st.st_dev, st.st_ino);
  const auto kept = kept_fds.find(key);
  const int name_fd = kept != kept_fds.end() ? kept->second : fd.get();
  const std::string name = "/proc/self/fd/" + std::to_string(name_fd);
  void* probe = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (probe == nullptr) {
    const char* why = ::dlerror();
    return file_error(file, StatusCode::kInvalidArgument,
                      std::string("cannot load shared object: ") + (why ? why : "unknown error"));
  }
  if (kept == kept_fds.end()) kept_fds.emplace(key, fd.release());
  boost::dll::fs::error_code ec;
  auto lib = std::make_shared<boost::dll::shared_library>(
      name, ec, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  ::dlclose(probe);  // Boost.DLL holds its own reference now.
  if (ec) {
    return file_error(file, StatusCode::kInvalidArgument,
                      "cannot load shared object: " + ec.message());
  }
  return lib;
}

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// [a-z0-9][a-z0-9._-]* optionally followed by /v<digits>, e.g. "nodus.consensus/v1".
bool valid_capability_name(std::string_view cap) {
  std::string_view base = cap;
  if (const size_t slash = cap.find('/'); slash != std::string_view::npos) {
    base = cap.substr(0, slash);
    const std::string_view version = cap.substr(slash + 1);
    if (version.size() < 2 || version[0] != 'v') return false;
    for (char c : version.substr(1)) {
      if (!is_digit(c)) return false;
    }
  }
  if (base.empty() || !is_lower_alnum(base[0])) return false;
  for (char c : base) {
    if (!is_lower_alnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

// A dot-separated list of non-empty identifiers made of [0-9A-Za-z-].
bool valid_semver_identifiers(std::string_view s) {
  if (s.empty()) return false;
  size_t start = 0;
  while (true) {
    const size_t dot = std::min(s.find('.', start), s.size());
    if (dot == start) return false;
    for (size_t i = start; i < dot; ++i) {
      const char c = s[i];
      if (!is_lower_alnum(c) && !(c >= 'A' && c <= 'Z') && c != '-') return false;
    }
    if (dot == s.size()) return true;
    start = dot + 1;
  }
}

// A decimal number without leading zeros ("0", "12", not "012").
bool valid_version_number(std::string_view s) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

std::function<void(const fs::path&)>& pin_check_hook() {
  static std::function<void(const fs::path&)> hook;
  return hook;
}

}  // namespace

void set_pin_check_hook_for_test(std::function<void(const fs::path&)> hook) {
  pin_check_hook() = std::move(hook);
}

bool is_semver(std::string_view version) {
  // MAJOR.MINOR.PATCH[-prerelease][+build], per semver.org.
  std::string_view core = version;
  if (const size_t plus = core.find('+'); plus != std::string_view::npos) {
    if (!valid_semver_identifiers(core.substr(plus + 1))) return false;
    core = core.substr(0, plus);
  }
  if (const size_t dash = core.find('-'); dash != std::string_view::npos) {
    if (!valid_semver_identifiers(core.substr(dash + 1))) return false;
    core = core.substr(0, dash);
  }
  const size_t first = core.find('.');
  const size_t second = first == std::string_view::npos ? first : core.find('.', first + 1);
  if (second == std::string_view::npos || core.find('.', second + 1) != std::string_view::npos) {
    return false;
  }
  return valid_version_number(core.substr(0, first)) &&
         valid_version_number(core.substr(first + 1, second - first - 1)) &&
         valid_version_number(core.substr(second + 1));
}

bool is_reverse_dns_name(std::string_view name) {
  // At least three dot-separated labels of [a-z0-9-].
  if (name.empty() || name.size() > 128) return false;
  size_t labels = 0;
  size_t start = 0;
  while (start <= name.size()) {
    const size_t dot = std::min(name.find('.', start), name.size());
    if (dot == start) return false;
    for (size_t i = start; i < dot; ++i) {
      if (!is_lower_alnum(name[i]) && name[i] != '-') return false;
    }
    ++labels;
    start = dot + 1;
  }
  return labels >= 3;
}

Status validate_descriptor(const PluginDescriptor& d) {
  if (d.name.empty()) return invalid_argument("descriptor has an empty name");
  if (!is_reverse_dns_name(d.name)) {
    return invalid_argument("descriptor name '" + d.name +
                            "' is not a reverse-DNS name such as io.example.hello");
  }
  if (!is_semver(d.version)) {
    return invalid_argument("plugin " + d.name + ": version '" + d.version +
                            "' is not a semantic version such as 1.2.0");
  }
  if (d.category.empty()) return invalid_argument("plugin " + d.name + ": empty category");
  if (!d.factory) return invalid_argument("plugin " + d.name + ": descriptor has no factory");
  if (plugin_status_name(d.status).empty()) {
    return invalid_argument("plugin " + d.name + ": status " +
                            std::to_string(static_cast<unsigned>(d.status)) +
                            " is neither stable nor experimental");
  }
  for (const auto* list : {&d.provides, &d.needs, &d.uses}) {
    for (const auto& cap : *list) {
      if (!valid_capability_name(cap)) {
        return invalid_argument("plugin " + d.name + ": bad capability name '" + cap + "'");
      }
    }
  }
  std::set<std::string> keys;
  for (const auto& key : d.config) {
    if (key.name.empty() || !keys.insert(key.name).second) {
      return invalid_argument("plugin " + d.name + ": config key '" + key.name +
                              "' is empty or declared twice");
    }
  }
  // Constraints that do not fit their key's type would be ignored at validation: refuse them.
  NODUS_RETURN_IF_ERROR(check_config_keys(d.config).with_context("plugin " + d.name));
  return {};
}

PluginLoader::PluginLoader(const std::vector<fs::path>& plugin_dirs) {
  for (const auto& dir : plugin_dirs) {
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(dir, ec);
    if (ec) canonical = dir;
    // A directory named twice (a profile listing the default one) keeps its first place: its
    // files would otherwise match twice and look like two plugins of one name.
    if (std::find(dirs_.begin(), dirs_.end(), canonical) == dirs_.end()) {
      dirs_.push_back(std::move(canonical));
    }
  }
}

fs::path PluginLoader::default_plugin_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "/usr/local/lib/nodus/plugins";
  return exe.parent_path().parent_path() / "lib" / "nodus" / "plugins";
}

bool PluginLoader::inside_plugin_dir(const fs::path& canonical_file) const {
  for (const auto& dir : dirs_) {
    auto rel = canonical_file.lexically_relative(dir);
    if (!rel.empty() && *rel.begin() != ".." && rel.is_relative()) return true;
  }
  return false;
}

Result<LoadedPlugin> PluginLoader::open(const fs::path& file, std::string_view sha256) const {
  std::error_code ec;
  const fs::path canonical = fs::canonical(file, ec);
  if (ec) return file_error(file, StatusCode::kNotFound, "plugin file not found");
  if (!inside_plugin_dir(canonical)) {
    std::string dirs;
    for (const auto& d : dirs_)
      dirs += (dirs.empty() ? "" : ", ") + d.string();
    return file_error(file, StatusCode::kPermissionDenied,
                      "refusing to load a plugin from outside the plugin directories (" +
                          (dirs.empty() ? std::string("none configured") : dirs) + ")");
  }
  return open_any(canonical, sha256);
}

Result<LoadedPlugin> PluginLoader::open_any(const fs::path& file, std::string_view sha256) {
  NODUS_ASSIGN_OR_RETURN(int raw_fd, open_plugin_file(file));
  Fd fd(raw_fd);
  // Everything below reads this one descriptor: the pin is checked on the bytes that load.
  if (!sha256.empty()) {
    NODUS_ASSIGN_OR_RETURN(std::string actual, sha256_fd(fd.get(), file));
    if (actual != sha256) {
      return file_error(
          file, StatusCode::kPermissionDenied,
          "SHA-256 mismatch: profile pins " + std::string(sha256) + ", file has " + actual);
    }
  }
  NODUS_RETURN_IF_ERROR(check_elf_shared_object(fd.get(), file));
  if (pin_check_hook()) pin_check_hook()(file);
  NODUS_ASSIGN_OR_RETURN(auto library, load_library(fd, file));
  if (!library->has(kEntryPointName)) {
    return file_error(file, StatusCode::kInvalidArgument,
                      std::string("no nodus entry point (symbol '") + kEntryPointName +
                          "'); was it built with NODUS_PLUGIN()?");
  }
  using EntryFn = const PluginAbiHeader*();
  const PluginAbiHeader* header = nullptr;
  try {
    header = library->get_alias<EntryFn>(kEntryPointName)();
  } catch (const std::exception& e) {
    return file_error(file, StatusCode::kInvalidArgument,
                      std::string("entry point threw: ") + e.what());
  }
  if (header == nullptr || header->magic != kPluginMagic) {
    return file_error(file, StatusCode::kInvalidArgument,
                      "entry point returned no valid nodus ABI header");
  }
  if (header->abi_version != kAbiVersion) {
    return file_error(file, StatusCode::kFailedPrecondition,
                      "ABI mismatch: plugin has ABI version " +
                          std::to_string(header->abi_version) + ", this kernel has " +
                          std::to_string(kAbiVersion));
  }
  const std::string fingerprint = header->fingerprint ? header->fingerprint : "";
  if (fingerprint != abi_fingerprint()) {
    return file_error(file, StatusCode::kFailedPrecondition,
                      "ABI mismatch: plugin fingerprint '" + fingerprint + "' != kernel '" +
                          abi_fingerprint() + "' (rebuild the plugin against this SDK)");
  }
  const PluginDescriptor* descriptor = header->descriptor ? header->descriptor() : nullptr;
  if (descriptor == nullptr) {
    const char* why = header->descriptor_error ? header->descriptor_error() : nullptr;
    return file_error(file, StatusCode::kInvalidArgument,
                      std::string("building the plugin descriptor failed: ") +
                          (why && *why ? why : "no descriptor"));
  }
  NODUS_RETURN_IF_ERROR(validate_descriptor(*descriptor).with_context(file.string()));
  return LoadedPlugin{file, std::move(library), descriptor};
}

namespace {

// Bounds of one probe child: the time it may spend on one file (a static constructor that
// hangs), and the bytes of its report.
constexpr std::chrono::seconds kProbeFileTimeout{20};
constexpr size_t kProbeReportBytesMax = 1 << 20;

// The *.so files of the plugin directories, sorted per directory; unreadable directories are
// problems.
std::vector<fs::path> list_plugin_files(const std::vector<fs::path>& dirs,
                                        std::vector<ScanProblem>& problems) {
  std::vector<fs::path> out;
  for (const auto& dir : dirs) {
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".so") files.push_back(entry.path());
    }
    if (ec) {
      problems.push_back(
          {dir, not_found(dir.string() + ": cannot read plugin directory: " + ec.message())});
      continue;
    }
    std::sort(files.begin(), files.end());
    out.insert(out.end(), files.begin(), files.end());
  }
  return out;
}

// One report line of the probe child, with tabs and newlines of messages flattened.
std::string report_field(std::string text) {
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\t'; }, ' ');
  return text;
}

void write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace

ScanResult PluginLoader::scan() const {
  ScanResult out;
  for (const auto& file : list_plugin_files(dirs_, out.problems)) {
    auto loaded = open(file);
    if (loaded.ok()) {
      out.plugins.push_back(std::move(loaded).value());
    } else {
      out.problems.push_back({file, loaded.status()});
    }
  }
  std::stable_sort(
      out.plugins.begin(), out.plugins.end(),
      [](const LoadedPlugin& a, const LoadedPlugin& b) { return a.name() < b.name(); });
  return out;
}

ProbeResult PluginLoader::probe() const {
  ProbeResult out;
  const std::vector<fs::path> files = list_plugin_files(dirs_, out.problems);
  // Each round runs one child over the files left; a file that kills or stalls the child is
  // a problem, and the next round starts after it. Bounded: every round consumes a file.
  size_t next = 0;
  while (next < files.size()) {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
      for (; next < files.size(); ++next) {
        out.problems.push_back(
            {files[next], unavailable(files[next].string() + ": cannot start the plugin probe: " +
                                      std::system_category().message(errno))});
      }
      break;
    }
    const pid_t child = ::fork();
    if (child == 0) {
      // The child: load each file, report its name or its error, and leave without running
      // this process's exit handlers.
      ::close(fds[0]);
      for (size_t i = next; i < files.size(); ++i) {
        write_all(fds[1], "B\t" + std::to_string(i) + "\n");
        auto loaded = open(files[i]);
        if (loaded.ok()) {
          write_all(fds[1], "O\t" + std::to_string(i) + "\t" + report_field(loaded->name()) + "\n");
        } else {
          write_all(fds[1], "E\t" + std::to_string(i) + "\t" +
                                std::to_string(static_cast<int>(loaded.status().code())) + "\t" +
                                report_field(loaded.status().message()) + "\n");
        }
      }
      ::_exit(0);
    }
    ::close(fds[1]);
    Fd reader(fds[0]);
    if (child < 0) {
      for (; next < files.size(); ++next) {
        out.problems.push_back(
            {files[next], unavailable(files[next].string() + ": cannot start the plugin probe: " +
                                      std::system_category().message(errno))});
      }
      break;
    }
    std::string report;
    // The file the child was reading when it stopped reporting; files.size() for none.
    size_t in_progress = files.size();
    size_t consumed = 0;  // bytes of `report` already parsed
    bool timed_out = false;
    auto deadline = std::chrono::steady_clock::now() + kProbeFileTimeout;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || report.size() > kProbeReportBytesMax) {
        timed_out = true;
        break;
      }
      pollfd pfd{reader.get(), POLLIN, 0};
      const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) continue;  // the deadline check above ends the wait
      std::array<char, 4096> buf{};
      const ssize_t n = ::read(reader.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // the child is done (or died)
      report.append(buf.data(), static_cast<size_t>(n));
      for (size_t nl = 0; (nl = report.find('\n', consumed)) != std::string::npos;
           consumed = nl + 1) {
        std::vector<std::string> fields;
        size_t start = consumed;
        for (size_t tab = 0; (tab = report.find('\t', start)) < nl; start = tab + 1)
          fields.push_back(report.substr(start, tab - start));
        fields.push_back(report.substr(start, nl - start));
        const size_t index = fields.size() > 1 ? std::stoul(fields[1]) : files.size();
        if (index >= files.size()) continue;
        if (fields[0] == "B") {
          in_progress = index;
          deadline = std::chrono::steady_clock::now() + kProbeFileTimeout;
        } else if (fields[0] == "O" && fields.size() == 3) {
          out.plugins.push_back({files[index], fields[2]});
          in_progress = files.size();
          next = index + 1;
        } else if (fields[0] == "E" && fields.size() == 4) {
          out.problems.push_back(
              {files[index], Status(static_cast<StatusCode>(std::stoi(fields[2])), fields[3])});
          in_progress = files.size();
          next = index + 1;
        }
      }
    }
    // The child is ours and not yet reaped, so its pid cannot belong to anyone else here.
    if (timed_out) ::kill(child, SIGKILL);
    int wait_status = 0;
    while (::waitpid(child, &wait_status, 0) < 0 && errno == EINTR) {
    }
    if (in_progress < files.size()) {
      const fs::path& file = files[in_progress];
      std::string why = timed_out ? "reading its descriptor took over " +
                                        std::to_string(kProbeFileTimeout.count()) + " s"
                        : WIFSIGNALED(wait_status)
                            ? "reading its descriptor crashed the probe process (signal " +
                                  std::to_string(WTERMSIG(wait_status)) + ")"
                            : "the probe process exited while reading its descriptor";
      out.problems.push_back({file, invalid_argument(file.string() + ": " + why)});
      next = in_progress + 1;
    } else if (next < files.size()) {
      // The child stopped between files without a reason; report the rest rather than loop.
      for (; next < files.size(); ++next) {
        out.problems.push_back(
            {files[next], unavailable(files[next].string() + ": the plugin probe stopped early")});
      }
    }
  }
  return out;
}

Result<std::vector<LoadedPlugin>> PluginLoader::resolve(
    const std::vector<PluginRequest>& requests) const {
  std::optional<ProbeResult> probed;  // only when some request names no file
  std::vector<LoadedPlugin> out;
  for (const auto& request : requests) {
    LoadedPlugin chosen;
    const std::string pin_context = "plugin " + request.name;
    if (!request.file.empty()) {
      if (request.file.find('/') != std::string::npos) {
        return invalid_argument("plugin " + request.name + ": file '" + request.file +
                                "' must be a file name inside a plugin directory");
      }
      Status last = not_found("plugin " + request.name + ": file " + request.file +
                              " not found in any plugin directory");
      bool found = false;
      for (const auto& dir : dirs_) {
        std::error_code ec;
        if (!fs::exists(fs::symlink_status(dir / request.file, ec))) continue;
        auto opened = open(dir / request.file, request.sha256);
        if (!opened.ok()) return opened.status().with_context(pin_context);
        chosen = std::move(opened).value();
        found = true;
        break;
      }
      if (!found) return last;
    } else {
      if (!probed) probed = probe();
      std::vector<const ProbedPlugin*> matches;
      for (const auto& p : probed->plugins) {
        if (p.name == request.name) matches.push_back(&p);
      }
      if (matches.empty()) {
        std::string dirs;
        for (const auto& d : dirs_)
          dirs += (dirs.empty() ? "" : ":") + d.string();
        std::string msg =
            "plugin " + request.name + " not found in plugin directories [" + dirs + "]";
        // A broken file may well be the plugin asked for; say so rather than hide it.
        for (const auto& problem : probed->problems) {
          msg += "; skipped " + problem.status.message();
        }
        return not_found(std::move(msg));
      }
      // Directories are searched in order: the first one that has the name wins, and the same
      // name in a later directory is shadowed (a profile's plugin_dirs before the built-in
      // plugins). Two files of one name in the winning directory stay an error.
      const fs::path winner_dir = matches.front()->file.parent_path();
      std::erase_if(matches,
                    [&](const ProbedPlugin* p) { return p->file.parent_path() != winner_dir; });
      if (matches.size() > 1) {
        return already_exists("duplicate plugin name " + request.name + ": provided by both " +
                              matches[0]->file.string() + " and " + matches[1]->file.string());
      }
      auto opened = open(matches.front()->file, request.sha256);
      if (!opened.ok()) return opened.status().with_context(pin_context);
      chosen = std::move(opened).value();
    }
    // Also catches a file replaced between the probe and the load.
    if (chosen.name() != request.name) {
      return invalid_argument(chosen.file.string() + ": provides plugin '" + chosen.name() +
                              "', but the profile asks for '" + request.name + "'");
    }
    for (const auto& existing : out) {
      if (existing.name() == chosen.name()) {
        return already_exists("duplicate plugin name " + chosen.name() + " in " +
                              existing.file.string() + " and " + chosen.file.string());
      }
    }
    out.push_back(std::move(chosen));
  }
  return out;
}

Result<std::vector<size_t>> order_by_dependencies(const std::vector<LoadedPlugin>& plugins) {
  std::map<std::string, size_t> provider;
  for (size_t i = 0; i < plugins.size(); ++i) {
    for (const auto& cap : plugins[i].descriptor->provides) {
      auto [it, inserted] = provider.emplace(cap, i);
      if (!inserted && it->second != i) {
        return already_exists("capability '" + cap + "' is provided by both " +
                              plugins[it->second].file.string() + " and " +
                              plugins[i].file.string());
      }
    }
  }
  // edges[i] = the plugins that must start before plugin i.
  std::vector<std::set<size_t>> before(plugins.size());
  for (size_t i = 0; i < plugins.size(); ++i) {
    const auto& d = *plugins[i].descriptor;
    for (const auto& cap : d.needs) {
      auto it = provider.find(cap);
      if (it == provider.end()) {
        return failed_precondition("plugin " + d.name + " (" + plugins[i].file.string() +
                                   ") requires capability '" + cap +
                                   "', which no plugin in the profile provides");
      }
      if (it->second != i) before[i].insert(it->second);
    }
    for (const auto& cap : d.uses) {
      auto it = provider.find(cap);
      if (it != provider.end() && it->second != i) before[i].insert(it->second);
    }
  }
  // Kahn's algorithm, always taking the lowest-index ready plugin so that independent plugins
  // keep profile order and the result is deterministic.
  std::vector<size_t> order;
  std::vector<bool> done(plugins.size(), false);
  while (order.size() < plugins.size()) {
    bool progressed = false;
    for (size_t i = 0; i < plugins.size(); ++i) {
      if (done[i]) continue;
      const bool ready =
          std::all_of(before[i].begin(), before[i].end(), [&](size_t dep) { return done[dep]; });
      if (ready) {
        done[i] = true;
        order.push_back(i);
        progressed = true;
        break;
      }
    }
    if (!progressed) {
      // Walk the "must start before" edges from a blocked plugin until a node repeats.
      size_t at = 0;
      while (done[at])
        ++at;
      std::vector<size_t> path;
      std::vector<int> seen(plugins.size(), -1);
      while (seen[at] < 0) {
        seen[at] = static_cast<int>(path.size());
        path.push_back(at);
        for (size_t dep : before[at]) {
          if (!done[dep]) {
            at = dep;
            break;
          }
        }
      }
      std::string cycle;
      for (auto k = static_cast<size_t>(seen[at]); k < path.size(); ++k) {
        cycle += plugins[path[k]].name() + " (" + plugins[path[k]].file.string() + ") -> ";
      }
      cycle += plugins[at].name();
      return failed_precondition("dependency cycle: " + cycle);
    }
  }
  return order;
}

}  // namespace nodus::kernel
