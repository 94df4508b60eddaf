// io.nodus.simtest.membership against the nodus.membership/v1 conformance suite, and the
// kernel's side of the contract: PluginContext::membership() returns the provider's view when
// a plugin provides one and the static membership otherwise, and a plugin's subscriptions end
// with its stop().
#include <gtest/gtest.h>

#include "nodus/harness/membership_conformance.h"
#include "nodus/harness/test_node.h"

namespace nodus::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(Simtest, MembershipConformance,
                         ::testing::Values(MembershipConformanceParam{"simtest", MEMBERSHIP_PLUGIN,
                                                                      "", 3}),
                         MembershipConformanceName);

// With the provider in effect, the context hands the plugin the provider's view.
TEST(MembershipRoutingTest, ContextReturnsTheProvidersView) {
  TestNode node({.index = 0, .instances = 3});
  ASSERT_TRUE(node.add_plugin(MEMBERSHIP_PLUGIN, "provide: true").ok());
  ASSERT_TRUE(node.start().ok());
  EXPECT_EQ(node.metric_value("nodus_simtest_membership_routed"), 1);
  ASSERT_TRUE(node.stop().ok());
}

// Without a provider the context hands out the static membership; the plugin's subscription
// sees its changes while it runs and nothing once it stopped, though it never unsubscribed.
TEST(MembershipRoutingTest, StaticMembershipAndSubscriptionsEndWithStop) {
  TestNode node({.index = 0, .instances = 3});
  ASSERT_TRUE(node.add_plugin(MEMBERSHIP_PLUGIN, "provide: false").ok());
  ASSERT_TRUE(node.start().ok());
  EXPECT_EQ(node.metric_value("nodus_simtest_membership_routed"), 0);
  ASSERT_TRUE(node.membership().set_state(2, MemberState::kLeft).ok());
  node.executor().run_until_idle();
  EXPECT_EQ(node.metric_value("nodus_simtest_membership_changes"), 1);
  ASSERT_TRUE(node.stop().ok());
  Member again;
  again.id = 2;
  again.address = "127.0.0.1";
  ASSERT_TRUE(node.membership().join(again).ok());
  node.executor().run_until_idle();
  EXPECT_EQ(node.metric_value("nodus_simtest_membership_changes"), 1)
      << "a stopped plugin's subscription still received a change";
}

}  // namespace
}  // namespace nodus::testing
