// raft/tests/raftkv_api.h: the capability of the test-only plugin io.nodus.test.raftkv, a
// key-value store replicated through nodus.consensus/v1 (used by raft_sim_test).
//
//   auto* kv = sim.find<nodus::raft::testing::RaftKv>(node);
//   kv->put("x", 5, [](nodus::Status s) { ... });
//   kv->get("x", [](nodus::Result<int64_t> v) { ... });  // linearizable (read_index)
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "nodus/services/consensus.h"
#include "nodus/status.h"

namespace nodus::raft::testing {

class RaftKv {
 public:
  static constexpr std::string_view kCapability = "nodus.test.raftkv/v1";
  virtual ~RaftKv() = default;
  // Replicates "key = value"; OK once applied on this node.
  virtual void put(const std::string& key, int64_t value, std::function<void(Status)> done) = 0;
  // Reads after a read_index barrier (absent keys read 0).
  virtual void get(const std::string& key, std::function<void(Result<int64_t>)> done) = 0;
  // The consensus object this plugin uses.
  virtual Consensus& consensus() = 0;
  // Entries applied to this incarnation's state machine (for checks).
  virtual uint64_t applied_index() const = 0;
  // The value without any barrier (for convergence checks).
  virtual int64_t local_value(const std::string& key) const = 0;
};

}  // namespace nodus::raft::testing
