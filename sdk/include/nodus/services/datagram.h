// nodus/services/datagram.h: UDP datagrams on the instance's named ports.
//
// A plugin binds a port the profile names for its instance ("gossip", ...), sends datagrams
// from it to any "host:port", and receives the datagrams that arrive on it through a handler
// that runs on the instance executor. Datagrams are unreliable, as UDP is: they may be lost,
// duplicated or reordered, and the simulation harness does all three on purpose.
//
// Limits. A datagram larger than the binding's max_datagram_bytes (1,400 by default, so that
// it fits one Ethernet frame without IP fragmentation) is refused on send with
// INVALID_ARGUMENT and dropped (and counted) on receive. Between the socket and the executor
// sits a queue of at most receive_queue_max datagrams: when the handler falls behind, further
// datagrams are dropped and counted, so a flood costs bounded memory and cannot starve the
// executor. Each bound port exports nodus_datagram_sent_total, nodus_datagram_received_total
// and nodus_datagram_dropped_total{reason=...}, all labelled with the port name.
//
// Every binding a plugin makes ends with its stop(). All calls are made on the executor.
//
//   auto& dg = ctx.datagrams();
//   NODUS_RETURN_IF_ERROR(dg.bind("gossip", [this](nodus::Datagram d) {
//     on_gossip(d.from, std::move(d.payload));   // d.from is "10.0.0.2:7946"
//   }));
//   NODUS_RETURN_IF_ERROR(dg.send_to("gossip", "10.0.0.3:7946", "ping"));
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "nodus/address.h"
#include "nodus/services/metrics.h"
#include "nodus/status.h"

namespace nodus {

// What 1,400 bytes leaves room for: a 1,500-byte Ethernet MTU minus IPv6 and UDP headers and
// some tunnel overhead, so a datagram is never fragmented on the usual networks.
inline constexpr size_t kDatagramBytesDefault = 1400;
// The largest UDP payload over IPv4; no binding may allow more.
inline constexpr size_t kDatagramBytesMax = 65507;

struct DatagramOptions {
  // Larger datagrams are refused on send and dropped on receive (1 .. kDatagramBytesMax).
  size_t max_datagram_bytes = kDatagramBytesDefault;
  // Datagrams received but not yet handed to the handler (at least 1).
  size_t receive_queue_max = 1024;
};

struct Datagram {
  std::string from;  // the sender's "host:port"
  std::string payload;
};

using DatagramHandler = std::function<void(Datagram datagram)>;

// What happened on one bound port so far (the same figures as its metrics).
struct DatagramStats {
  uint64_t sent = 0;
  uint64_t received = 0;            // handed to the handler
  uint64_t dropped_oversize = 0;    // received datagrams over max_datagram_bytes
  uint64_t dropped_queue_full = 0;  // arrived while receive_queue_max were waiting
  uint64_t dropped_send = 0;        // the socket refused a send (buffer full, no route)
};

class Datagrams {
 public:
  virtual ~Datagrams() = default;
  // Binds the instance's port named `port` (a key of InstanceInfo::ports). NOT_FOUND when the
  // profile names no such port, ALREADY_EXISTS when it is bound already (by any plugin),
  // INVALID_ARGUMENT for options out of range, UNAVAILABLE when the socket cannot be bound.
  virtual Status bind(std::string_view port, DatagramHandler handler,
                      const DatagramOptions& options) = 0;
  Status bind(std::string_view port, DatagramHandler handler) {
    return bind(port, std::move(handler), DatagramOptions{});
  }
  // Sends `payload` from the bound `port` to `address` ("host:port", an IP address: names are
  // not resolved, as that could block the executor). Never blocks. INVALID_ARGUMENT for a bad
  // address or a payload over the limit (naming both sizes), FAILED_PRECONDITION when `port`
  // is not bound, RESOURCE_EXHAUSTED / UNAVAILABLE when the socket refuses it.
  virtual Status send_to(std::string_view port, std::string_view address,
                         std::string_view payload) = 0;
  // Closes a binding of this plugin; datagrams still queued for it are dropped.
  virtual Status close(std::string_view port) = 0;
  // "host:port" the bound socket has (the port is the real one when the profile gives 0).
  virtual Result<std::string> local_address(std::string_view port) const = 0;
  virtual Result<DatagramStats> stats(std::string_view port) const = 0;
};

// ---- for implementations of Datagrams (the kernel, the fakes and the simulator) ----

// The counters of one bound port, registered under the names above.
struct DatagramCounters {
  Counter* sent = nullptr;
  Counter* received = nullptr;
  Counter* dropped_oversize = nullptr;
  Counter* dropped_queue_full = nullptr;
  Counter* dropped_send = nullptr;

  static DatagramCounters create(Metrics& metrics, std::string_view port);
  DatagramStats snapshot() const;
};

// The checks every implementation makes, with the same messages.
Status check_datagram_options(std::string_view port, const DatagramOptions& options);
// INVALID_ARGUMENT naming the port, the size and the limit when `size_bytes` > the limit.
Status check_datagram_size(std::string_view port, size_t size_bytes, size_t limit_bytes);
// A send_to() address: "host:port" whose host is an IP address or "localhost" (never looked
// up). INVALID_ARGUMENT naming the port and the address otherwise.
Result<HostPort> parse_datagram_address(std::string_view port, std::string_view address);

}  // namespace nodus
