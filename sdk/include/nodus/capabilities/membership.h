// nodus/capabilities/membership.h: who is in the cluster ("nodus.membership/v1").
//
// Every instance has a view of the cluster's members: each with an id (the instance index), the
// address of its host, its named ports, a state (alive, suspect, dead, left), an incarnation
// and a little metadata. `PluginContext::membership()` returns the view of the plugin that
// provides nodus.membership/v1 (a SWIM plugin), or else the kernel's static membership built
// from the profile, which `nodus scale` grows and shrinks. The kernel's transport follows the
// same view: a member that joins can be messaged, one that is dead or left is not dialled.
//
//   nodus::Membership& m = ctx.membership();
//   for (const nodus::Member& member : m.members()) {
//     if (member.state == nodus::MemberState::kAlive) dial(member.endpoint("api"));
//   }
//   NODUS_ASSIGN_OR_RETURN(subscription_, m.subscribe([this](const nodus::MemberChange& c) {
//     if (c.joined()) add_replica(c.member.id);  // runs on the executor
//   }));
//
// Ordering. Updates about one member are ordered by (incarnation, state rank), state rank
// being alive < suspect < dead < left: an update applies only when it is strictly greater
// than what is known (`supersedes`). Only the member itself raises its incarnation (to refute
// a suspicion, to change its metadata, or to come back after it left), so a stale rumour can
// never undo a newer fact. A provider keeps members that died or left (as tombstones) so that
// a late rumour about them is recognised as old.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nodus/services/executor.h"
#include "nodus/services/transport.h"
#include "nodus/status.h"

namespace nodus {

enum class MemberState : uint8_t { kAlive = 0, kSuspect = 1, kDead = 2, kLeft = 3 };

// "alive", "suspect", "dead", "left"; "" for a value outside the enum.
std::string_view member_state_name(MemberState state);

// Bounds that keep a member small enough to gossip in one datagram and a table bounded.
inline constexpr size_t kMemberMetadataEntriesMax = 16;
inline constexpr size_t kMemberMetadataKeyBytesMax = 64;
inline constexpr size_t kMemberMetadataValueBytesMax = 256;
inline constexpr size_t kMemberPortsMax = 16;
inline constexpr size_t kMembersMax = 1024;  // members a view holds, tombstones included
inline constexpr size_t kMembershipSubscriptionsMax = 256;

struct Member {
  PeerId id = 0;                          // the instance index
  std::string address;                    // IP literal of the member's host: "10.231.0.2"
  std::map<std::string, uint16_t> ports;  // named ports: {"peer", 9004}, {"api", 9003}
  MemberState state = MemberState::kAlive;
  uint64_t incarnation = 0;  // raised only by the member itself
  std::map<std::string, std::string> metadata;

  // The port named `name`, or 0.
  uint16_t port(std::string_view name) const;
  // "address:port" of the port named `name` (brackets around IPv6), or "" without that port.
  std::string endpoint(std::string_view name) const;
  // Alive or suspect: worth talking to.
  bool reachable() const { return state == MemberState::kAlive || state == MemberState::kSuspect; }
};

// INVALID_ARGUMENT naming the member and the offending key when `member` breaks a bound above
// or has an empty address.
Status check_member(const Member& member);

// True when `update` (about the same member) is newer than `current`: a higher incarnation,
// or the same incarnation and a higher state rank.
bool supersedes(const Member& update, const Member& current);

// One applied change. `previous` is null when the member was not known before (a join).
struct MemberChange {
  Member member;                           // the member as it is now
  std::shared_ptr<const Member> previous;  // as it was, or null
  bool joined() const { return previous == nullptr; }
};

using MemberChangeHandler = std::function<void(const MemberChange& change)>;
using SubscriptionId = uint64_t;

class Membership {
 public:
  static constexpr std::string_view kCapability = "nodus.membership/v1";
  // Bumped with every change to this class's declaration (nodus/capability.h).
  static constexpr uint32_t kRevision = 1;
  virtual ~Membership() = default;

  // This instance's id.
  virtual PeerId self() const = 0;
  // Every known member, dead and left ones included, ordered by id. Safe from any thread.
  virtual std::vector<Member> members() const = 0;
  // One member; NOT_FOUND naming the id when it is unknown. Safe from any thread.
  virtual Result<Member> member(PeerId id) const = 0;
  // Calls `handler` on the executor for each change applied from now on, in the order applied.
  // A handler may see a change that members() already showed. RESOURCE_EXHAUSTED past
  // kMembershipSubscriptionsMax. Through PluginContext::membership() the subscription also
  // ends with the subscribing plugin's stop().
  virtual Result<SubscriptionId> subscribe(MemberChangeHandler handler) = 0;
  // No call of the handler starts after this returns (when called on the executor). NOT_FOUND
  // for an unknown id.
  virtual Status unsubscribe(SubscriptionId id) = 0;
};

// A bounded, thread-safe member table that delivers changes on an executor: the building block
// of the kernel's static membership, of FakeMembership (nodus/testing) and of membership
// plugins, so that every one of them orders updates and bounds its tables the same way.
class MemberTable : public Membership {
 public:
  // `executor` must outlive this table and the tasks it posted.
  MemberTable(PeerId self, Executor& executor);
  ~MemberTable() override;

  // Applies `update` when it supersedes what is known (or the member is new), then notifies
  // subscribers. Returns true when applied, false when it was stale (nothing changes).
  // INVALID_ARGUMENT when check_member() refuses it; RESOURCE_EXHAUSTED for a new member
  // beyond kMembersMax.
  Result<bool> apply(Member update);
  // For a provider that learns facts rather than rumours (the static membership, tests):
  // `member` joins as alive; a member known before comes back with its incarnation raised
  // past the known one, so the join supersedes its tombstone.
  Status join(Member member);
  // Moves a known member to `state`. kAlive raises its incarnation (a refutation); the other
  // states keep it. NOT_FOUND for an unknown id; FAILED_PRECONDITION when the move would not
  // supersede what is known (suspect after dead, anything after left but a join).
  Status set_state(PeerId id, MemberState state);

  PeerId self() const override { return self_; }
  std::vector<Member> members() const override;
  Result<Member> member(PeerId id) const override;
  Result<SubscriptionId> subscribe(MemberChangeHandler handler) override;
  Status unsubscribe(SubscriptionId id) override;

 private:
  struct Shared;
  const PeerId self_;
  Executor& executor_;
  std::shared_ptr<Shared> shared_;  // outlives the table while delivery tasks are queued
};

}  // namespace nodus
