// nodus/testing/sim_checkers.h: checkers for properties other than linearizability.
//
//  - check_convergence: after the faults heal and the cluster goes quiet, every live replica
//    holds the same state (CRDTs, anti-entropy, eventually consistent stores).
//  - check_no_lost_writes: every acknowledged write is still visible.
//  - check_at_most_one: at most one node holds a role at any instant (one active signer per
//    validator key, one leader per term); register it with SimCluster::add_invariant().
//
//   std::vector<Replica> replicas;
//   for (SimNodeId i = 0; i < sim.size(); ++i)
//     if (sim.up(i)) replicas.push_back({i, sim.find<Store>(i)->digest()});
//   EXPECT_TRUE(check_convergence(replicas).ok());
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "nodus/status.h"
#include "nodus/testing/sim_world.h"

namespace nodus::testing {

struct Replica {
  SimNodeId node = 0;
  std::string state;  // any canonical rendering of the replica's state
};

// OK when every replica's state is equal (or there are fewer than two). Otherwise
// FAILED_PRECONDITION listing each distinct state and the nodes that hold it.
Status check_convergence(const std::vector<Replica>& replicas);

// OK when every write in `acknowledged` is in `visible`; otherwise FAILED_PRECONDITION naming
// the first missing write.
Status check_no_lost_writes(const std::set<std::string>& acknowledged,
                            const std::set<std::string>& visible);

// OK when at most one node holds `role`: `holds(node)` says whether the node
// holds the role right now. Use as an invariant over every event.
Status check_at_most_one(const std::string& role, uint32_t nodes,
                         const std::function<bool(SimNodeId)>& holds);

}  // namespace nodus::testing
