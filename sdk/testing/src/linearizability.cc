#include "nodus/testing/linearizability.h"

#include <algorithm>
#include <map>
#include <unordered_set>

namespace nodus::testing {
namespace {

// The register state of one key: its value (absent reads as 0).
using State = int64_t;

// Applies `op` to `s`. False when the recorded result contradicts the model.
bool step(const KvOperation& op, State s, State* next) {
  switch (op.op.kind) {
    case KvOp::Kind::kPut:
      *next = op.op.arg;
      return true;
    case KvOp::Kind::kGet:
      *next = s;
      return !op.completed || op.result == s;
    case KvOp::Kind::kAdd:
      *next = s + op.op.arg;
      return !op.completed || op.result == *next;
  }
  return false;
}

struct Entry {
  bool is_call = false;
  size_t op = 0;  // index into the per-key vector
  TimePoint at{};
  Entry* match = nullptr;  // call <-> return
  Entry* prev = nullptr;
  Entry* next = nullptr;
};

struct CacheKey {
  std::vector<uint64_t> bits;
  State state;
  bool operator==(const CacheKey& o) const { return state == o.state && bits == o.bits; }
};
struct CacheHash {
  size_t operator()(const CacheKey& k) const {
    uint64_t h = static_cast<uint64_t>(k.state) * 0x9e3779b97f4a7c15ULL;
    for (uint64_t w : k.bits)
      h = (h ^ w) * 0x100000001b3ULL;
    return static_cast<size_t>(h);
  }
};

void lift(Entry* call) {
  call->prev->next = call->next;
  call->next->prev = call->prev;
  Entry* ret = call->match;
  ret->prev->next = ret->next;
  if (ret->next) ret->next->prev = ret->prev;
}

void unlift(Entry* call) {
  Entry* ret = call->match;
  ret->prev->next = ret;
  if (ret->next) ret->next->prev = ret;
  call->prev->next = call;
  call->next->prev = call;
}

Status check_key(const std::string& key, const std::vector<const KvOperation*>& ops,
                 size_t max_states) {
  const size_t n = ops.size();
  std::vector<Entry> entries(2 * n + 1);
  Entry* head = &entries[2 * n];
  std::vector<Entry*> order;
  for (size_t i = 0; i < n; ++i) {
    Entry* c = &entries[2 * i];
    Entry* r = &entries[2 * i + 1];
    *c = {true, i, ops[i]->call, r, nullptr, nullptr};
    *r = {false, i, ops[i]->completed ? ops[i]->ret : TimePoint::max(), c, nullptr, nullptr};
    order.push_back(c);
    order.push_back(r);
  }
  // Calls before returns at the same instant: touching operations count as concurrent.
  std::stable_sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    if (a->at != b->at) return a->at < b->at;
    return a->is_call && !b->is_call;
  });
  Entry* prev = head;
  for (Entry* e : order) {
    prev->next = e;
    e->prev = prev;
    prev = e;
  }

  // Symmetry reduction for open operations: two open operations with the same effect are
  // interchangeable (neither has a return bounding it), so the earlier-called one is always
  // linearized first. This turns 2^k subsets of k identical open adds into k + 1 counts.
  constexpr size_t kNone = static_cast<size_t>(-1);
  std::vector<size_t> prev_equal(n, kNone);
  {
    std::map<std::pair<int, int64_t>, size_t> last_open;
    std::vector<size_t> by_call(n);
    for (size_t i = 0; i < n; ++i)
      by_call[i] = i;
    std::stable_sort(by_call.begin(), by_call.end(),
                     [&](size_t a, size_t b) { return ops[a]->call < ops[b]->call; });
    for (size_t i : by_call) {
      if (ops[i]->completed) continue;
      const auto k = std::make_pair(static_cast<int>(ops[i]->op.kind), ops[i]->op.arg);
      auto it = last_open.find(k);
      if (it != last_open.end()) prev_equal[i] = it->second;
      last_open[k] = i;
    }
  }
  auto is_set = [](const std::vector<uint64_t>& bits, size_t i) {
    return (bits[i / 64] >> (i % 64)) & 1;
  };

