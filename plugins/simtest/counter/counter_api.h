// counter_api.h: the capability io.nodus.simtest.counter/v1, a replicated counter.
//
// Shared by the plugin and its users (other plugins, tests). Call it on the node's executor.
//
//   auto* c = ctx.find<nodus::simtest::CounterService>();
//   c->add(1, [](nodus::Result<int64_t> v) { ... });  // v: the new value
//   c->read([](nodus::Result<int64_t> v) { ... });
//
// Errors: FAILED_PRECONDITION means the operation certainly did not happen (the leader is
// still recovering); any other error means it may or may not have happened.
#pragma once

#include <cstdint>
#include <functional>

#include "nodus/status.h"

namespace nodus::simtest {

class CounterService {
 public:
  static constexpr const char* kCapability = "io.nodus.simtest.counter/v1";
  // Bumped with every change to this class's declaration (nodus/capability.h).
  static constexpr uint32_t kRevision = 1;
  using Done = std::function<void(Result<int64_t>)>;

  virtual void add(int64_t delta, Done done) = 0;
  virtual void read(Done done) = 0;
  // This replica's value as last applied (for invariants and tests).
  virtual int64_t local_value() const = 0;
  // The newest value on this replica's disk that survives a crash.
  virtual int64_t durable_value() const = 0;

 protected:
  ~CounterService() = default;
};

}  // namespace nodus::simtest
