// io.nodus.simtest.gcounter: a grow-only counter CRDT kept in sync by gossip (see README.md).
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "gcounter_api.h"
#include "nodus/plugin.h"

namespace nodus::simtest {
namespace {

constexpr const char* kGossip = "io.nodus.simtest.gcounter.state";

// "3,0,7": one slot per instance.
std::string encode(const std::vector<int64_t>& slots) {
  std::string out;
  for (size_t i = 0; i < slots.size(); ++i)
    out += (i ? "," : "") + std::to_string(slots[i]);
  return out;
}

// A cluster grows (nodus scale, SimCluster::add_node), so a peer may know more slots than
// this node; at most this many.
constexpr size_t kMaxSlots = 4096;

bool decode(const std::string& s, std::vector<int64_t>* out) {
  out->clear();
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) {
    char* end = nullptr;
    const long long v = std::strtoll(part.c_str(), &end, 10);
    if (part.empty() || *end != '\0' || v < 0) return false;
    if (out->size() == kMaxSlots) return false;
    out->push_back(v);
  }
  return !out->empty();
}

class GCounter final : public Plugin, public GCounterService {
 public:
  explicit GCounter(PluginContext& ctx)
      : ctx_(ctx),
        slots_(std::max<size_t>(ctx.instance().instances, ctx.transport().self() + 1), 0),
        rejected_(ctx.metrics().counter("nodus_gcounter_rejected_total",
                                        "Gossip messages that did not decode")) {}

  Status configure(const ConfigNode& c) override {
    NODUS_ASSIGN_OR_RETURN(int64_t ms, c.get_int("gossip_interval_ms", 50));
    if (ms <= 0) return c.at("gossip_interval_ms").error("must be positive");
    interval_ = std::chrono::milliseconds(ms);
    NODUS_ASSIGN_OR_RETURN(unsafe_sum_, c.get_bool("unsafe_merge_by_sum", false));
    return {};
  }

  Status start() override {
    NODUS_ASSIGN_OR_RETURN(auto own, ctx_.storage().get_state("own"));
    if (own) slots_[self()] = std::strtoll(own->c_str(), nullptr, 10);
    NODUS_RETURN_IF_ERROR(ctx_.transport().on_message(
        kGossip, [this](PeerId, std::string payload) { merge(payload); }));
    tick();
    return {};
  }

  Status stop() override {
    ctx_.executor().cancel(timer_);
    return {};
  }

  CapabilityRef provide(std::string_view capability) override {
    if (capability == std::string_view(kCapability)) return offer<GCounterService>(this);
    return {};
  }

  Status increment(int64_t delta) override {
    if (delta < 0) return invalid_argument("a grow-only counter cannot decrease");
    const int64_t next = slots_[self()] + delta;
    NODUS_RETURN_IF_ERROR(ctx_.storage().put_state("own", std::to_string(next)));
    slots_[self()] = next;
    return {};
  }

  int64_t total() const override {
    int64_t t = 0;
    for (int64_t v : slots_)
      t += v;
    return t;
  }

  // Slots this node has not heard of are zero: trailing zeros do not change the state.
  std::string digest() const override {
    std::vector<int64_t> trimmed = slots_;
    while (!trimmed.empty() && trimmed.back() == 0)
      trimmed.pop_back();
    return encode(trimmed);
  }

 private:
  PeerId self() const { return ctx_.transport().self(); }

  void tick() {
    const std::string state = encode(slots_);
    for (const auto& p : ctx_.transport().peers())
      (void)ctx_.transport().send(p.id, kGossip, state);  // best effort; the next tick retries
    timer_ = ctx_.executor().schedule_after(interval_, [this] { tick(); });
  }

  void merge(const std::string& payload) {
    std::vector<int64_t> theirs;
    if (!decode(payload, &theirs)) {
      rejected_.inc();
      return;
    }
    if (theirs.size() > slots_.size()) slots_.resize(theirs.size(), 0);  // a node joined
    for (size_t i = 0; i < theirs.size(); ++i) {
      if (i == self()) continue;  // only this node writes its own slot
      // THE PLANTED BUG (unsafe_merge_by_sum): adding is not idempotent, so a duplicated or
      // repeated gossip message counts twice and replicas never agree.
      slots_[i] = unsafe_sum_ ? slots_[i] + theirs[i] : std::max(slots_[i], theirs[i]);
    }
  }

  PluginContext& ctx_;
  std::vector<int64_t> slots_;
  nodus::Counter& rejected_;
  Duration interval_ = std::chrono::milliseconds(50);
  bool unsafe_sum_ = false;
  TimerId timer_ = kNoTimer;
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.name = "io.nodus.simtest.gcounter";
  d.version = "1.0.0";
  d.category = "simtest";
  d.status = nodus::PluginStatus::kExperimental;
  d.description = "Grow-only counter CRDT with gossip (simulation example)";
  d.provides = {GCounterService::kCapability};
  d.config = {
      {"gossip_interval_ms", ConfigType::kInteger, false, "50", "How often the state is gossiped"},
      {"unsafe_merge_by_sum", ConfigType::kBoolean, false, "false",
       "Planted bug for the simulation tests: merge by adding instead of taking the maximum"},
  };
  d.factory = [](PluginContext& ctx) { return std::make_unique<GCounter>(ctx); };
  return d;
}

}  // namespace
}  // namespace nodus::simtest

NODUS_PLUGIN(nodus::simtest::describe)
