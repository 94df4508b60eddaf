// io.nodus.testing.consensus-kv: a key-value StateMachine registered with nodus.consensus/v1
// in start(), so it is there again after every restart the simulator does. Test-only: the
// subject through which the consensus conformance suite and Raft's simulation tests drive a
// consensus plugin. It includes SDK headers only, like any plugin.
//
// Commands are "key=value"; apply() checks that indexes arrive once each and in order, and
// restore() replaces the whole map with a snapshot image ("key=value\n" lines).
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "nodus/harness/consensus_kv.h"
#include "nodus/plugin.h"

namespace nodus::testing {
namespace {

class KvMachine final : public StateMachine {
 public:
  std::string apply(uint64_t index, std::string_view command) override {
    if (index <= applied_) order_errors_++;  // once each, in index order (gaps: no-ops)
    applied_ = index;
    const auto eq = command.find('=');
    if (eq == std::string_view::npos) return "bad";
    values_[std::string(command.substr(0, eq))] = std::stoll(std::string(command.substr(eq + 1)));
    return "ok";
  }
  std::string snapshot() override { return image(); }
  std::string image() const {
    std::string out;
    for (const auto& [k, v] : values_)
      out += k + "=" + std::to_string(v) + "\n";
    return out;
  }
  Status restore(uint64_t index, std::string_view image) override {
    values_.clear();
    std::istringstream in{std::string(image)};
    std::string line;
    while (std::getline(in, line)) {
      const auto eq = line.find('=');
      if (eq == std::string::npos) return data_loss("bad snapshot line '" + line + "'");
      values_[line.substr(0, eq)] = std::stoll(line.substr(eq + 1));
    }
    applied_ = index;
    return {};
  }
  int64_t value(const std::string& key) const {
    auto it = values_.find(key);
    return it == values_.end() ? 0 : it->second;
  }
  uint64_t applied() const { return applied_; }
  uint64_t order_errors() const { return order_errors_; }

 private:
  std::map<std::string, int64_t> values_;
  uint64_t applied_ = 0;
  uint64_t order_errors_ = 0;
};

class ConsensusKvPlugin final : public Plugin, public ConsensusKv {
 public:
  explicit ConsensusKvPlugin(PluginContext& ctx) : ctx_(ctx) {}
  Status configure(const ConfigNode& c) override {
    // A planted bug for the checker's own test: serve gets from local state, no barrier.
    NODUS_ASSIGN_OR_RETURN(unsafe_local_reads_, c.get_bool("unsafe_local_reads", false));
    return {};
  }
  Status start() override {
    NODUS_ASSIGN_OR_RETURN(consensus_, ctx_.need<Consensus>());
    return consensus_->set_state_machine(&machine_);
  }
  Status stop() override { return {}; }
  CapabilityRef provide(std::string_view capability) override {
    if (capability == kCapability) return offer<ConsensusKv>(this);
    return {};
  }

  void put(const std::string& key, int64_t value, std::function<void(Status)> done) override {
    consensus_->propose(key + "=" + std::to_string(value),
                        [done](Result<ProposeResult> r) { done(r.status()); });
  }
  void get(const std::string& key, std::function<void(Result<int64_t>)> done) override {
    if (unsafe_local_reads_) return done(machine_.value(key));
    consensus_->read_index([this, key, done](Status s) {
      if (!s.ok()) return done(s);
      done(machine_.value(key));
    });
  }
  Consensus& consensus() override { return *consensus_; }
  uint64_t applied_index() const override {
    return machine_.order_errors() > 0 ? 0 : machine_.applied();
  }
  int64_t local_value(const std::string& key) const override { return machine_.value(key); }
  std::string state_image() const override { return machine_.image(); }
  uint64_t order_errors() const override { return machine_.order_errors(); }

 private:
  PluginContext& ctx_;
  Consensus* consensus_ = nullptr;
  KvMachine machine_;
  bool unsafe_local_reads_ = false;
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.name = "io.nodus.testing.consensus-kv";
  d.version = "0.1.0";
  d.category = "test";
  d.description = "Test-only key-value store on nodus.consensus/v1";
  d.provides = {std::string(ConsensusKv::kCapability)};
  d.needs = {std::string(Consensus::kCapability)};
  d.config = {{"unsafe_local_reads", ConfigType::kBoolean, false, "false",
               "Planted bug: reads skip the read_index barrier"}};
  d.factory = [](PluginContext& ctx) { return std::make_unique<ConsensusKvPlugin>(ctx); };
  return d;
}

}  // namespace
}  // namespace nodus::testing

NODUS_PLUGIN(nodus::testing::describe)
