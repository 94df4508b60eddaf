// Unit tests of the hello plugin, loaded through the real loader into a TestNode.
#include <gtest/gtest.h>
#include <nodus/harness/test_node.h>

namespace {

// Goal: a peer's greet call is answered with the configured greeting and counted.
TEST(Hello, AnswersGreetings) {
  nodus::testing::TestNode node({.index = 0, .instances = 3});
  ASSERT_TRUE(node.add_plugin(HELLO_PLUGIN, "greeting: bonjour").ok());
  ASSERT_TRUE(node.start().ok());
  auto reply = node.transport().invoke(1, "io.example.hello.greet", "alice");
  ASSERT_TRUE(reply.has_value());
  ASSERT_TRUE(reply->ok());
  EXPECT_EQ(reply->value(), "bonjour, alice!");
  EXPECT_EQ(node.metric_value("nodus_hello_greetings_total"), 1);
}

// Goal: on start the plugin greets each of its two peers once.
TEST(Hello, GreetsEveryPeerOnStart) {
  nodus::testing::TestNode node({.index = 0, .instances = 3});
  ASSERT_TRUE(node.add_plugin(HELLO_PLUGIN).ok());
  ASSERT_TRUE(node.start().ok());
  ASSERT_EQ(node.transport().calls().size(), 2u);
  node.transport().complete_call(0, std::string("hello, test-0!"));
  node.executor().run_until_idle();
  EXPECT_TRUE(node.logs().contains("peer answered peer=1 reply=hello, test-0!"));
}

// Goal: an empty greeting is refused at its key.
TEST(Hello, RejectsEmptyGreeting) {
  nodus::testing::TestNode node;
  ASSERT_TRUE(node.add_plugin(HELLO_PLUGIN, "greeting: ''").ok());
  nodus::Status st = node.start();
  EXPECT_EQ(st.message(), "test-config[0]:1:1: greeting: must not be empty");
}

}  // namespace
