// node/supervisor_bus.h: the instance's end of the supervisor bus (ZeroMQ, ipc://).
//
// A node started by `nodus up` finds NODUS_SUPERVISOR_BUS in its environment and sends a
// nodus.v1.Heartbeat every heartbeat period and whenever its readiness changes. The sends
// happen on the node's executor thread (from a timer), so an executor that is stuck, or a
// process that is stopped, stops the heartbeats and the supervisor notices. Sends never
// block: when the supervisor is away, heartbeats are dropped, not queued without bound.
//
//   NODUS_ASSIGN_OR_RETURN(auto bus, SupervisorBus::connect("ipc:///run/bus.sock", 2));
//   bus->send(/*ready=*/true, "leader");   // executor thread only
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "nodus/status.h"

namespace nodus::kernel {

class SupervisorBus {
 public:
  static Result<std::unique_ptr<SupervisorBus>> connect(const std::string& endpoint,
                                                        uint32_t index);
  ~SupervisorBus();
  SupervisorBus(const SupervisorBus&) = delete;
  SupervisorBus& operator=(const SupervisorBus&) = delete;

  // One heartbeat; false when it was dropped (queue full or bus closed).
  bool send(bool ready, const std::string& role);

 private:
  struct Impl;
  explicit SupervisorBus(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nodus::kernel
