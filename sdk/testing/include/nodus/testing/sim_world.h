// nodus/testing/sim_world.h: the simulation's one clock and one event queue.
//
// Every event of every simulated node (tasks, timers, message deliveries) and every event of
// the test itself (faults, client operations) lives in one queue ordered by (time, sequence),
// and runs on the thread that drives the world (the one calling step() or run_until(); at
// first, the one that built it). Nothing else is a source of order, so a run is a function of
// its seed. Each executed event is folded into an FNV-1a trace hash.
//
// As Executor promises, a node's post() is safe from any thread: a post from another thread
// (a data-path plugin's own I/O thread) waits in an inbox and is queued, in arrival order, at
// the driver's next step. Such posts are as nondeterministic as the threads that make them;
// posts from the driving thread never wait there, so a run without them stays a function of
// its seed.
//
// Nodes have incarnations: crash() makes every queued event of the old incarnation void, which
// is how a crashed process loses its in-memory work. A node can also be "busy" until a time
// (a synchronous fsync on a slow disk): its events wait until then.
//
// Most tests use SimCluster, which owns a SimWorld; use SimWorld directly only to build a
// different harness.
//
//   SimWorld world(seed);
//   SimNodeId n = world.add_node();
//   SimExecutor exec(world, n);
//   exec.schedule_after(std::chrono::milliseconds(5), [] { ... });
//   world.run_until(world.now() + std::chrono::seconds(1));
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "nodus/services/clock.h"
#include "nodus/services/executor.h"
#include "nodus/testing/sim_random.h"

namespace nodus::testing {

using SimNodeId = uint32_t;
// Events of the test itself: never voided by a crash.
inline constexpr SimNodeId kWorldNode = 0xffffffffu;

// What an event was, for the trace hash.
enum class SimEventKind : uint32_t {
  kTask = 1,
  kTimer,
  kMessage,
  kCallRequest,
  kCallReply,
  kWorld,
  kDatagram
};

class SimWorld {
 public:
  explicit SimWorld(uint64_t seed);
  ~SimWorld() = default;
  SimWorld(const SimWorld&) = delete;
  SimWorld& operator=(const SimWorld&) = delete;

  TimePoint now() const { return now_; }
  uint64_t seed() const { return seed_; }
  // The world's own random stream (network and fault decisions).
  SimRandom& random() { return random_; }

  SimNodeId add_node();
  size_t node_count() const { return nodes_.size(); }
  bool up(SimNodeId node) const { return nodes_[node].up; }
  uint64_t incarnation(SimNodeId node) const { return nodes_[node].incarnation; }
  // Voids every queued event of the node; it runs nothing until revive().
  void kill(SimNodeId node);
  void revive(SimNodeId node);
  // The node does nothing until `now() + d` (cumulative with an earlier charge).
  void charge(SimNodeId node, Duration d);
  // The node's own notion of "now": later than now() while it is busy.
  TimePoint node_now(SimNodeId node) const;

  // Queues `fn` for `node` (current incarnation) at `at` (never earlier than now()).
  // `detail` goes into the trace hash. `timer` != 0 makes it cancellable through cancel().
  void schedule(TimePoint at, SimNodeId node, SimEventKind kind, uint64_t detail, Task fn,
                uint64_t timer = 0);
  // As schedule(), for a given incarnation (a delivery addressed to the process that was
  // running when the message was sent).
  void schedule_for(TimePoint at, SimNodeId node, uint64_t incarnation, SimEventKind kind,
                    uint64_t detail, Task fn, uint64_t timer = 0);
  // A task for `node` now (node time), from any thread: queued at once on the driving thread,
  // through the inbox from any other.
  void post(SimNodeId node, Task fn);
  // True on the thread that drives the world.
  bool on_driver_thread() const {
    return driver_.load(std::memory_order_acquire) == std::this_thread::get_id();
  }
  uint64_t new_timer_id() { return next_timer_++; }
  // True when the timer was pending; it will not run.
  bool cancel(uint64_t timer) { return live_timers_.erase(timer) > 0; }

  // Runs the next event due at or before `limit`. False when there is none.
  bool step(TimePoint limit = TimePoint::max());
  // Runs every event due at or before `t`, then sets now() to `t`. Stops early (returning
  // false) when `stop` says so after an event.
  bool run_until(TimePoint t, const std::function<bool()>& stop = nullptr);

  uint64_t trace_hash() const { return trace_.value(); }
  uint64_t events_run() const { return events_run_; }
  size_t pending() const;

 private:
  struct Event {
    TimePoint at;
    uint64_t seq;
    SimNodeId node;
    uint64_t incarnation;
    SimEventKind kind;
    uint64_t detail;
    uint64_t timer;
    Task fn;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };
  struct NodeState {
    uint64_t incarnation = 1;
    bool up = true;
    TimePoint busy_until{};
  };

  void push(Event e);
  // Queues the posts other threads made, in arrival order.
  void drain_inbox();

  uint64_t seed_;
  SimRandom random_;
  TimePoint now_{};
  uint64_t seq_ = 0;
  uint64_t next_timer_ = 1;
  uint64_t events_run_ = 0;
  TraceHash trace_;
  std::vector<Event> queue_;  // a binary heap under Later
  std::unordered_set<uint64_t> live_timers_;
  std::vector<NodeState> nodes_;

  std::atomic<std::thread::id> driver_{std::this_thread::get_id()};
  mutable std::mutex inbox_mu_;
  std::vector<std::pair<SimNodeId, Task>> inbox_;  // guarded by inbox_mu_
};

// One node's executor and clock. The clock is the world's time seen through the node's skew:
// a drift (ppm, the node's oscillator runs fast or slow) and jumps (a VM pause moves the
// monotonic clock forward; the wall clock may jump either way). Timers are set in node time.
class SimExecutor final : public Executor, public Clock {
 public:
  SimExecutor(SimWorld& world, SimNodeId node);

  void post(Task task) override;
  TimerId schedule_after(Duration delay, Task task) override;
  bool cancel(TimerId id) override { return world_.cancel(id); }
  // True on the world's driving thread only.
  bool in_executor() const override { return world_.on_driver_thread(); }
  TimePoint now() const override;
  int64_t wall_time_ns() const override;

  // Skew: from now on the node's clock advances (1 + ppm / 1e6) times as fast as real time.
  void set_drift_ppm(double ppm);
  // Moves the monotonic clock forward by max(d, 0) and the wall clock by d.
  void jump(Duration d);
  SimNodeId node() const { return node_; }

 private:
  double rate() const { return 1.0 + drift_ppm_ / 1e6; }
  TimePoint to_node(TimePoint world) const;

  SimWorld& world_;
  const SimNodeId node_;
  double drift_ppm_ = 0;
  TimePoint anchor_world_{};
  TimePoint anchor_node_{};
  int64_t wall_offset_ns_ = 0;
};

}  // namespace nodus::testing
