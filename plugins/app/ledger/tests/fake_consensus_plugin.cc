// A test plugin providing nodus.consensus/v1 with FakeConsensus, so TestNode can load the real
// ledger .so against it.
#include <memory>

#include "fake_consensus.h"
#include "nodus/nodus.h"

namespace {

class FakeConsensusPlugin final : public nodus::Plugin {
 public:
  explicit FakeConsensusPlugin(nodus::PluginContext& ctx)
      : fake_(ctx.executor(), ctx.instance().index) {}
  nodus::Status configure(const nodus::ConfigNode&) override { return {}; }
  nodus::Status start() override { return {}; }
  nodus::Status stop() override { return {}; }
  nodus::CapabilityRef provide(std::string_view capability) override {
    if (capability != nodus::Consensus::kCapability) return {};
    return nodus::offer<nodus::Consensus>(&fake_);
  }

 private:
  nodus::ledger::testing::FakeConsensus fake_;
};

nodus::PluginDescriptor describe() {
  nodus::PluginDescriptor d;
  d.name = "io.nodus.test.fakeconsensus";
  d.version = "1.0.0";
  d.category = "consensus";
  d.description = "Controllable in-process consensus for ledger tests";
  d.provides = {std::string(nodus::Consensus::kCapability)};
  d.factory = [](nodus::PluginContext& ctx) { return std::make_unique<FakeConsensusPlugin>(ctx); };
  return d;
}

}  // namespace

NODUS_PLUGIN(describe)
