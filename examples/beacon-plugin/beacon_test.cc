// Unit tests of the beacon plugin, loaded through the real loader into a TestNode: fake
// datagrams and membership, the kernel's HTTP server on a free loopback port.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nodus/harness/test_node.h>

namespace {

using namespace std::chrono_literals;

// Instance 0 of 3, its beacon port 7100. The harness's static members have no ports, so
// members 1 and 2 join with theirs (7110, 7120), as a profile's stride would give them.
nodus::testing::TestNodeOptions three_instances() {
  return {.index = 0, .instances = 3, .ports = {{"beacon", 7100}, {"api", 0}}};
}
void give_peers_ports(nodus::testing::TestNode& node) {
  for (uint16_t id = 1; id <= 2; ++id) {
    nodus::Member m;
    m.id = id;
    m.address = "127.0.0.1";
    m.ports = {{"beacon", static_cast<uint16_t>(7100 + 10 * id)}};
    ASSERT_TRUE(node.membership().join(m).ok());
  }
}

// GET `path` from 127.0.0.1:`port` on a client thread while this thread runs the node's
// executor, where the plugin's handler runs. Returns the whole response, or "" on failure.
std::string http_get(nodus::testing::TestNode& node, uint16_t port, const std::string& path) {
  auto response = std::async(std::launch::async, [port, path] {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string out;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      const std::string req = "GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
      (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
      char buf[4096];
      for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
        out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
  });
  while (response.wait_for(1ms) != std::future_status::ready)
    node.executor().run_until_idle();
  return response.get();
}

// Goal: each round sends one beacon to every reachable peer, none to a member that left, and
// none after stop().
TEST(Beacon, SendsABeaconToEveryReachablePeerEachRound) {
  nodus::testing::TestNode node(three_instances());
  give_peers_ports(node);
  ASSERT_TRUE(node.add_plugin(BEACON_PLUGIN, "interval_ms: 100").ok());
  ASSERT_TRUE(node.start().ok());
  EXPECT_TRUE(node.datagrams().sent().empty());

  node.executor().advance(100ms);
  auto sent = node.datagrams().sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].port, "beacon");
  EXPECT_EQ(sent[0].to, "127.0.0.1:7110");
  EXPECT_EQ(sent[0].payload, "beacon 0 1");
  EXPECT_EQ(sent[1].to, "127.0.0.1:7120");

  ASSERT_TRUE(node.membership().set_state(2, nodus::MemberState::kLeft).ok());
  node.executor().advance(100ms);
  sent = node.datagrams().sent();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[2].to, "127.0.0.1:7110");
  EXPECT_EQ(sent[2].payload, "beacon 0 2");
  EXPECT_EQ(node.metric_value("nodus_beacon_sent_total"), 3);

  ASSERT_TRUE(node.stop().ok());
  node.executor().advance(1s);
  EXPECT_EQ(node.datagrams().sent().size(), 3u);
}

// Goal: well-formed beacons of members are counted per sender and served as JSON on
// GET /v1/beacons; its own, a stranger's and malformed ones are only counted as ignored.
TEST(Beacon, ServesWhatItHeardOverHttp) {
  nodus::testing::TestNode node(three_instances());
  ASSERT_TRUE(node.add_plugin(BEACON_PLUGIN).ok());
  ASSERT_TRUE(node.start().ok());
  for (const char* payload :
       {"beacon 1 1", "beacon 1 2", "beacon 2 7", "beacon 0 3", "beacon 9 1", "beacon 1", "hi"}) {
    ASSERT_TRUE(node.datagrams().deliver("beacon", "127.0.0.1:7110", payload).ok());
  }
  node.executor().run_until_idle();
  EXPECT_EQ(node.metric_value("nodus_beacon_heard_total"), 3);

  const std::string response = http_get(node, node.http_port("api"), "/v1/beacons");
  EXPECT_EQ(response.substr(0, response.find("\r\n")), "HTTP/1.1 200 OK");
  EXPECT_EQ(response.substr(response.find("\r\n\r\n") + 4),
            R"({"instance":0,"sent":0,"ignored":4,"heard":{)"
            R"("1":{"beacons":2,"last_seq":2},"2":{"beacons":1,"last_seq":7}}})");
}

// Goal: beacon-reset forgets one peer's beacons with --peer, everyone's without, and refuses
// a --peer that is no instance index.
TEST(Beacon, ResetCommandForgetsWhatItHeard) {
  nodus::testing::TestNode node(three_instances());
  ASSERT_TRUE(node.add_plugin(BEACON_PLUGIN).ok());
  ASSERT_TRUE(node.start().ok());
  for (const char* payload : {"beacon 1 1", "beacon 1 2", "beacon 2 1"}) {
    ASSERT_TRUE(node.datagrams().deliver("beacon", "127.0.0.1:7110", payload).ok());
  }
  node.executor().run_until_idle();

  auto one = node.command("beacon-reset", {{"peer", "1"}});
  ASSERT_TRUE(one.ok()) << one.status().to_string();
  EXPECT_EQ(one->text, "forgot 2 beacons from 1 peer");
  EXPECT_EQ(one->json, R"({"forgot":2,"peers":1})");
  auto rest = node.command("beacon-reset");
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->text, "forgot 1 beacon from 1 peer");
  EXPECT_EQ(node.command("beacon-reset")->text, "forgot 0 beacons from 0 peers");

  auto word = node.command("beacon-reset", {{"peer", "one"}});
  EXPECT_EQ(word.status().message(),
            "command 'beacon-reset': argument --peer 'one' is not a decimal integer");
  auto negative = node.command("beacon-reset", {{"peer", "-1"}});
  EXPECT_EQ(negative.status().message(),
            "command 'beacon-reset': argument --peer must be an instance index, got -1");
}

// Goal: an interval out of range is refused at its key.
TEST(Beacon, RejectsAnIntervalOutOfRange) {
  nodus::testing::TestNode node(three_instances());
  ASSERT_TRUE(node.add_plugin(BEACON_PLUGIN, "interval_ms: 5").ok());
  EXPECT_EQ(node.start().message(),
            "test-config[0]:1:1: interval_ms: must be between 10 and 60000");
}

}  // namespace
