// Implementation of nodus/address.h.
#include "nodus/address.h"

#include <charconv>

namespace nodus {

Result<HostPort> parse_host_port(std::string_view address) {
  const auto bad = [&](std::string_view why) {
    return invalid_argument("address '" + std::string(address) + "': " + std::string(why));
  };
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return bad("expected HOST:PORT");
  std::string_view host = address.substr(0, colon);
  const std::string_view port_text = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("an IPv6 host needs brackets, as in [::1]:9003");
  }
  uint16_t port = 0;
  const char* end = port_text.data() + port_text.size();
  const auto [ptr, ec] = std::from_chars(port_text.data(), end, port);
  if (port_text.empty() || ec != std::errc() || ptr != end) {
    return bad("port '" + std::string(port_text) + "' is not a number in 0..65535");
  }
  return HostPort{std::string(host), port};
}

std::string format_host_port(std::string_view host, uint16_t port) {
  std::string out;
  if (host.find(':') != std::string_view::npos) {
    out.append("[").append(host).append("]");
  } else {
    out.append(host);
  }
  return out.append(":").append(std::to_string(port));
}

std::string host_of(std::string_view address) {
  auto parsed = parse_host_port(address);
  return parsed.ok() ? std::move(parsed->host) : std::string(address);
}

}  // namespace nodus
