// nodus/harness/membership_conformance.h: the conformance suite of nodus.membership/v1. Any
// plugin that provides the capability, ours or a third party's, runs it against its own .so:
//
//   #include "nodus/harness/membership_conformance.h"
//   INSTANTIATE_TEST_SUITE_P(Swim, MembershipConformance,
//       ::testing::Values(nodus::testing::MembershipConformanceParam{
//           "swim", SWIM_PLUGIN, "probe_interval_ms: 200", 3}),
//       nodus::testing::MembershipConformanceName);
//
// Each case loads the plugin into a TestNode (instance 1 of `instances`), starts it and checks
// the contract every provider keeps whatever its protocol: this instance is an alive member;
// the snapshot is ordered by id, unique and within the bounds; lookups agree with it; unknown
// ids are NOT_FOUND; subscriptions are distinct, bounded and end once; the snapshot may be
// read from another thread while the executor runs. It defines tests, so include it from one
// source file of a test binary.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "nodus/capabilities/membership.h"
#include "nodus/harness/test_node.h"

namespace nodus::testing {

struct MembershipConformanceParam {
  std::string name;              // test name suffix: [A-Za-z0-9_]
  std::filesystem::path plugin;  // the provider's .so
  std::string config_yaml;       // its config section (may be empty)
  uint32_t instances = 3;
};

// Prints the parameter by its name (test listings and CTest names stay stable and readable).
inline void PrintTo(const MembershipConformanceParam& param, std::ostream* out) {
  *out << param.name;
}

inline std::string MembershipConformanceName(
    const ::testing::TestParamInfo<MembershipConformanceParam>& info) {
  return info.param.name;
}

class MembershipConformance : public ::testing::TestWithParam<MembershipConformanceParam> {
 protected:
  static constexpr PeerId kSelf = 1;

  void SetUp() override {
    const auto& p = GetParam();
    ASSERT_TRUE(std::filesystem::exists(p.plugin)) << p.plugin << " is not built";
    node_ = std::make_unique<TestNode>(TestNodeOptions{kSelf, p.instances, "conformance", false});
    ASSERT_TRUE(node_->add_plugin(p.plugin, p.config_yaml).ok());
    const Status started = node_->start();
    ASSERT_TRUE(started.ok()) << started.to_string();
    membership_ = node_->find<Membership>();
    ASSERT_NE(membership_, nullptr) << p.plugin << " does not provide " << Membership::kCapability;
  }
  void TearDown() override {
    if (node_) {
      EXPECT_TRUE(node_->stop().ok());
    }
  }

  std::unique_ptr<TestNode> node_;
  Membership* membership_ = nullptr;
};

// This instance knows itself, and knows itself alive.
TEST_P(MembershipConformance, SelfIsAnAliveMember) {
  EXPECT_EQ(membership_->self(), kSelf);
  auto self = membership_->member(kSelf);
  ASSERT_TRUE(self.ok()) << self.status().to_string();
  EXPECT_EQ(self->state, MemberState::kAlive);
}

// The snapshot is ordered by id without duplicates, every member keeps the bounds, and
// member(id) answers what the snapshot says.
TEST_P(MembershipConformance, SnapshotIsOrderedUniqueAndValid) {
  const std::vector<Member> all = membership_->members();
  ASSERT_FALSE(all.empty());
  EXPECT_LE(all.size(), kMembersMax);
  for (size_t i = 0; i < all.size(); ++i) {
    if (i > 0) {
      EXPECT_LT(all[i - 1].id, all[i].id) << "members() must be ordered by id";
    }
    EXPECT_TRUE(check_member(all[i]).ok()) << check_member(all[i]).to_string();
    auto one = membership_->member(all[i].id);
    ASSERT_TRUE(one.ok()) << one.status().to_string();
    EXPECT_EQ(one->incarnation, all[i].incarnation);
    EXPECT_EQ(one->state, all[i].state);
    EXPECT_EQ(one->address, all[i].address);
  }
}

// An id nobody has is NOT_FOUND, not a default member.
TEST_P(MembershipConformance, UnknownMemberIsNotFound) {
  EXPECT_EQ(membership_->member(kMembersMax + 7).status().code(), StatusCode::kNotFound);
}

// Subscriptions have distinct ids, end once, refuse an empty handler and are bounded.
TEST_P(MembershipConformance, SubscriptionsAreDistinctBoundedAndEndOnce) {
  EXPECT_EQ(membership_->subscribe(nullptr).status().code(), StatusCode::kInvalidArgument);
  std::set<SubscriptionId> ids;
  Status refused;
  for (size_t i = 0; i <= kMembershipSubscriptionsMax; ++i) {
    auto id = membership_->subscribe([](const MemberChange&) {});
    if (!id.ok()) {
      refused = id.status();
      break;
    }
    EXPECT_TRUE(ids.insert(*id).second) << "subscription id " << *id << " given twice";
  }
  EXPECT_EQ(refused.code(), StatusCode::kResourceExhausted)
      << "more than kMembershipSubscriptionsMax subscriptions were accepted";
  for (SubscriptionId id : ids)
    EXPECT_TRUE(membership_->unsubscribe(id).ok());
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(membership_->unsubscribe(*ids.begin()).code(), StatusCode::kNotFound);
}

// members() and member() may be called from any thread while the executor runs.
TEST_P(MembershipConformance, SnapshotIsSafeFromAnotherThread) {
  std::thread reader([this] {
    for (int i = 0; i < 1000; ++i) {
      EXPECT_FALSE(membership_->members().empty());
      (void)membership_->member(kSelf);
    }
  });
  for (int i = 0; i < 100; ++i)
    node_->executor().advance(std::chrono::milliseconds(10));
  reader.join();
}

}  // namespace nodus::testing
