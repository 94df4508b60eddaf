// The membership building blocks: state ordering, incarnations, subscriptions and bounds, on
// the MemberTable that the kernel's static membership and FakeMembership share.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nodus/capabilities/membership.h"
#include "nodus/testing/fake_membership.h"
#include "nodus/testing/manual_executor.h"

namespace nodus::testing {
namespace {

Member make(PeerId id, MemberState state, uint64_t incarnation) {
  Member m;
  m.id = id;
  m.address = "10.231.0." + std::to_string(id + 1);
  m.state = state;
  m.incarnation = incarnation;
  return m;
}

// A higher incarnation wins; at one incarnation alive < suspect < dead < left.
TEST(MembershipTest, SupersedesOrdersByIncarnationThenState) {
  using S = MemberState;
  EXPECT_TRUE(supersedes(make(1, S::kSuspect, 3), make(1, S::kAlive, 3)));
  EXPECT_TRUE(supersedes(make(1, S::kDead, 3), make(1, S::kSuspect, 3)));
  EXPECT_TRUE(supersedes(make(1, S::kLeft, 3), make(1, S::kDead, 3)));
  EXPECT_FALSE(supersedes(make(1, S::kAlive, 3), make(1, S::kSuspect, 3)));
  EXPECT_FALSE(supersedes(make(1, S::kAlive, 3), make(1, S::kAlive, 3)));
  EXPECT_TRUE(supersedes(make(1, S::kAlive, 4), make(1, S::kDead, 3)));
  EXPECT_FALSE(supersedes(make(1, S::kLeft, 2), make(1, S::kAlive, 3)));
  EXPECT_EQ(member_state_name(S::kSuspect), "suspect");
  EXPECT_EQ(member_state_name(static_cast<S>(9)), "");
}

// A stale rumour changes nothing; a refutation (alive, next incarnation) clears a suspicion.
TEST(MembershipTest, StaleUpdatesAreIgnored) {
  ManualExecutor exec;
  MemberTable table(0, exec);
  ASSERT_TRUE(table.apply(make(1, MemberState::kSuspect, 5)).value());
  EXPECT_FALSE(table.apply(make(1, MemberState::kAlive, 5)).value());
  EXPECT_FALSE(table.apply(make(1, MemberState::kDead, 4)).value());
  EXPECT_EQ(table.member(1)->state, MemberState::kSuspect);
  ASSERT_TRUE(table.set_state(1, MemberState::kAlive).ok());
  EXPECT_EQ(table.member(1)->incarnation, 6u);
  EXPECT_EQ(table.member(1)->state, MemberState::kAlive);
}

// Leaving is final until the member joins again, which raises its incarnation past the tombstone.
TEST(MembershipTest, LeaveThenRejoin) {
  ManualExecutor exec;
  FakeMembership members(0, exec);
  ASSERT_TRUE(members.add_static(3, "127.0.0.1", {{"peer", 9004}}).ok());
  ASSERT_TRUE(members.set_state(2, MemberState::kLeft).ok());
  const Status back = members.set_state(2, MemberState::kSuspect);
  EXPECT_EQ(back.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(back.message(),
            "member 2 is left; suspect would not supersede it (only a join brings it back)");
  EXPECT_EQ(members.members().size(), 3u) << "a member that left stays as a tombstone";
  Member again = make(2, MemberState::kAlive, 0);
  ASSERT_TRUE(members.join(again).ok());
  EXPECT_EQ(members.member(2)->state, MemberState::kAlive);
  EXPECT_EQ(members.member(2)->incarnation, 1u);
  EXPECT_EQ(members.member(7).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(members.set_state(7, MemberState::kDead).code(), StatusCode::kNotFound);
}

// Handlers run on the executor, in the order the changes were applied, with the previous view.
TEST(MembershipTest, SubscribersSeeChangesInOrderOnTheExecutor) {
  ManualExecutor exec;
  FakeMembership members(0, exec);
  std::vector<std::string> seen;
  auto id = members.subscribe([&](const MemberChange& c) {
    seen.push_back(std::to_string(c.member.id) + ":" +
                   (c.joined() ? "joined" : std::string(member_state_name(c.previous->state))) +
                   "->" + std::string(member_state_name(c.member.state)));
  });
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(members.add_static(2, "127.0.0.1", {{"peer", 9004}}).ok());
  ASSERT_TRUE(members.set_state(1, MemberState::kSuspect).ok());
  ASSERT_TRUE(members.set_state(1, MemberState::kDead).ok());
  EXPECT_TRUE(seen.empty()) << "handlers run on the executor, not inside apply()";
  exec.run_until_idle();
  EXPECT_EQ(seen, (std::vector<std::string>{"0:joined->alive", "1:joined->alive",
                                            "1:alive->suspect", "1:suspect->dead"}));
}

// Once unsubscribed, a handler is not called, even for changes queued before.
TEST(MembershipTest, UnsubscribeStopsQueuedDeliveries) {
  ManualExecutor exec;
  FakeMembership members(0, exec);
  int calls = 0;
  auto id = members.subscribe([&](const MemberChange&) { ++calls; });
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(members.add_static(1, "127.0.0.1", {}).ok());
  ASSERT_TRUE(members.unsubscribe(*id).ok());
  exec.run_until_idle();
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(members.unsubscribe(*id).code(), StatusCode::kNotFound);
}

// Metadata, ports, members and subscriptions are bounded, and the errors name the member.
TEST(MembershipTest, Bounds) {
  ManualExecutor exec;
  MemberTable table(0, exec);
  Member m = make(4, MemberState::kAlive, 0);
  for (size_t i = 0; i <= kMemberMetadataEntriesMax; ++i)
    m.metadata["k" + std::to_string(i)] = "v";
  EXPECT_EQ(table.apply(m).status().message(), "member 4: 17 metadata entries, at most 16");
  m.metadata = {{std::string(kMemberMetadataKeyBytesMax + 1, 'k'), "v"}};
  EXPECT_EQ(table.apply(m).status().code(), StatusCode::kInvalidArgument);
  m.metadata = {{"zone", std::string(kMemberMetadataValueBytesMax + 1, 'v')}};
  EXPECT_EQ(table.apply(m).status().message(),
            "member 4: metadata 'zone' has 257 bytes, at most 256");
  m.metadata = {{"zone", std::string(kMemberMetadataValueBytesMax, 'v')}};
  EXPECT_TRUE(table.apply(m).ok()) << "exactly at the bound is allowed";
  m.address.clear();
  EXPECT_EQ(table.apply(m).status().message(), "member 4: empty address");

  for (PeerId id = 100; id < 100 + kMembersMax - 1; ++id)  // member 4 is already in
    ASSERT_TRUE(table.apply(make(id, MemberState::kAlive, 0)).ok());
  ASSERT_EQ(table.members().size(), kMembersMax);
  const auto full = table.apply(make(5000, MemberState::kAlive, 0));
  EXPECT_EQ(full.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(table.apply(make(100, MemberState::kLeft, 0)).ok()) << "known members still update";

  for (size_t i = 0; i < kMembershipSubscriptionsMax; ++i)
    ASSERT_TRUE(table.subscribe([](const MemberChange&) {}).ok());
  EXPECT_EQ(table.subscribe([](const MemberChange&) {}).status().code(),
            StatusCode::kResourceExhausted);
}

// Endpoints join the member's address and a named port, with brackets for IPv6.
TEST(MembershipTest, Endpoints) {
  Member m = make(0, MemberState::kAlive, 0);
  m.ports = {{"peer", 9004}};
  EXPECT_EQ(m.endpoint("peer"), "10.231.0.1:9004");
  EXPECT_EQ(m.endpoint("api"), "");
  m.address = "fd00::1";
  EXPECT_EQ(m.endpoint("peer"), "[fd00::1]:9004");
  EXPECT_TRUE(m.reachable());
  m.state = MemberState::kDead;
  EXPECT_FALSE(m.reachable());
}

}  // namespace
}  // namespace nodus::testing
