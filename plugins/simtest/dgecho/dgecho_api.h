// dgecho_api.h: the capability io.nodus.simtest.dgecho/v1, a datagram echo endpoint.
//
// Shared by the plugin and its tests. Call it on the node's executor.
//
//   auto* echo = sim.find<nodus::simtest::DatagramEcho>(0);
//   NODUS_RETURN_IF_ERROR(echo->send("sim-1:7946", "ping"));   // answered with "echo:ping"
//   for (const auto& r : echo->received()) { ... r.from, r.payload, r.at ... }
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "nodus/services/clock.h"
#include "nodus/status.h"

namespace nodus::simtest {

class DatagramEcho {
 public:
  static constexpr const char* kCapability = "io.nodus.simtest.dgecho/v1";
  // Bumped with every change to this class's declaration (nodus/capability.h).
  static constexpr uint32_t kRevision = 1;
  // The newest datagrams kept by received(); older ones are forgotten (received_total counts).
  static constexpr size_t kReceivedMax = 4096;

  struct Received {
    std::string from;
    std::string payload;
    TimePoint at;  // the node's clock when the handler ran
  };

  // Sends `payload` from the plugin's port to `to` ("host:port").
  virtual Status send(std::string_view to, std::string_view payload) = 0;
  virtual const std::deque<Received>& received() const = 0;
  virtual uint64_t received_total() const = 0;
  // The bound port's "host:port".
  virtual std::string local_address() const = 0;

 protected:
  ~DatagramEcho() = default;
};

}  // namespace nodus::simtest
