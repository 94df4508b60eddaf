// nodus/harness/consensus_cluster.h: a SimCluster of one consensus plugin and the harness's
// key-value state machine (io.nodus.testing.consensus-kv), with the operations and checks a
// consensus test needs: find the leader, write and read through any node, transfer
// leadership, change membership, and tell whether every node converged. It always checks
// election safety and the ordering of each node's indexes after every simulated event.
//
// The consensus conformance suite (nodus/harness/consensus_conformance.h) is written with it,
// and a plugin's own simulation tests can be too.
//
//   ConsensusCluster c({.plugin = RAFT_PLUGIN, .kv_plugin = KV_PLUGIN, .config_yaml = "..."},
//                      seed);
//   ASSERT_TRUE(c.start().ok());
//   auto leader = c.wait_for_leader();
//   ASSERT_TRUE(c.put(*leader, "k", 1).ok());
//   EXPECT_TRUE(c.wait_converged());
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nodus/capabilities/consensus.h"
#include "nodus/harness/consensus_kv.h"
#include "nodus/harness/sim_cluster.h"

namespace nodus::testing {

// A consensus plugin under test, as the conformance suite receives it.
struct ConsensusSubject {
  std::string name;                      // names the instantiation in test output ("Raft")
  std::filesystem::path plugin;          // the plugin file providing nodus.consensus/v1
  std::filesystem::path kv_plugin = {};  // libnodus_consensus_kv.so (NODUS_CONSENSUS_KV_PLUGIN)
  // The plugin's config section on every node: timeouts suited to a simulated network whose
  // messages take 1-10 ms (the plugin's defaults if empty).
  std::string config_yaml = {};
  uint32_t seeds = 3;  // seeds per test (NODUS_SIM_SEEDS overrides)
  // How long an election may take on the simulator, and a commit once a leader is known.
  Duration election_limit = std::chrono::seconds(10);
  Duration operation_limit = std::chrono::seconds(5);
};

class ConsensusCluster {
 public:
  ConsensusCluster(ConsensusSubject subject, uint64_t seed, uint32_t nodes = 3,
                   bool crash_disk = false);

  // Adds the plugin and the key-value machine to every node and starts them.
  Status start();
  SimCluster& sim() { return sim_; }
  const ConsensusSubject& subject() const { return subject_; }

  // nullptr when the node is down or removed.
  Consensus* consensus(SimNodeId node) { return sim_.find<Consensus>(node); }
  ConsensusKv* kv(SimNodeId node) { return sim_.find<ConsensusKv>(node); }
  // The live node that calls itself leader in the highest term, if any.
  std::optional<SimNodeId> leader();
  // Runs until one node leads and every node of `among` (default: every live node) names it
  // as leader; nullopt after subject().election_limit.
  std::optional<SimNodeId> wait_for_leader(std::optional<std::vector<SimNodeId>> among = {});
  // The live, not removed nodes.
  std::vector<SimNodeId> live_nodes() const;

  // One write or linearizable read through `via`, run to its answer (DEADLINE_EXCEEDED when
  // none came within subject().operation_limit).
  Status put(SimNodeId via, const std::string& key, int64_t value);
  Result<int64_t> get(SimNodeId via, const std::string& key);
  Status transfer_leadership(SimNodeId leader, std::optional<PeerId> to);
  Status change_membership(SimNodeId leader, MembershipChange change, PeerId peer);

  // Every node of `nodes` (default: every live node) knows a leader, applied the same log
  // index, holds the same key-value state, and no state machine saw a command twice or out
  // of order.
  bool converged(std::optional<std::vector<SimNodeId>> nodes = {});
  bool wait_converged(Duration limit = std::chrono::seconds(20),
                      std::optional<std::vector<SimNodeId>> nodes = {});

  // Each node's consensus state, for failure messages.
  std::string dump();

 private:
  template <class T>
  std::optional<T> run_to_answer(const std::function<void(std::function<void(T)>)>& start);
  void add_safety_invariants();

  ConsensusSubject subject_;
  SimCluster sim_;
  std::map<uint64_t, SimNodeId> leader_of_term_;
};

}  // namespace nodus::testing
