// io.nodus.simtest.dgecho under TestNode: the plugin binds through the kernel's composition
// onto the fake datagrams, echoes, and its binding ends with stop().
#include <gtest/gtest.h>

#include "dgecho_api.h"
#include "nodus/harness/test_node.h"

namespace nodus::testing {
namespace {

using simtest::DatagramEcho;

TestNodeOptions with_gossip() {
  TestNodeOptions o;
  o.ports = {{"gossip", 7946}};
  return o;
}

// Goal: a datagram reaches the handler on the executor and the echo goes back to its sender.
TEST(DgEcho, EchoesToTheSender) {
  TestNode node(with_gossip());
  ASSERT_TRUE(node.add_plugin(DGECHO_PLUGIN).ok());
  const Status started = node.start();
  ASSERT_TRUE(started.ok()) << started.to_string();
  ASSERT_TRUE(node.datagrams().bound("gossip"));
  ASSERT_TRUE(node.datagrams().deliver("gossip", "10.0.0.2:7946", "ping").ok());
  EXPECT_TRUE(node.datagrams().sent().empty()) << "the handler runs on the executor, not inline";
  node.executor().run_until_idle();
  const auto sent = node.datagrams().sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].to, "10.0.0.2:7946");
  EXPECT_EQ(sent[0].payload, "echo:ping");
  auto* echo = node.find<DatagramEcho>();
  ASSERT_NE(echo, nullptr);
  ASSERT_EQ(echo->received().size(), 1u);
  EXPECT_EQ(echo->received()[0].from, "10.0.0.2:7946");
  EXPECT_EQ(node.metric_value("nodus_datagram_received_total"), 1);
  EXPECT_EQ(node.metric_value("nodus_datagram_sent_total"), 1);
}

// Goal: the plugin's binding ends with its stop(): the port is free and nothing is delivered.
TEST(DgEcho, BindingEndsWithStop) {
  TestNode node(with_gossip());
  ASSERT_TRUE(node.add_plugin(DGECHO_PLUGIN).ok());
  const Status started = node.start();
  ASSERT_TRUE(started.ok()) << started.to_string();
  ASSERT_TRUE(node.datagrams().bound("gossip"));
  ASSERT_TRUE(node.stop().ok());
  EXPECT_FALSE(node.datagrams().bound("gossip"));
  EXPECT_EQ(node.datagrams().deliver("gossip", "10.0.0.2:7946", "late").code(),
            StatusCode::kFailedPrecondition);
}

// Goal: a port the instance does not have fails start() with NOT_FOUND naming the port.
TEST(DgEcho, UnknownPortFailsStart) {
  TestNode node(with_gossip());
  ASSERT_TRUE(node.add_plugin(DGECHO_PLUGIN, "port: swim").ok());
  Status st = node.start();
  ASSERT_EQ(st.code(), StatusCode::kNotFound) << st.to_string();
  EXPECT_NE(st.message().find("'swim'"), std::string::npos) << st.message();
}

// Goal: the per-binding limit from the config refuses larger sends with INVALID_ARGUMENT and
// drops (and counts) larger received datagrams.
TEST(DgEcho, LimitFromConfig) {
  TestNode node(with_gossip());
  ASSERT_TRUE(node.add_plugin(DGECHO_PLUGIN, "max_datagram_bytes: 8").ok());
  const Status started = node.start();
  ASSERT_TRUE(started.ok()) << started.to_string();
  auto* echo = node.find<DatagramEcho>();
  Status st = echo->send("10.0.0.2:1", std::string(9, 'x'));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("9 bytes exceeds the limit of 8 bytes"), std::string::npos)
      << st.message();
  EXPECT_EQ(node.datagrams().deliver("gossip", "10.0.0.2:1", std::string(9, 'x')).code(),
            StatusCode::kInvalidArgument);
  node.executor().run_until_idle();
  EXPECT_TRUE(echo->received().empty());
  EXPECT_EQ(node.metric_value("nodus_datagram_dropped_total"), 1);
}

}  // namespace
}  // namespace nodus::testing
