// node/plugin_membership.h: the membership services of a plugin host.
//
// The kernel's static membership is a nodus::MemberTable holding the profile's instances, all
// alive; `nodus scale` reconciles it with a new instance count (set_static_members). Each
// plugin sees the effective membership through a PluginMembership: the object a plugin
// providing nodus.membership/v1 returns, or else the static one. PluginMembership remembers
// the plugin's subscriptions and ends them when the plugin stops.
//
//   MemberTable table(self, executor);
//   NODUS_RETURN_IF_ERROR(set_static_members(table, members_of_profile));
//   PluginMembership view([&] { return effective(); });
//   auto id = view.subscribe(handler);   // ends with view.end_subscriptions()
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "nodus/capabilities/membership.h"

namespace nodus::kernel {

// Makes `table` hold exactly the members of `wanted` as alive: a new id joins, a known one
// whose address or ports changed or that was not alive joins again (a higher incarnation),
// and a known member missing from `wanted` leaves. Stops at the first refused update.
Status set_static_members(MemberTable& table, const std::vector<Member>& wanted);

class PluginMembership final : public Membership {
 public:
  // `target` returns the membership to forward to (never null) at each call: the provider
  // may start after the plugin's context was made.
  explicit PluginMembership(std::function<Membership*()> target) : target_(std::move(target)) {}

  PeerId self() const override { return target_()->self(); }
  std::vector<Member> members() const override { return target_()->members(); }
  Result<Member> member(PeerId id) const override { return target_()->member(id); }
  Result<SubscriptionId> subscribe(MemberChangeHandler handler) override;
  Status unsubscribe(SubscriptionId id) override;
  // Unsubscribes everything this plugin subscribed (its stop()).
  void end_subscriptions();

 private:
  struct Held {
    Membership* owner;
    SubscriptionId id;
  };
  std::function<Membership*()> target_;
  std::vector<Held> held_;  // on the executor only, as the plugin's calls are
};

}  // namespace nodus::kernel
