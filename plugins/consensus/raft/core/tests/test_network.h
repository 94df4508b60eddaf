// raft/core/tests/test_network.h: a tiny deterministic network of Cores for scenario and
// property tests. Messages wait in one queue until the test delivers them; partitions and
// drops are decided by the test, and every node's driver follows the Ready contract.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "raft_core.h"

namespace nodus::raft::testing {

struct TestNode {
  std::unique_ptr<Core> core;
  CoreConfig config;
  // What is on this node's "disk".
  pb::HardState hard_state;
  pb::SnapshotMeta snapshot;
  std::vector<pb::Entry> log;               // entries after snapshot.index(), as written
  std::vector<pb::Entry> durable_log;       // what the last sync made durable (survives a crash)
  std::vector<std::string> snapshot_image;  // the state machine as of snapshot.index()
  // The state machine: every applied non-empty command, in order.
  std::vector<std::string> state;
  uint64_t applied_index = 0;
  std::optional<std::vector<std::string>> incoming_image;
  // When false the test calls sync() itself (durability tests).
  bool auto_sync = true;
  // This many Ready::snapshot are "lost" by the driver (never installed).
  int skip_snapshot_installs = 0;
  std::optional<std::pair<uint64_t, uint64_t>> unsynced;  // last written, not yet synced
  std::vector<ReadState> read_states;
  std::vector<uint64_t> failed_reads;
  std::vector<Status> transfer_results;
  std::vector<pb::Message> sent;  // every message sent, for assertions
};

class Network {
 public:
  // Nodes 0..n-1, all voters unless `voters` says otherwise (the rest become learners).
  explicit Network(size_t n, CoreConfig base = {}, std::optional<size_t> voters = std::nullopt);

  Core& core(PeerId id) { return *nodes_.at(id).core; }
  TestNode& node(PeerId id) { return nodes_.at(id); }
  size_t size() const { return nodes_.size(); }

  // Drains every Ready of `id`, acting as its driver.
  void process(PeerId id);
  void process_all();
  // Delivers queued messages (and the messages they cause) until the network is quiet or
  // `max_messages` were handled.
  void deliver(size_t max_messages = 100000);
  // Delivers only the first queued message; false when none.
  bool deliver_one();
  // Delivers the queued message at `pos` (dropping it when a cut, the filter or the drop rate
  // says so); false when it was lost on the way.
  bool deliver_at(size_t pos);
  // Removes the queued message at `pos` without delivering it.
  void drop_at(size_t pos);
  // The messages waiting for delivery, oldest first.
  const std::deque<pb::Message>& queue() const { return queue_; }
  void tick(PeerId id);
  void tick_all();
  // Ticks every node `n` times, delivering after each round.
  void run_ticks(int n);
  // Syncs the written entries of a node whose auto_sync is off.
  void sync(PeerId id);

  // Partitions: a cut pair drops messages both ways; isolate cuts a node from everyone.
  void cut(PeerId a, PeerId b);
  void isolate(PeerId id);
  void heal();
  // Drops each message with this probability (per mille), from a deterministic PRNG.
  void set_drop_per_mille(uint32_t p) { drop_per_mille_ = p; }
  void set_seed(uint64_t seed) { rng_ = seed | 1; }
  uint64_t random(uint64_t bound);
  // Shuffles delivery order (reordering) instead of FIFO.
  void set_reorder(bool on) { reorder_ = on; }

  // Called with every Ready a node hands out, before the driver acts on it (transcripts).
  void set_observer(std::function<void(PeerId, const Ready&)> f) { observer_ = std::move(f); }
  // Messages for which the filter returns true are dropped (targeted message loss).
  void set_filter(std::function<bool(const pb::Message&)> f) { filter_ = std::move(f); }
  // Replaces a node's disk and core with the given persisted state.
  void load(PeerId id, Persisted p);
  // Crashes and restarts a node: the hard state, the snapshot and the entries synced so far
  // survive; entries written but not synced are lost.
  void restart(PeerId id);
  // Adds a brand-new node; like every node it boots with the cluster's initial configuration
  // (which does not list it), and learns the rest from the log.
  PeerId add_node();
  // The state machine took a snapshot at its applied index; compact the core.
  Status compact(PeerId id);

  std::optional<PeerId> leader() const;
  // Ticks until some node is leader (with at most `max_rounds` tick rounds).
  std::optional<PeerId> wait_leader(int max_rounds = 200);
  void clear_queue() { queue_.clear(); }
  size_t queued() const { return queue_.size(); }

  // Safety violations seen so far (empty when all is well).
  const std::vector<std::string>& violations() const { return violations_; }
  // Log matching: entries with the same index and term are identical, as are the logs up to
  // there. Appends any violation.
  void check_log_matching();
  const std::map<uint64_t, std::pair<uint64_t, std::string>>& committed() const {
    return committed_;
  }

 private:
  void make_core(PeerId id, Persisted p);
  bool blocked(PeerId from, PeerId to) const;
  void note(std::string v) { violations_.push_back(std::move(v)); }

  CoreConfig base_;
  pb::ConfState initial_conf_;
  std::vector<TestNode> nodes_;
  std::deque<pb::Message> queue_;
  std::deque<std::optional<std::vector<std::string>>> images_;  // parallel to queue_
  std::set<std::pair<PeerId, PeerId>> cuts_;
  uint32_t drop_per_mille_ = 0;
  bool reorder_ = false;
  std::function<bool(const pb::Message&)> filter_;
  std::function<void(PeerId, const Ready&)> observer_;
  uint64_t rng_ = 12345;
  std::map<uint64_t, std::pair<uint64_t, std::string>> committed_;  // index -> (term, data)
  std::map<uint64_t, PeerId> leaders_;                              // term -> leader
  std::vector<std::string> violations_;
};

}  // namespace nodus::raft::testing
