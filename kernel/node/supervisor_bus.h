// node/supervisor_bus.h: the instance's end of the supervisor bus (ZeroMQ, ipc://).
//
// A node started by `nodus up` finds NODUS_SUPERVISOR_BUS in its environment and sends a
// nodus.v1.Heartbeat every heartbeat period and whenever its readiness or role changes.
//
// Heartbeats come from a thread of their own, not from the node's executor: an executor that
// is busy (a loaded instance on a starved machine) must not look dead. Instead each heartbeat
// carries the executor's lag, how long a probe task posted to the executor has been waiting
// to run (0 when none is waiting), so the supervisor tells "slow but making progress" from
// "hung" (no progress for supervisor.hang_timeout_ms). A stopped or dead process sends
// nothing, which the supervisor catches by the missed heartbeats. Sends never block: when the
// supervisor is away, heartbeats are dropped, not queued without bound.
//
//   NODUS_ASSIGN_OR_RETURN(auto bus, SupervisorBus::connect("ipc:///run/bus.sock", 2));
//   bus->start(std::chrono::seconds(1), executor);
//   bus->update(/*ready=*/true, "leader");   // any thread; sends at once on a change
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "nodus/services/executor.h"
#include "nodus/status.h"

namespace nodus::kernel {

class SupervisorBus {
 public:
  static Result<std::unique_ptr<SupervisorBus>> connect(const std::string& endpoint,
                                                        uint32_t index);
  // Stops the heartbeat thread.
  ~SupervisorBus();
  SupervisorBus(const SupervisorBus&) = delete;
  SupervisorBus& operator=(const SupervisorBus&) = delete;

  // Starts the heartbeat thread: one heartbeat every `period`, measuring `executor`'s lag with
  // at most one probe task in flight. `executor` must outlive this object or be stopped first
  // (a probe that never runs only makes the reported lag grow).
  void start(nodus::Duration period, nodus::Executor& executor);
  // Ends the heartbeats (idempotent).
  void stop();

  // Records readiness and role; a change is sent at once. Thread-safe.
  void update(bool ready, const std::string& role);

  // Heartbeats sent so far and dropped so far (queue full or bus closed).
  uint64_t sent() const;
  uint64_t dropped() const;

 private:
  struct Impl;
  explicit SupervisorBus(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nodus::kernel
