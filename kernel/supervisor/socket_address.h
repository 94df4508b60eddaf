// supervisor/socket_address.h: a numeric host and a port as a sockaddr, for the supervisor's
// own socket calls (the port preflight and the HTTP health probe). Names other than
// "localhost" are not resolved: profiles bind to addresses, and a DNS lookup would make a
// preflight or probe hang on a slow resolver.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>

namespace nodus::kernel {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t len = 0;
  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// `host` (IPv4 or IPv6 literal, or "localhost" as 127.0.0.1) and `port`, or nullopt when the
// host is not a numeric address.
std::optional<SocketAddress> numeric_socket_address(const std::string& host, uint16_t port);

}  // namespace nodus::kernel