  std::vector<uint64_t> linearized((n + 63) / 64, 0);
  std::unordered_set<CacheKey, CacheHash> cache;
  std::vector<std::pair<Entry*, State>> stack;
  State state = 0;
  size_t furthest = 0;
  size_t blocked_at = 0;
  const KvOperation* blocking = nullptr;  // the return that stopped the deepest attempt
  Entry* e = head->next;
  while (head->next != nullptr) {
    if (cache.size() > max_states) {
      return deadline_exceeded("linearizability of key '" + key + "': more than " +
                               std::to_string(max_states) + " states, inconclusive");
    }
    if (e->is_call) {
      State next = 0;
      const size_t twin = prev_equal[e->op];
      if ((twin == kNone || is_set(linearized, twin)) && step(*ops[e->op], state, &next)) {
        auto bits = linearized;
        bits[e->op / 64] |= uint64_t{1} << (e->op % 64);
        if (cache.insert({bits, next}).second) {
          stack.emplace_back(e, state);
          state = next;
          linearized = std::move(bits);
          lift(e);
          furthest = std::max(furthest, stack.size());
          e = head->next;
          continue;
        }
      }
      e = e->next;
    } else {
      // A return reached: its operation had to be linearized before this point.
      if (!blocking || stack.size() >= blocked_at) {
        blocking = ops[e->op];
        blocked_at = stack.size();
      }
      if (stack.empty()) {
        return failed_precondition("history of key '" + key +
                                   "' is not linearizable: " + blocking->to_string() +
                                   " cannot be placed (" + std::to_string(furthest) + " of " +
                                   std::to_string(n) + " operations linearized at best)");
      }
      auto [top, s] = stack.back();
      stack.pop_back();
      state = s;
      linearized[top->op / 64] &= ~(uint64_t{1} << (top->op % 64));
      unlift(top);
      e = top->next;
    }
  }
  return {};
}

}  // namespace

std::string KvOperation::to_string() const {
  std::string s = "client " + std::to_string(client) + " ";
  switch (op.kind) {
    case KvOp::Kind::kPut:
      s += "put(" + op.key + ", " + std::to_string(op.arg) + ")";
      break;
    case KvOp::Kind::kGet:
      s += "get(" + op.key + ")";
      break;
    case KvOp::Kind::kAdd:
      s += "add(" + op.key + ", " + std::to_string(op.arg) + ")";
      break;
  }
  s += completed ? " -> " + std::to_string(result) : " -> ?";
  const auto ms = [](TimePoint t) {
    return std::to_string(
        std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
  };
  s += " [" + ms(call) + "us, " + (completed ? ms(ret) + "us]" : "open]");
  return s;
}

size_t KvHistory::invoke(uint64_t client, KvOp op, TimePoint at) {
  KvOperation o;
  o.client = client;
  o.op = std::move(op);
  o.call = at;
  ops_.push_back(std::move(o));
  failed_.push_back(false);
  return ops_.size() - 1;
}

void KvHistory::complete(size_t index, int64_t result, TimePoint at) {
  ops_[index].completed = true;
  ops_[index].result = result;
  ops_[index].ret = at;
}

void KvHistory::fail(size_t index) {
  failed_[index] = true;
}

Status check_linearizable(const KvHistory& history, size_t max_states) {
  std::map<std::string, std::vector<const KvOperation*>> by_key;
  for (size_t i = 0; i < history.ops_.size(); ++i) {
    if (history.failed_[i]) continue;
    const KvOperation& op = history.ops_[i];
    // An open read constrains nothing.
    if (!op.completed && op.op.kind == KvOp::Kind::kGet) continue;
    by_key[op.op.key].push_back(&op);
  }
  for (const auto& [key, ops] : by_key) {
    NODUS_RETURN_IF_ERROR(check_key(key, ops, max_states));
  }
  return {};
}

}  // namespace nodus::testing
