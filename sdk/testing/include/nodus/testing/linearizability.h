// nodus/testing/linearizability.h: a linearizability checker for key-value histories.
//
// Wing & Gong's search with Lowe's memoization (the algorithm of Porcupine and Knossos's
// "wgl"): operations are tried in every order consistent with real time, and a (set of
// linearized operations, model state) pair already explored is never explored again. Keys are
// independent registers, so each key's history is checked on its own (P-compositionality).
//
// An operation whose response never came (the client crashed, the call timed out) may or may
// not have taken effect: record it with `completed = false`.
//
//   KvHistory h;
//   size_t w = h.invoke(/*client=*/1, KvOp::put("x", 1), t0);
//   h.complete(w, /*result=*/0, t1);
//   size_t r = h.invoke(2, KvOp::get("x"), t2);
//   h.complete(r, 1, t3);
//   Status st = check_linearizable(h);  // OK, or FAILED_PRECONDITION naming the key
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nodus/services/clock.h"
#include "nodus/status.h"

namespace nodus::testing {

struct KvOp {
  enum class Kind { kPut, kGet, kAdd };  // add returns the new value
  Kind kind = Kind::kGet;
  std::string key;
  int64_t arg = 0;

  static KvOp put(std::string k, int64_t v) { return {Kind::kPut, std::move(k), v}; }
  static KvOp get(std::string k) { return {Kind::kGet, std::move(k), 0}; }
  static KvOp add(std::string k, int64_t delta) { return {Kind::kAdd, std::move(k), delta}; }
};

struct KvOperation {
  uint64_t client = 0;
  KvOp op;
  TimePoint call{};
  TimePoint ret = TimePoint::max();
  bool completed = false;
  int64_t result = 0;  // get: the value read (absent keys read 0); add: the new value
  std::string to_string() const;
};

class KvHistory {
 public:
  // Returns the operation's index for complete()/fail().
  size_t invoke(uint64_t client, KvOp op, TimePoint at);
  void complete(size_t index, int64_t result, TimePoint at);
  // The operation definitely did not take effect (the server said so): it is removed.
  void fail(size_t index);
  const std::vector<KvOperation>& operations() const { return ops_; }
  size_t size() const { return ops_.size(); }

 private:
  std::vector<KvOperation> ops_;
  std::vector<bool> failed_;
  friend Status check_linearizable(const KvHistory&, size_t);
};

// OK when the history is linearizable. Otherwise FAILED_PRECONDITION with the key and the
// operations that could not be placed; DEADLINE_EXCEEDED when the search explored more than
// `max_states` states for one key (inconclusive).
Status check_linearizable(const KvHistory& history, size_t max_states = 5'000'000);

}  // namespace nodus::testing
