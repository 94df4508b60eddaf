// raft/core/progress.h: what the leader knows about each follower's log, and the flow control
// that bounds how much it sends ahead of the follower's acknowledgements.
#pragma once

#include <cstdint>
#include <deque>
#include <utility>

namespace nodus::raft {

enum class ProgressState {
  kProbe,      // one MSG_APPEND at a time until the follower's log position is known
  kReplicate,  // optimistic pipelining: next runs ahead of match, bounded by Inflights
  kSnapshot,   // the follower needs a snapshot; only heartbeats until report_snapshot()
};

// The MSG_APPENDs sent to a follower and not yet acknowledged, oldest first, as
// (last index in the message, bytes of its entries). Bounded by the caller's limits.
class Inflights {
 public:
  void add(uint64_t last_index, uint64_t bytes) {
    queue_.emplace_back(last_index, bytes);
    bytes_ += bytes;
  }
  // Frees every message whose entries the follower acknowledged (last index <= index).
  void free_up_to(uint64_t index) {
    while (!queue_.empty() && queue_.front().first <= index)
      free_first();
  }
  // Frees the oldest message: a heartbeat response proves the follower is alive, so one lost
  // MSG_APPEND must not stall a full window forever.
  void free_first() {
    if (queue_.empty()) return;
    bytes_ -= queue_.front().second;
    queue_.pop_front();
  }
  bool full(uint32_t max_msgs, uint64_t max_bytes) const {
    return queue_.size() >= max_msgs || (bytes_ >= max_bytes && !queue_.empty());
  }
  void reset() {
    queue_.clear();
    bytes_ = 0;
  }
  size_t count() const { return queue_.size(); }
  uint64_t bytes() const { return bytes_; }

 private:
  std::deque<std::pair<uint64_t, uint64_t>> queue_;
  uint64_t bytes_ = 0;
};

struct Progress {
  uint64_t match = 0;  // highest index known to be durable and matching at the follower
  uint64_t next = 1;   // next index to send
  ProgressState state = ProgressState::kProbe;
  bool probe_sent = false;        // kProbe: an append is outstanding, wait for an answer
  uint64_t pending_snapshot = 0;  // kSnapshot: the snapshot index being streamed
  bool recent_active = false;     // heard from within the current election timeout
  // The leader's tick when it sent the newest heartbeat this follower acknowledged (0: none);
  // the follower's promise not to vote for another leader runs from no earlier than that.
  uint64_t lease_tick = 0;
  bool learner = false;
  Inflights inflights;

  void become_probe() {
    // After a snapshot the follower is expected right after it; otherwise right after match.
    next = state == ProgressState::kSnapshot && pending_snapshot > match ? pending_snapshot + 1
                                                                         : match + 1;
    state = ProgressState::kProbe;
    probe_sent = false;
    pending_snapshot = 0;
    inflights.reset();
  }
  void become_replicate() {
    state = ProgressState::kReplicate;
    next = match + 1;
    probe_sent = false;
    pending_snapshot = 0;
    inflights.reset();
  }
  void become_snapshot(uint64_t snapshot_index) {
    state = ProgressState::kSnapshot;
    pending_snapshot = snapshot_index;
    probe_sent = false;
    inflights.reset();
  }
  // A successful acknowledgement of `index`. Returns true when match moved.
  bool maybe_update(uint64_t index) {
    bool updated = false;
    if (index > match) {
      match = index;
      updated = true;
      probe_sent = false;
    }
    if (next < index + 1) next = index + 1;
    return updated;
  }
  // Whether a new MSG_APPEND may go out now (heartbeats always may).
  bool paused(uint32_t max_msgs, uint64_t max_bytes) const {
    switch (state) {
      case ProgressState::kProbe:
        return probe_sent;
      case ProgressState::kReplicate:
        return inflights.full(max_msgs, max_bytes);
      case ProgressState::kSnapshot:
        return true;
    }
    return true;
  }
};

}  // namespace nodus::raft
