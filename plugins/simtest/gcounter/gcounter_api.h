// gcounter_api.h: the capability io.nodus.simtest.gcounter/v1, a grow-only counter CRDT.
//
//   auto* g = ctx.find<nodus::simtest::GCounterService>();
//   g->increment(2);           // local, acknowledged at once, durable
//   int64_t total = g->total();
//   std::string s = g->digest();  // canonical state, for the convergence checker
#pragma once

#include <cstdint>
#include <string>

#include "nodus/status.h"

namespace nodus::simtest {

class GCounterService {
 public:
  static constexpr const char* kCapability = "io.nodus.simtest.gcounter/v1";
  // Bumped with every change to this class's declaration (nodus/capability.h).
  static constexpr uint32_t kRevision = 1;

  virtual Status increment(int64_t delta) = 0;
  virtual int64_t total() const = 0;
  virtual std::string digest() const = 0;

 protected:
  ~GCounterService() = default;
};

}  // namespace nodus::simtest
