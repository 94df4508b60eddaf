#include "kernel/node/plugin_membership.h"

#include <algorithm>
#include <map>

namespace nodus::kernel {

Status set_static_members(MemberTable& table, const std::vector<Member>& wanted) {
  std::map<PeerId, const Member*> by_id;
  for (const Member& m : wanted)
    by_id[m.id] = &m;
  for (const Member& known : table.members()) {
    if (by_id.count(known.id) == 0 && known.state != MemberState::kLeft) {
      NODUS_RETURN_IF_ERROR(table.set_state(known.id, MemberState::kLeft));
    }
  }
  for (const auto& [id, want] : by_id) {
    auto known = table.member(id);
    const bool same = known.ok() && known->state == MemberState::kAlive &&
                      known->address == want->address && known->ports == want->ports &&
                      known->metadata == want->metadata;
    if (!same) NODUS_RETURN_IF_ERROR(table.join(*want));
  }
  return {};
}

Result<SubscriptionId> PluginMembership::subscribe(MemberChangeHandler handler) {
  Membership* owner = target_();
  NODUS_ASSIGN_OR_RETURN(SubscriptionId id, owner->subscribe(std::move(handler)));
  held_.push_back({owner, id});
  return id;
}

Status PluginMembership::unsubscribe(SubscriptionId id) {
  auto it = std::find_if(held_.begin(), held_.end(), [id](const Held& h) { return h.id == id; });
  if (it == held_.end()) {
    return not_found("membership unsubscribe: this plugin holds no subscription " +
                     std::to_string(id));
  }
  Membership* owner = it->owner;
  held_.erase(it);
  return owner->unsubscribe(id);
}

void PluginMembership::end_subscriptions() {
  for (const Held& h : held_)
    (void)h.owner->unsubscribe(h.id);  // NOT_FOUND if the plugin ended it itself: fine
  held_.clear();
}

}  // namespace nodus::kernel
