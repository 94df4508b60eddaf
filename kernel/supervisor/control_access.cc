#include "kernel/supervisor/control_access.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <array>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>

#include "nodus/address.h"

namespace nodus::kernel {
namespace fs = std::filesystem;

namespace {

// Connections waiting to be accepted; more wait in the kernel only up to this.
constexpr int kListenBacklog = 64;

std::string errno_text() {
  return std::system_category().message(errno);
}

bool is_loopback_host(std::string host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return ::inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

}  // namespace

Status make_private_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return permission_denied("run directory " + dir.string() + ": " + ec.message());
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return permission_denied("run directory " + dir.string() + ": " + errno_text());
  }
  if (st.st_uid != ::geteuid()) {
    return permission_denied("run directory " + dir.string() + " belongs to uid " +
                             std::to_string(st.st_uid) + ", not to this user (uid " +
                             std::to_string(::geteuid()) + ")");
  }
  if ((st.st_mode & 07777) != 0700 && ::chmod(dir.c_str(), 0700) != 0) {
    return permission_denied("run directory " + dir.string() + ": chmod 0700: " + errno_text());
  }
  return {};
}

std::vector<uid_t> default_control_uids() {
  std::vector<uid_t> uids{0};
  if (::geteuid() != 0) uids.push_back(::geteuid());
  return uids;
}

Status check_control_address(const std::string& address, bool mtls) {
  if (address.rfind("unix:", 0) == 0) return {};
  const auto parsed = parse_host_port(address);
  if (!parsed.ok() || parsed->host.empty()) {
    return invalid_argument("control address '" + address + "': expected HOST:PORT");
  }
  if (mtls || is_loopback_host(parsed->host)) return {};
  return invalid_argument("control address " + address +
                          " is not a loopback address: anyone who reaches it could stop or scale "
                          "the cluster, so it needs mTLS (the profile's tls section with "
                          "require_client_cert); see docs/security.md");
}

std::string operator_uri(const std::string& cluster) {
  return "nodus://" + cluster + "/operator";
}

bool is_operator(const grpc::AuthContext& auth, const std::string& cluster) {
  if (!auth.IsPeerAuthenticated()) return false;
  const std::string want = operator_uri(cluster);
  const auto uris = auth.FindPropertyValues(GRPC_PEER_URI_PROPERTY_NAME);
  return std::any_of(uris.begin(), uris.end(), [&](const grpc::string_ref& uri) {
    return std::string(uri.data(), uri.size()) == want;
  });
}

UnixControlListener::UnixControlListener(grpc::Server& server, std::vector<uid_t> allowed_uids,
                                         RefusedCallback on_refused)
    : server_(server), allowed_uids_(std::move(allowed_uids)), on_refused_(std::move(on_refused)) {}

Result<std::unique_ptr<UnixControlListener>> UnixControlListener::open(
    const fs::path& socket, grpc::Server& server, std::vector<uid_t> allowed_uids,
    RefusedCallback on_refused) {
  std::unique_ptr<UnixControlListener> l(
      new UnixControlListener(server, std::move(allowed_uids), std::move(on_refused)));
  const std::string what = "control socket " + socket.string();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket.string().size() >= sizeof addr.sun_path) {
    return invalid_argument(what + ": path longer than " +
                            std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  std::strncpy(addr.sun_path, socket.c_str(), sizeof addr.sun_path - 1);
  l->listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (l->listen_fd_ < 0) return unavailable(what + ": " + errno_text());
  // bind() creates the file with the umask's mode until chmod() below; meanwhile the 0700 run
  // directory (make_private_dir) keeps other users away from it.
  (void)::unlink(socket.c_str());
  if (::bind(l->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return unavailable(what + ": " + errno_text());
  }
  l->socket_ = socket;
  if (::chmod(socket.c_str(), 0600) != 0) {
    return permission_denied(what + ": chmod 0600: " + errno_text());
  }
  if (::listen(l->listen_fd_, kListenBacklog) != 0) return unavailable(what + ": " + errno_text());
  l->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (l->wake_fd_ < 0) return unavailable(what + ": eventfd: " + errno_text());
  l->thread_ = std::thread([raw = l.get()] { raw->run(); });
  return l;
}

UnixControlListener::~UnixControlListener() {
  stop();
}

void UnixControlListener::stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  for (int* fd : {&listen_fd_, &wake_fd_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  if (!socket_.empty()) {
    std::error_code ec;
    fs::remove(socket_, ec);
    socket_.clear();
  }
}

void UnixControlListener::run() {
  while (true) {
    std::array<pollfd, 2> fds{{{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}}};
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if ((fds[1].revents & POLLIN) != 0) return;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;  // EAGAIN, or the client gave up: nothing to do
    ucred cred{};
    socklen_t len = sizeof cred;
    const bool known = ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0;
    if (!known ||
        std::find(allowed_uids_.begin(), allowed_uids_.end(), cred.uid) == allowed_uids_.end()) {
      refused_.fetch_add(1);  // before close(): the caller may check as soon as it sees it
      ::close(fd);
      if (on_refused_) on_refused_(known ? cred.uid : static_cast<uid_t>(-1), cred.pid);
      continue;
    }
    grpc::AddInsecureChannelFromFd(&server_, fd);  // gRPC owns the fd from here
  }
}

}  // namespace nodus::kernel
