// io.nodus.simtest.membership: the smallest provider of nodus.membership/v1 (see README.md).
// Every instance of the cluster is a member, alive, tagged {"by": "simtest"} so that a test can
// tell this view from the kernel's static one. It also subscribes to the membership it is given
// (PluginContext::membership()) and counts the changes it sees, without ever unsubscribing:
// the kernel must end that subscription when the plugin stops.
#include <memory>
#include <string>

#include "nodus/capabilities/membership.h"
#include "nodus/plugin.h"

namespace nodus::simtest {
namespace {

class SimtestMembership final : public Plugin {
 public:
  explicit SimtestMembership(PluginContext& ctx)
      : ctx_(ctx),
        changes_(ctx.metrics().gauge("nodus_simtest_membership_changes",
                                     "Membership changes this plugin's subscription saw")),
        routed_(ctx.metrics().gauge(
            "nodus_simtest_membership_routed",
            "1 when PluginContext::membership() showed this plugin's own view")) {}

  Status configure(const ConfigNode& config) override {
    NODUS_ASSIGN_OR_RETURN(provide_, config.get_bool("provide", true));
    return {};
  }

  Status start() override {
    const InstanceInfo& self = ctx_.instance();
    table_ = std::make_unique<MemberTable>(self.index, ctx_.executor());
    for (uint32_t i = 0; i < self.instances; ++i) {
      Member m;
      m.id = i;
      m.address = self.address;
      m.metadata = {{"by", "simtest"}};
      NODUS_RETURN_IF_ERROR(table_->join(std::move(m)));
    }
    Membership& seen = ctx_.membership();
    auto first = seen.member(self.index);
    routed_.set(first.ok() && first->metadata.count("by") ? 1 : 0);
    // Deliberately never unsubscribed: the kernel ends it with stop().
    return seen.subscribe([this](const MemberChange&) { changes_.inc(); }).status();
  }

  Status stop() override { return {}; }

  CapabilityRef provide(std::string_view capability) override {
    if (!provide_ || !table_ || capability != Membership::kCapability) return {};
    return offer<Membership>(table_.get());
  }

 private:
  PluginContext& ctx_;
  Gauge& changes_;
  Gauge& routed_;
  bool provide_ = true;
  std::unique_ptr<MemberTable> table_;
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.name = "io.nodus.simtest.membership";
  d.version = "1.0.0";
  d.category = "simtest";
  d.status = nodus::PluginStatus::kExperimental;
  d.description = "Static membership provider for the nodus.membership/v1 conformance suite";
  d.provides = {std::string(Membership::kCapability)};
  d.config = {
      {"provide", ConfigType::kBoolean, false, "true",
       "Offer nodus.membership/v1; false leaves the kernel's static membership in effect"},
  };
  d.factory = [](PluginContext& ctx) { return std::make_unique<SimtestMembership>(ctx); };
  return d;
}

}  // namespace
}  // namespace nodus::simtest

NODUS_PLUGIN(nodus::simtest::describe)
