#include "nodus/harness/sim_faults.h"

#include <algorithm>
#include <sstream>

namespace nodus::testing {
namespace {

using std::chrono::milliseconds;

Duration random_duration(SimRandom& rng, Duration lo, Duration hi) {
  return Duration(static_cast<int64_t>(
      rng.uniform(static_cast<uint64_t>(lo.count()), static_cast<uint64_t>(hi.count()))));
}

}  // namespace

const char* fault_kind_name(uint32_t kind) {
  switch (kind) {
    case kFaultDrop:
      return "drop";
    case kFaultDelay:
      return "delay";
    case kFaultDuplicate:
      return "duplicate";
    case kFaultReorder:
      return "reorder";
    case kFaultPartition:
      return "partition";
    case kFaultOneWayPartition:
      return "one_way_partition";
    case kFaultCrash:
      return "crash";
    case kFaultCrashLoseUnsynced:
      return "crash_lose_unsynced";
    case kFaultClockSkew:
      return "clock_skew";
    case kFaultClockJump:
      return "clock_jump";
    case kFaultSlowDisk:
      return "slow_disk";
    case kFaultExecutorStall:
      return "executor_stall";
    default:
      return "mixed";
  }
}

FaultInjector::FaultInjector(SimCluster& sim, FaultPlan plan)
    : sim_(sim), plan_(plan), calm_(sim.network().link(0, sim.size() > 1 ? 1 : 0)) {
  if (plan_.down_max == 0xffffffffu) plan_.down_max = (sim.size() - 1) / 2;
}

void FaultInjector::note(const std::string& what) {
  const auto ms = std::chrono::duration_cast<milliseconds>(sim_.now().time_since_epoch()).count();
  log_.push_back("t=" + std::to_string(ms) + "ms " + what);
}

std::vector<uint32_t> FaultInjector::enabled_discrete() const {
  std::vector<uint32_t> out;
  for (uint32_t k = kFaultPartition; k <= kFaultExecutorStall; k <<= 1) {
    if (plan_.kinds & k) out.push_back(k);
  }
  return out;
}

void FaultInjector::schedule(Duration window) {
  // Background link faults hold for the whole window.
  LinkFaults noisy = calm_;
  if (plan_.kinds & kFaultDrop) noisy.drop = plan_.drop;
  if (plan_.kinds & kFaultDuplicate) noisy.duplicate = plan_.duplicate;
  if (plan_.kinds & kFaultReorder) noisy.reorder = plan_.reorder;
  if (plan_.kinds & kFaultDelay) noisy.latency_max = std::max(noisy.latency_max, plan_.delay_max);
  sim_.network().set_all(noisy);
  note("links: drop=" + std::to_string(noisy.drop) + " duplicate=" +
       std::to_string(noisy.duplicate) + " reorder=" + std::to_string(noisy.reorder));

  if (!enabled_discrete().empty()) {
    Duration t{};
    SimRandom& rng = sim_.random();
    while (true) {
      t += random_duration(rng, Duration::zero(), 2 * plan_.mean_interval);
      if (t >= window) break;
      sim_.at(t, [this] { inject_one(); });
    }
  }
  sim_.at(window, [this] { heal_all(); });
}

void FaultInjector::inject_one() {
  SimRandom& rng = sim_.random();
  const auto kinds = enabled_discrete();
  const uint32_t kind = kinds[rng.uniform(0, kinds.size() - 1)];
  const uint32_t n = sim_.size();
  const auto node = static_cast<SimNodeId>(rng.uniform(0, n - 1));
  const Duration lasts = random_duration(rng, milliseconds(10), plan_.duration_max);
  switch (kind) {
    case kFaultPartition: {
      std::vector<SimNodeId> a, b;
      for (SimNodeId i = 0; i < n; ++i)
        (i == node || rng.chance(0.3) ? a : b).push_back(i);
      if (b.empty()) return;
      sim_.network().partition(a, b);
      note("partition, " + std::to_string(a.size()) + " nodes incl. " + std::to_string(node) +
           " cut off");
      sim_.at(lasts, [this, a, b] {
        for (SimNodeId x : a) {
          for (SimNodeId y : b) {
            sim_.network().unblock(x, y);
            sim_.network().unblock(y, x);
          }
        }
      });
      return;
    }
    case kFaultOneWayPartition: {
      const auto other = static_cast<SimNodeId>((node + 1 + rng.uniform(0, n - 2)) % n);
      if (other == node) return;
      sim_.network().block(node, other);
      note("one-way cut " + std::to_string(node) + " -> " + std::to_string(other));
      sim_.at(lasts, [this, node, other] { sim_.network().unblock(node, other); });
      return;
    }
    case kFaultCrash:
    case kFaultCrashLoseUnsynced: {
      if (!sim_.up(node) || down_ >= plan_.down_max) return;
      const bool lose = kind == kFaultCrashLoseUnsynced;
      sim_.crash(node, lose);
      ++down_;
      note("crash node " + std::to_string(node) + (lose ? " losing unsynced writes" : ""));
      sim_.at(lasts, [this, node] {
        if (sim_.up(node)) return;
        --down_;
        note("restart node " + std::to_string(node));
        (void)sim_.restart(node);  // a failure is recorded in sim_.failure()
      });
      return;
    }
    case kFaultClockSkew: {
      const double ppm = static_cast<double>(rng.uniform(0, 2000)) - 1000.0;
      sim_.set_clock_drift_ppm(node, ppm);
      note("clock drift node " + std::to_string(node) + " " + std::to_string(ppm) + " ppm");
      return;
    }
    case kFaultClockJump: {
      const Duration d = random_duration(rng, Duration::zero(), milliseconds(2000)) -
                         milliseconds(rng.chance(0.5) ? 1000 : 0);
      sim_.jump_clock(node, d);
      note("clock jump node " + std::to_string(node) + " " +
           std::to_string(std::chrono::duration_cast<milliseconds>(d).count()) + " ms");
      return;
    }
    case kFaultSlowDisk: {
      const Duration lat = random_duration(rng, milliseconds(1), milliseconds(50));
      sim_.set_disk_latency(node, lat, lat / 2);
      note("slow disk node " + std::to_string(node));
      sim_.at(lasts, [this, node] { sim_.set_disk_latency(node, Duration::zero()); });
      return;
    }
    case kFaultExecutorStall: {
      if (!sim_.up(node)) return;
      const Duration d = random_duration(rng, milliseconds(1), plan_.stall_max);
      sim_.stall(node, d);
      note("executor stall node " + std::to_string(node) + " " +
           std::to_string(std::chrono::duration_cast<milliseconds>(d).count()) + " ms");
      return;
    }
    default:
      return;
  }
}

void FaultInjector::heal_all() {
  note("heal all");
  sim_.network().heal();
  sim_.network().set_all(calm_);
  for (SimNodeId i = 0; i < sim_.size(); ++i) {
    sim_.set_disk_latency(i, Duration::zero());
    sim_.set_clock_drift_ppm(i, 0);
    if (!sim_.up(i)) (void)sim_.restart(i);
  }
  down_ = 0;
}

std::string FaultInjector::describe() const {
  std::ostringstream out;
  for (const auto& line : log_)
    out << "  " << line << "\n";
  return out.str();
}

}  // namespace nodus::testing
