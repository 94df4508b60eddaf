#include "nodus/capabilities/membership.h"

#include <mutex>
#include <utility>

#include "nodus/address.h"

namespace nodus {
namespace {

std::string who(const Member& member) {
  return "member " + std::to_string(member.id);
}

}  // namespace

std::string_view member_state_name(MemberState state) {
  switch (state) {
    case MemberState::kAlive:
      return "alive";
    case MemberState::kSuspect:
      return "suspect";
    case MemberState::kDead:
      return "dead";
    case MemberState::kLeft:
      return "left";
  }
  return "";
}

uint16_t Member::port(std::string_view name) const {
  auto it = ports.find(std::string(name));
  return it == ports.end() ? 0 : it->second;
}

std::string Member::endpoint(std::string_view name) const {
  const uint16_t p = port(name);
  return p == 0 ? std::string() : format_host_port(address, p);
}

Status check_member(const Member& member) {
  if (member.address.empty()) return invalid_argument(who(member) + ": empty address");
  if (member_state_name(member.state).empty()) {
    return invalid_argument(who(member) + ": state " +
                            std::to_string(static_cast<int>(member.state)) + " is not a state");
  }
  if (member.ports.size() > kMemberPortsMax) {
    return invalid_argument(who(member) + ": " + std::to_string(member.ports.size()) +
                            " ports, at most " + std::to_string(kMemberPortsMax));
  }
  if (member.metadata.size() > kMemberMetadataEntriesMax) {
    return invalid_argument(who(member) + ": " + std::to_string(member.metadata.size()) +
                            " metadata entries, at most " +
                            std::to_string(kMemberMetadataEntriesMax));
  }
  for (const auto& [key, value] : member.metadata) {
    if (key.empty() || key.size() > kMemberMetadataKeyBytesMax) {
      return invalid_argument(who(member) + ": metadata key '" + key.substr(0, 80) +
                              "' must be 1-" + std::to_string(kMemberMetadataKeyBytesMax) +
                              " bytes");
    }
    if (value.size() > kMemberMetadataValueBytesMax) {
      return invalid_argument(who(member) + ": metadata '" + key + "' has " +
                              std::to_string(value.size()) + " bytes, at most " +
                              std::to_string(kMemberMetadataValueBytesMax));
    }
  }
  return {};
}

bool supersedes(const Member& update, const Member& current) {
  if (update.incarnation != current.incarnation) return update.incarnation > current.incarnation;
  return static_cast<int>(update.state) > static_cast<int>(current.state);
}

struct MemberTable::Shared {
  std::mutex mu;
  std::map<PeerId, Member> members;                                         // guarded by mu
  std::map<SubscriptionId, std::shared_ptr<MemberChangeHandler>> handlers;  // guarded by mu
  SubscriptionId next_id = 1;                                               // guarded by mu
  bool closed = false;                                                      // guarded by mu

  std::shared_ptr<MemberChangeHandler> handler(SubscriptionId id) {
    std::lock_guard lock(mu);
    if (closed) return nullptr;
    auto it = handlers.find(id);
    return it == handlers.end() ? nullptr : it->second;
  }
};

MemberTable::MemberTable(PeerId self, Executor& executor)
    : self_(self), executor_(executor), shared_(std::make_shared<Shared>()) {}

MemberTable::~MemberTable() {
  std::lock_guard lock(shared_->mu);
  shared_->closed = true;  // queued deliveries find no handler
}

Result<bool> MemberTable::apply(Member update) {
  NODUS_RETURN_IF_ERROR(check_member(update));
  MemberChange change;
  std::vector<SubscriptionId> ids;
  {
    std::lock_guard lock(shared_->mu);
    auto it = shared_->members.find(update.id);
    if (it == shared_->members.end()) {
      if (shared_->members.size() >= kMembersMax) {
        return resource_exhausted(who(update) + ": the membership already holds " +
                                  std::to_string(kMembersMax) + " members (kMembersMax)");
      }
      it = shared_->members.emplace(update.id, update).first;
    } else {
      if (!supersedes(update, it->second)) return false;
      change.previous = std::make_shared<const Member>(std::move(it->second));
      it->second = update;
    }
    change.member = std::move(update);
    for (const auto& [id, handler] : shared_->handlers)
      ids.push_back(id);
  }
  if (ids.empty()) return true;
  // One task per change keeps changes in the order applied on a FIFO executor.
  executor_.post([shared = shared_, change = std::move(change), ids = std::move(ids)] {
    for (SubscriptionId id : ids) {
      if (auto handler = shared->handler(id)) (*handler)(change);
    }
  });
  return true;
}

Status MemberTable::join(Member member) {
  member.state = MemberState::kAlive;
  if (auto known = this->member(member.id);
      known.ok() && known->incarnation >= member.incarnation) {
    member.incarnation = known->incarnation + 1;
  }
  return apply(std::move(member)).status();
}

Status MemberTable::set_state(PeerId id, MemberState state) {
  NODUS_ASSIGN_OR_RETURN(Member next, member(id));
  const std::string from(member_state_name(next.state));
  if (state == MemberState::kAlive) ++next.incarnation;
  next.state = state;
  NODUS_ASSIGN_OR_RETURN(bool applied, apply(std::move(next)));
  if (!applied) {
    return failed_precondition("member " + std::to_string(id) + " is " + from + "; " +
                               std::string(member_state_name(state)) +
                               " would not supersede it (only a join brings it back)");
  }
  return {};
}

std::vector<Member> MemberTable::members() const {
  std::lock_guard lock(shared_->mu);
  std::vector<Member> out;
  out.reserve(shared_->members.size());
  for (const auto& [id, member] : shared_->members)
    out.push_back(member);
  return out;
}

Result<Member> MemberTable::member(PeerId id) const {
  std::lock_guard lock(shared_->mu);
  auto it = shared_->members.find(id);
  if (it == shared_->members.end()) {
    return not_found("member " + std::to_string(id) + " is not in the membership");
  }
  return it->second;
}

Result<SubscriptionId> MemberTable::subscribe(MemberChangeHandler handler) {
  if (!handler) return invalid_argument("membership subscribe: empty handler");
  std::lock_guard lock(shared_->mu);
  if (shared_->handlers.size() >= kMembershipSubscriptionsMax) {
    return resource_exhausted("membership subscribe: already " +
                              std::to_string(kMembershipSubscriptionsMax) +
                              " subscriptions (kMembershipSubscriptionsMax)");
  }
  const SubscriptionId id = shared_->next_id++;
  shared_->handlers.emplace(id, std::make_shared<MemberChangeHandler>(std::move(handler)));
  return id;
}

Status MemberTable::unsubscribe(SubscriptionId id) {
  std::lock_guard lock(shared_->mu);
  if (shared_->handlers.erase(id) == 0) {
    return not_found("membership unsubscribe: no subscription " + std::to_string(id));
  }
  return {};
}

}  // namespace nodus
