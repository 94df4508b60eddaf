// nodus/harness/consensus_kv.h: the capability of io.nodus.testing.consensus-kv, a test-only
// key-value store replicated through any nodus.consensus/v1 provider. The consensus
// conformance suite (nodus/harness/consensus_conformance.h) drives a consensus plugin through
// it; the plugin file installs with the harness (NODUS_CONSENSUS_KV_PLUGIN in CMake).
//
//   auto* kv = sim.find<nodus::testing::ConsensusKv>(node);
//   kv->put("x", 5, [](nodus::Status s) { ... });
//   kv->get("x", [](nodus::Result<int64_t> v) { ... });  // linearizable (read_index)
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "nodus/capabilities/consensus.h"
#include "nodus/status.h"

namespace nodus::testing {

class ConsensusKv {
 public:
  static constexpr std::string_view kCapability = "nodus.testing.consensus-kv/v1";
  // Bumped with every change to this class's declaration (nodus/capability.h).
  static constexpr uint32_t kRevision = 1;
  virtual ~ConsensusKv() = default;
  // Replicates "key = value"; OK once applied on this node.
  virtual void put(const std::string& key, int64_t value, std::function<void(Status)> done) = 0;
  // Reads after a read_index barrier (absent keys read 0).
  virtual void get(const std::string& key, std::function<void(Result<int64_t>)> done) = 0;
  // The consensus object this plugin uses.
  virtual Consensus& consensus() = 0;
  // The index of the last command applied, or of the snapshot restored, in this incarnation;
  // 0 once a command arrived twice or out of order (for checks). Not comparable across
  // nodes: the log's no-op and configuration entries never reach the state machine, so a
  // node restored from a snapshot taken at such an entry reports its index while a node that
  // applied the log reports the last command before it. Compare state_image() and Raft's
  // applied index instead.
  virtual uint64_t applied_index() const = 0;
  // Commands that arrived twice or out of order in this incarnation (must stay 0).
  virtual uint64_t order_errors() const = 0;
  // The whole key-value state, as a snapshot image ("key=value\n" lines in key order).
  virtual std::string state_image() const = 0;
  // The value without any barrier (for convergence checks).
  virtual int64_t local_value(const std::string& key) const = 0;
};

}  // namespace nodus::testing
