#include "nodus/services/datagram.h"

#include <arpa/inet.h>

namespace nodus {

DatagramCounters DatagramCounters::create(Metrics& metrics, std::string_view port) {
  const std::string p(port);
  DatagramCounters c;
  c.sent = &metrics.counter("nodus_datagram_sent_total", "Datagrams sent", {{"port", p}});
  c.received = &metrics.counter("nodus_datagram_received_total",
                                "Datagrams handed to the plugin's handler", {{"port", p}});
  constexpr std::string_view kDroppedHelp = "Datagrams dropped, by reason";
  c.dropped_oversize = &metrics.counter("nodus_datagram_dropped_total", kDroppedHelp,
                                        {{"port", p}, {"reason", "oversize"}});
  c.dropped_queue_full = &metrics.counter("nodus_datagram_dropped_total", kDroppedHelp,
                                          {{"port", p}, {"reason", "queue_full"}});
  c.dropped_send = &metrics.counter("nodus_datagram_dropped_total", kDroppedHelp,
                                    {{"port", p}, {"reason", "send_failed"}});
  return c;
}

DatagramStats DatagramCounters::snapshot() const {
  const auto n = [](const Counter* c) { return static_cast<uint64_t>(c->value()); };
  return {n(sent), n(received), n(dropped_oversize), n(dropped_queue_full), n(dropped_send)};
}

Status check_datagram_options(std::string_view port, const DatagramOptions& options) {
  if (options.max_datagram_bytes == 0 || options.max_datagram_bytes > kDatagramBytesMax) {
    return invalid_argument("datagram port '" + std::string(port) + "': max_datagram_bytes " +
                            std::to_string(options.max_datagram_bytes) + " is outside 1.." +
                            std::to_string(kDatagramBytesMax));
  }
  if (options.receive_queue_max == 0) {
    return invalid_argument("datagram port '" + std::string(port) +
                            "': receive_queue_max must be at least 1");
  }
  return {};
}

Status check_datagram_size(std::string_view port, size_t size_bytes, size_t limit_bytes) {
  if (size_bytes <= limit_bytes) return {};
  return invalid_argument("datagram port '" + std::string(port) + "': datagram of " +
                          std::to_string(size_bytes) + " bytes exceeds the limit of " +
                          std::to_string(limit_bytes) + " bytes");
}

Result<HostPort> parse_datagram_address(std::string_view port, std::string_view address) {
  auto hp = parse_host_port(address);
  if (!hp.ok()) {
    return invalid_argument("datagram port '" + std::string(port) +
                            "': send_to: " + hp.status().message());
  }
  if (hp->host.empty() || hp->host == "localhost") return hp;
  unsigned char buf[sizeof(in6_addr)];
  const int family = hp->host.find(':') == std::string::npos ? AF_INET : AF_INET6;
  if (::inet_pton(family, hp->host.c_str(), buf) != 1) {
    return invalid_argument("datagram port '" + std::string(port) + "': send_to " +
                            std::string(address) +
                            ": the host is not an IP address (names are not resolved, as a "
                            "lookup could block the executor)");
  }
  return hp;
}

}  // namespace nodus
