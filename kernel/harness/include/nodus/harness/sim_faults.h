// nodus/harness/sim_faults.h: a random fault schedule ("nemesis") for a SimCluster.
//
// From one seed it chooses when and where to inject each enabled kind of fault, undoes each
// after a while, and at the end of the chaos window heals everything (links restored,
// crashed nodes restarted, disks and clocks back to normal) so that checkers can judge a
// quiet cluster. Every injected fault is logged with its simulated time, for failure reports.
//
//   FaultInjector nemesis(sim, {.kinds = kAllFaults});
//   nemesis.schedule(std::chrono::seconds(10));  // chaos for 10 s of simulated time
//   sim.run_for(std::chrono::seconds(12));
//   if (HasFailure()) std::cerr << nemesis.describe();
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nodus/harness/sim_cluster.h"

namespace nodus::testing {

enum FaultKind : uint32_t {
  kFaultDrop = 1u << 0,
  kFaultDelay = 1u << 1,
  kFaultDuplicate = 1u << 2,
  kFaultReorder = 1u << 3,
  kFaultPartition = 1u << 4,        // symmetric: the nodes split into two sides
  kFaultOneWayPartition = 1u << 5,  // a -> b cut, b -> a still works
  kFaultCrash = 1u << 6,            // crash and restart, unsynced writes survive
  kFaultCrashLoseUnsynced = 1u << 7,
  kFaultClockSkew = 1u << 8,  // a node's clock drifts fast or slow
  kFaultClockJump = 1u << 9,  // a node's clocks jump (monotonic forward, wall either way)
  kFaultSlowDisk = 1u << 10,  // durable writes cost milliseconds of simulated time
  // A node's executor runs nothing for up to stall_max (a CPU-starved process): its timers,
  // deliveries and datagram handlers wait.
  kFaultExecutorStall = 1u << 11,
};
inline constexpr uint32_t kAllFaults = (1u << 12) - 1;
// "drop", "partition", ...: the name of one kind (for test names and reports).
const char* fault_kind_name(uint32_t kind);

struct FaultPlan {
  uint32_t kinds = kAllFaults;
  Duration mean_interval = std::chrono::milliseconds(300);  // between discrete faults
  Duration duration_max = std::chrono::seconds(1);          // how long one fault lasts
  double drop = 0.05;
  double duplicate = 0.05;
  double reorder = 0.1;
  Duration delay_max = std::chrono::milliseconds(50);
  Duration stall_max = std::chrono::milliseconds(300);  // one executor stall
  // At most this many nodes down at once (default: a minority).
  uint32_t down_max = 0xffffffffu;
};

class FaultInjector {
 public:
  FaultInjector(SimCluster& sim, FaultPlan plan);
  // Schedules faults from now for `window` of simulated time, then a full heal.
  void schedule(Duration window);
  // Heals everything now.
  void heal_all();
  const std::vector<std::string>& log() const { return log_; }
  // One fault per line, for a failure message.
  std::string describe() const;

 private:
  void inject_one();
  void note(const std::string& what);
  std::vector<uint32_t> enabled_discrete() const;

  SimCluster& sim_;
  FaultPlan plan_;
  LinkFaults calm_;
  uint32_t down_ = 0;
  std::vector<std::string> log_;
};

}  // namespace nodus::testing
