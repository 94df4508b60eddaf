#include "kernel/supervisor/preflight.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

#include "kernel/node/node.h"
#include "kernel/supervisor/socket_address.h"

namespace nodus::kernel {
namespace fs = std::filesystem;

namespace {

// Binds host:port once (SO_REUSEADDR, as the instances' servers do); errno on failure.
int try_bind(const std::string& host, uint16_t port) {
  const auto addr = numeric_socket_address(host, port);
  if (!addr) return EINVAL;
  const int fd = ::socket(addr->family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const int rc = ::bind(fd, addr->get(), addr->len);
  const int err = rc == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

}  // namespace

Result<std::set<std::string>> local_hosts(const Profile& profile, const std::string& host) {
  std::string known;
  for (const HostEntry& h : profile.hosts) {
    known += (known.empty() ? "" : ", ") + h.name + " " + h.address;
  }
  if (!host.empty()) {
    for (const HostEntry& h : profile.hosts) {
      if (h.name == host) return std::set<std::string>{host};
    }
    return not_found("--host " + host + ": " + profile.source.string() +
                     " has no such host (hosts: " + known + ")");
  }
  std::set<std::string> out;
  for (const HostEntry& h : profile.hosts) {
    // Port 0: whether the address belongs to this machine, not whether some port is free.
    if (!profile.multi_host() || try_bind(h.address, 0) == 0) out.insert(h.name);
  }
  if (out.empty()) {
    return failed_precondition("no host of " + profile.source.string() +
                               " has an address on this machine (hosts: " + known +
                               "); name one with --host NAME");
  }
  return out;
}

Status check_plugin_configs(const Profile& profile, uint32_t first, uint32_t last,
                            const std::vector<fs::path>& plugin_dirs) {
  NodeOptions options;
  options.plugin_dirs = plugin_dirs;
  for (uint32_t i = first; i < last; ++i) {
    NODUS_RETURN_IF_ERROR(check_instance(profile, i, options));
  }
  return {};
}

Status check_ports_free(const Profile& profile, uint32_t first, uint32_t last) {
  for (uint32_t i = first; i < last; ++i) {
    for (const auto& [name, port] : profile.ports_for(i)) {
      const std::string& address = profile.address_of(i);
      const int err = try_bind(address, port);
      if (err == 0) continue;
      const std::string where = "port " + std::to_string(port) + " (instance " + std::to_string(i) +
                                " " + name + ") on " + address;
      if (err == EADDRINUSE) return unavailable(where + " is already in use");
      return unavailable(where + ": " + std::system_category().message(err));
    }
  }
  return {};
}

Status check_data_dirs(const Profile& profile, uint32_t first, uint32_t last) {
  for (uint32_t i = first; i < last; ++i) {
    const fs::path dir = profile.data_dir / (profile.name + "-" + std::to_string(i));
    const std::string what =
        "instance " + std::to_string(i) + ": data directory " + dir.string() + " is not writable";
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return permission_denied(what + ": " + ec.message());
    // access(2) says yes to root even on a read-only mount; a real file says the truth.
    const fs::path probe = dir / ".nodus-write-probe";
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return permission_denied(what + ": " + std::system_category().message(errno));
    ::close(fd);
    fs::remove(probe, ec);
  }
  return {};
}

Result<UniqueFd> lock_run_dir(const fs::path& run_dir) {
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec) {
    return permission_denied("run directory " + run_dir.string() + ": " + ec.message());
  }
  const fs::path file = run_dir / "supervisor.lock";
  UniqueFd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    return permission_denied("run directory " + run_dir.string() + ": " +
                             std::system_category().message(errno));
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    return failed_precondition("a cluster is already running in " + run_dir.string() +
                               " (supervisor pid " + std::to_string(running_supervisor(run_dir)) +
                               ")");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) != 0 || ::pwrite(fd.get(), pid.data(), pid.size(), 0) < 0) {
    return permission_denied("run directory " + run_dir.string() + ": " +
                             std::system_category().message(errno));
  }
  return fd;
}

pid_t running_supervisor(const fs::path& run_dir) {
  const fs::path file = run_dir / "supervisor.lock";
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return 0;
  if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) return 0;  // nobody holds it
  std::ifstream in(file);
  pid_t pid = 0;
  in >> pid;
  return pid > 0 ? pid : -1;
}

}  // namespace nodus::kernel
