// The HTTP service as plugins see it (nodus/services/http.h): real plugin files in a TestNode,
// whose routes the kernel's server serves on real sockets, and in a SimCluster, whose requests
// are injected and handled on the simulated executors.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nodus/harness/sim_cluster.h"
#include "nodus/harness/test_node.h"

namespace nodus::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;

// One request on its own connection; everything the server sent until it closed.
std::string exchange(uint16_t port, const std::string& method, const std::string& target,
                     const std::string& body = "") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "<connect failed>";
  }
  const std::string req = method + " " + target +
                          " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
  (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

class HttpPluginTest : public ::testing::Test {
 protected:
  // Runs `f` on a client thread while this thread drives the node's executor.
  template <class F>
  auto run(TestNode& node, F f) {
    auto fut = std::async(std::launch::async, std::move(f));
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    while (fut.wait_for(0ms) != std::future_status::ready &&
           std::chrono::steady_clock::now() < give_up) {
      node.executor().advance(1ms);
      std::this_thread::sleep_for(100us);
    }
    return fut.get();
  }
  static TestNodeOptions with_ports() {
    TestNodeOptions o;
    o.ports = {{"api", 0}, {"health", 0}};
    return o;
  }
  TestNode node_{with_ports()};
};

// Goal: two plugins route on one port; each request reaches its own plugin, path parameters
// included, and the port's 404/405 cover both.
TEST_F(HttpPluginTest, TwoPluginsShareAPort) {
  ASSERT_TRUE(node_.add_plugin(HTTP_PLUGIN_A, "port: api\npath: /a/{id}\nreply: first").ok());
  ASSERT_TRUE(node_.add_plugin(HTTP_PLUGIN_B, "port: api\npath: /b\nmethod: POST").ok());
  Status st = node_.start();
  ASSERT_TRUE(st.ok()) << st.to_string();
  const uint16_t port = node_.http_port("api");
  ASSERT_NE(port, 0);
  const std::string a = run(node_, [&] { return exchange(port, "GET", "/a/x%20y?q=1"); });
  EXPECT_THAT(a, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(a, HasSubstr(R"("plugin":"io.nodus.test.http-a","reply":"first","id":"x y")"));
  const std::string b = run(node_, [&] { return exchange(port, "POST", "/b", "payload"); });
  EXPECT_THAT(b, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(b, HasSubstr(R"("plugin":"io.nodus.test.http-b")"));
  EXPECT_THAT(b, HasSubstr(R"("body":"payload")"));
  EXPECT_THAT(run(node_, [&] { return exchange(port, "GET", "/nothing"); }),
              StartsWith("HTTP/1.1 404"));
  const std::string wrong = run(node_, [&] { return exchange(port, "GET", "/b"); });
  EXPECT_THAT(wrong, StartsWith("HTTP/1.1 405"));
  EXPECT_THAT(wrong, HasSubstr("Allow: POST"));
}

// Goal: a plugin's routes end with its stop(): the port then answers 404 for them.
TEST_F(HttpPluginTest, RoutesEndWithStop) {
  ASSERT_TRUE(node_.add_plugin(HTTP_PLUGIN_A, "port: api").ok());
  ASSERT_TRUE(node_.start().ok());
  const uint16_t port = node_.http_port("api");
  EXPECT_THAT(run(node_, [&] { return exchange(port, "GET", "/hello"); }),
              StartsWith("HTTP/1.1 200"));
  ASSERT_TRUE(node_.stop().ok());
  EXPECT_THAT(run(node_, [&] { return exchange(port, "GET", "/hello"); }),
              StartsWith("HTTP/1.1 404"));
}

// Goal: a handler may keep its responder and answer later (here from a 200 ms timer); the
// client gets the answer then, not before.
TEST_F(HttpPluginTest, AsynchronousResponder) {
  ASSERT_TRUE(node_.add_plugin(HTTP_PLUGIN_A, "port: api\ndelay_ms: 200").ok());
  ASSERT_TRUE(node_.start().ok());
  const uint16_t port = node_.http_port("api");
  auto fut = std::async(std::launch::async, [&] { return exchange(port, "GET", "/hello"); });
  // Let the request arrive and the handler run, without moving time to the timer.
  for (int i = 0; i < 200 && fut.wait_for(5ms) != std::future_status::ready; ++i)
    node_.executor().run_until_idle();
  EXPECT_NE(fut.wait_for(0ms), std::future_status::ready) << "answered before its timer";
  node_.executor().advance(200ms);
  ASSERT_EQ(fut.wait_for(10s), std::future_status::ready);
  EXPECT_THAT(fut.get(), StartsWith("HTTP/1.1 200"));
}

// Goal: the same method and shape twice on one port is ALREADY_EXISTS naming the route, and
// the plugin that asked fails to start.
TEST_F(HttpPluginTest, SameRouteTwiceIsAlreadyExists) {
  ASSERT_TRUE(node_.add_plugin(HTTP_PLUGIN_A, "port: api\npath: /x/{id}").ok());
  ASSERT_TRUE(node_.add_plugin(HTTP_PLUGIN_B, "port: api\npath: /x/{key}").ok());
  Status st = node_.start();
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists) << st.to_string();
  EXPECT_THAT(st.message(), HasSubstr("route GET /x/{key} is already registered"));
  EXPECT_THAT(st.message(), HasSubstr("port 'api'"));
}

// Goal: a port the instance does not have is NOT_FOUND naming it.
TEST_F(HttpPluginTest, UnknownPortIsNotFound) {
  ASSERT_TRUE(node_.add_plugin(HTTP_PLUGIN_A, "port: web").ok());
  Status st = node_.start();
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.to_string();
  EXPECT_THAT(st.message(), HasSubstr("HTTP port 'web' is not a port of this instance"));
}

// Goal: in the simulator a request is injected into one node, handled on its simulated
// executor (an asynchronous answer waits for simulated time), and a crash ends the routes.
TEST(HttpSimTest, RequestsRunOnTheSimulatedExecutor) {
  SimOptions options;
  options.seed = 7;
  options.nodes = 2;
  options.ports = {{"api", 8080}};
  SimCluster sim(options);
  ASSERT_TRUE(sim.add_plugin(HTTP_PLUGIN_A, "port: api\npath: /v/{id}\ndelay_ms: 50").ok());
  ASSERT_TRUE(sim.start().ok());
  auto call = sim.http(1).send("api", "GET", "/v/7");
  sim.run_for(10ms);
  EXPECT_FALSE(call->done());
  sim.run_for(100ms);
  ASSERT_TRUE(call->done());
  EXPECT_EQ(call->response().status, 200);
  EXPECT_THAT(call->response().body, HasSubstr(R"("id":"7")"));
  EXPECT_EQ(sim.http(1).send("api", "DELETE", "/v/7")->response().status, 405);
  EXPECT_EQ(sim.http(1).bound_port("api"), 8080);
  EXPECT_EQ(sim.http(0).route_count("api"), 1u);
  sim.crash(0);
  ASSERT_TRUE(sim.restart(0).ok());
  EXPECT_EQ(sim.http(0).route_count("api"), 1u);  // the new incarnation routed again
}

}  // namespace
}  // namespace nodus::testing
