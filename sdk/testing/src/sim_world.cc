#include "nodus/testing/sim_world.h"

#include <algorithm>
#include <cmath>

#include "nodus/check.h"

namespace nodus::testing {

SimWorld::SimWorld(uint64_t seed) : seed_(seed), random_(seed) {
  trace_.add(seed);
}

SimNodeId SimWorld::add_node() {
  nodes_.emplace_back();
  return static_cast<SimNodeId>(nodes_.size() - 1);
}

void SimWorld::kill(SimNodeId node) {
  nodes_[node].up = false;
  ++nodes_[node].incarnation;
  nodes_[node].busy_until = now_;
}

void SimWorld::revive(SimNodeId node) {
  nodes_[node].up = true;
  ++nodes_[node].incarnation;
}

void SimWorld::charge(SimNodeId node, Duration d) {
  auto& n = nodes_[node];
  n.busy_until = std::max(n.busy_until, now_) + d;
}

TimePoint SimWorld::node_now(SimNodeId node) const {
  return node == kWorldNode ? now_ : std::max(now_, nodes_[node].busy_until);
}

void SimWorld::schedule(TimePoint at, SimNodeId node, SimEventKind kind, uint64_t detail, Task fn,
                        uint64_t timer) {
  const uint64_t inc = node == kWorldNode ? 0 : nodes_[node].incarnation;
  schedule_for(at, node, inc, kind, detail, std::move(fn), timer);
}

void SimWorld::schedule_for(TimePoint at, SimNodeId node, uint64_t incarnation, SimEventKind kind,
                            uint64_t detail, Task fn, uint64_t timer) {
  if (timer != 0) live_timers_.insert(timer);
  push(Event{std::max(at, now_), seq_++, node, incarnation, kind, detail, timer, std::move(fn)});
}

void SimWorld::post(SimNodeId node, Task fn) {
  if (on_driver_thread()) {
    schedule(node_now(node), node, SimEventKind::kTask, 0, std::move(fn));
    return;
  }
  std::lock_guard lock(inbox_mu_);
  inbox_.emplace_back(node, std::move(fn));
}

void SimWorld::drain_inbox() {
  std::vector<std::pair<SimNodeId, Task>> posted;
  {
    std::lock_guard lock(inbox_mu_);
    posted.swap(inbox_);
  }
  for (auto& [node, fn] : posted)
    schedule(node_now(node), node, SimEventKind::kTask, 0, std::move(fn));
}

size_t SimWorld::pending() const {
  std::lock_guard lock(inbox_mu_);
  return queue_.size() + inbox_.size();
}

void SimWorld::push(Event e) {
  queue_.push_back(std::move(e));
  std::push_heap(queue_.begin(), queue_.end(), Later{});
}

bool SimWorld::step(TimePoint limit) {
  driver_.store(std::this_thread::get_id(), std::memory_order_release);
  drain_inbox();
  while (!queue_.empty() && queue_.front().at <= limit) {
    std::pop_heap(queue_.begin(), queue_.end(), Later{});
    Event e = std::move(queue_.back());
    queue_.pop_back();
    NODUS_CHECK(e.at >= now_) << "simulated time never goes backwards; seed " << seed_;
    now_ = e.at;
    if (e.node != kWorldNode) {
      const NodeState& n = nodes_[e.node];
      if (!n.up || n.incarnation != e.incarnation) {
        if (e.timer != 0) live_timers_.erase(e.timer);
        continue;  // the process this was meant for is gone
      }
      if (n.busy_until > e.at) {  // blocked in a slow fsync: runs when the node is free
        e.at = n.busy_until;
        e.seq = seq_++;
        push(std::move(e));
        continue;
      }
    }
    if (e.timer != 0 && live_timers_.erase(e.timer) == 0) continue;  // cancelled
    trace_.add(static_cast<uint64_t>(e.at.time_since_epoch().count()));
    trace_.add((static_cast<uint64_t>(e.node) << 32) | static_cast<uint32_t>(e.kind));
    trace_.add(e.detail);
    ++events_run_;
    e.fn();
    return true;
  }
  return false;
}

bool SimWorld::run_until(TimePoint t, const std::function<bool()>& stop) {
  while (step(t)) {
    if (stop && stop()) return false;
  }
  if (t > now_) now_ = t;
  return true;
}

SimExecutor::SimExecutor(SimWorld& world, SimNodeId node) : world_(world), node_(node) {}

void SimExecutor::post(Task task) {
  world_.post(node_, std::move(task));
}

TimerId SimExecutor::schedule_after(Duration delay, Task task) {
  if (delay < Duration::zero()) delay = Duration::zero();
  // A timer of d node-nanoseconds fires after d / rate world-nanoseconds.
  const auto world_delay =
      Duration(static_cast<int64_t>(std::ceil(static_cast<double>(delay.count()) / rate())));
  const uint64_t id = world_.new_timer_id();
  world_.schedule(world_.node_now(node_) + world_delay, node_, SimEventKind::kTimer, id,
                  std::move(task), id);
  return id;
}

TimePoint SimExecutor::to_node(TimePoint world) const {
  const double elapsed = static_cast<double>((world - anchor_world_).count()) * rate();
  return anchor_node_ + Duration(static_cast<int64_t>(elapsed));
}

TimePoint SimExecutor::now() const {
  return to_node(world_.node_now(node_));
}

int64_t SimExecutor::wall_time_ns() const {
  constexpr int64_t kEpochNs = 1'767'225'600'000'000'000;  // 2026-01-01T00:00:00Z
  return kEpochNs + wall_offset_ns_ + now().time_since_epoch().count();
}

void SimExecutor::set_drift_ppm(double ppm) {
  const TimePoint w = world_.node_now(node_);
  anchor_node_ = to_node(w);
  anchor_world_ = w;
  drift_ppm_ = ppm;
}

void SimExecutor::jump(Duration d) {
  if (d > Duration::zero()) anchor_node_ += d;
  // The wall clock moved by d in total; the monotonic part already carries max(d, 0).
  wall_offset_ns_ += (d - std::max(d, Duration::zero())).count();
}

}  // namespace nodus::testing
