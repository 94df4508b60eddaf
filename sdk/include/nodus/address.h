// nodus/address.h: "host:port" text, split and joined the same way everywhere (profiles, peer
// lists, listen addresses, the control API). An IPv6 host is written in brackets.
//
//   auto hp = nodus::parse_host_port("[::1]:9003");   // host "::1", port 9003
//   if (!hp.ok()) return hp.status();
//   std::string dial = nodus::format_host_port(hp->host, hp->port);  // "[::1]:9003"
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "nodus/status.h"

namespace nodus {

struct HostPort {
  std::string host;  // without brackets; empty in ":9003" (every interface)
  uint16_t port = 0;
};

// Parses "HOST:PORT" or "[IPV6]:PORT". INVALID_ARGUMENT (naming the address) when the port is
// missing or not a number in 0..65535, or when an IPv6 host lacks its brackets.
Result<HostPort> parse_host_port(std::string_view address);

// "host:port", with brackets around a host that contains ':' (an IPv6 address).
std::string format_host_port(std::string_view host, uint16_t port);

// The host part of `address` without brackets, or `address` itself when it has no port.
std::string host_of(std::string_view address);

}  // namespace nodus
