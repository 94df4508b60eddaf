// Unit tests of io.nodus.diag.peerping, loaded through the real loader into a TestNode.
#include <gtest/gtest.h>

#include <chrono>

#include "nodus/harness/test_node.h"

namespace {

using nodus::testing::TestNode;
using std::chrono::milliseconds;

constexpr const char* kMethod = "io.nodus.diag.peerping.ping";

// Goal: every interval each peer gets one ping; echoed answers count as reachable with an RTT.
TEST(PeerPing, PingsEveryPeerAndRecordsRoundTrips) {
  TestNode node({.index = 0, .instances = 3});
  ASSERT_TRUE(node.add_plugin(PEERPING_PLUGIN, "interval_ms: 100\npayload_bytes: 8").ok());
  ASSERT_TRUE(node.start().ok());
  EXPECT_TRUE(node.transport().calls().empty());
  node.executor().advance(milliseconds(100));
  auto& calls = node.transport().calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].to, 1u);
  EXPECT_EQ(calls[1].to, 2u);
  EXPECT_EQ(calls[0].method, kMethod);
  EXPECT_EQ(calls[0].request.size(), 8u);
  node.executor().advance(milliseconds(3));
  node.transport().complete_call(0, calls[0].request);
  node.transport().complete_call(1, calls[1].request);
  node.executor().run_until_idle();
  EXPECT_EQ(node.metric_value("nodus_peerping_peers_reachable"), 2);
  EXPECT_EQ(node.metric_value("nodus_peerping_rtt_seconds"), 2);  // two observations
  EXPECT_TRUE(node.logs().contains("peer reachable peer=1"));
}

// Goal: a failed ping counts as a failure and the peer is reported unreachable once.
TEST(PeerPing, FailedPingMarksPeerUnreachable) {
  TestNode node({.index = 1, .instances = 2});
  ASSERT_TRUE(node.add_plugin(PEERPING_PLUGIN, "interval_ms: 50").ok());
  ASSERT_TRUE(node.start().ok());
  node.executor().advance(milliseconds(50));
  ASSERT_EQ(node.transport().calls().size(), 1u);
  EXPECT_EQ(node.transport().calls()[0].to, 0u);
  node.transport().complete_call(0, nodus::unavailable("connection refused"));
  node.executor().run_until_idle();
  EXPECT_EQ(node.metric_value("nodus_peerping_failures_total"), 1);
  EXPECT_EQ(node.metric_value("nodus_peerping_peers_reachable"), 0);
  EXPECT_TRUE(node.logs().contains("peer unreachable peer=0"));
}

// Goal: a peer with a ping still in flight is not pinged again (no pile-up behind a slow peer).
TEST(PeerPing, NoSecondPingWhileOneIsInFlight) {
  TestNode node({.index = 0, .instances = 2});
  ASSERT_TRUE(node.add_plugin(PEERPING_PLUGIN, "interval_ms: 10\ntimeout_ms: 1000").ok());
  ASSERT_TRUE(node.start().ok());
  node.executor().advance(milliseconds(55));
  EXPECT_EQ(node.transport().calls().size(), 1u);
  node.transport().complete_call(0, node.transport().calls()[0].request);
  node.executor().advance(milliseconds(10));
  EXPECT_EQ(node.transport().calls().size(), 2u);
}

// Goal: the plugin answers other nodes' pings by echoing the payload.
TEST(PeerPing, EchoesPingsFromPeers) {
  TestNode node({.index = 0, .instances = 2});
  ASSERT_TRUE(node.add_plugin(PEERPING_PLUGIN).ok());
  ASSERT_TRUE(node.start().ok());
  auto reply = node.transport().invoke(1, kMethod, "abc");
  ASSERT_TRUE(reply.has_value());
  ASSERT_TRUE(reply->ok());
  EXPECT_EQ(reply->value(), "abc");
}

// Goal: after stop() no more pings are sent.
TEST(PeerPing, StopCancelsTheTimer) {
  TestNode node({.index = 0, .instances = 2});
  ASSERT_TRUE(node.add_plugin(PEERPING_PLUGIN, "interval_ms: 10").ok());
  ASSERT_TRUE(node.start().ok());
  ASSERT_TRUE(node.stop().ok());
  node.executor().advance(milliseconds(100));
  EXPECT_TRUE(node.transport().calls().empty());
}

// Goal: bad values are refused with the key's position.
TEST(PeerPing, RejectsBadConfig) {
  TestNode a;
  ASSERT_TRUE(a.add_plugin(PEERPING_PLUGIN, "interval_ms: 0").ok());
  EXPECT_EQ(a.start().message(), "test-config[0]:1:1: interval_ms: must be positive");
  TestNode b;
  ASSERT_TRUE(b.add_plugin(PEERPING_PLUGIN, "payload_bytes: 70000").ok());
  EXPECT_EQ(b.start().message(), "test-config[0]:1:1: payload_bytes: must be in 0..65536");
}

}  // namespace
