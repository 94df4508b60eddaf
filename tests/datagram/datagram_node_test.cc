// Datagrams through real `nodus node` processes: the kernel binds the profile's named UDP port
// for a plugin (io.nodus.simtest.dgecho), its handler answers, and the counters reach /metrics.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "cli/process.h"

namespace nodus::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kNodus = NODUS_BINARY;

class DatagramNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("nodus-dg-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A one-instance profile named `name` with health at `base` and gossip at `base + 1`.
  fs::path write_profile(const std::string& name, uint16_t base, const std::string& config) {
    const fs::path file = dir_ / (name + ".yaml");
    std::ofstream(file) << "profile: " << name << "\ninstances: 1\nports: {base: " << base
                        << ", stride: 10, offsets: {health: 0, gossip: 1}}\n"
                        << "data_dir: " << (dir_ / name).string() << "\n"
                        << "plugin_dirs: [" << NODUS_PLUGIN_DIR << "]\nplugins:\n"
                        << "  - name: io.nodus.simtest.dgecho\n"
                        << "    config: {" << config << "}\n";
    return file;
  }

  std::unique_ptr<Child> start(const fs::path& profile, const std::string& name) {
    return std::make_unique<Child>(
        std::vector<std::string>{kNodus, "node", "--profile", profile.string(), "--instance", "0"},
        dir_ / (name + ".log"));
  }

  // Waits until /metrics on `health_port` contains `needle`; returns the last body.
  std::string metrics_with(uint16_t health_port, const std::string& needle) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(20);
    std::string body;
    while (std::chrono::steady_clock::now() < deadline) {
      if (http_get(health_port, "/metrics", &body) == 200 && body.find(needle) != std::string::npos)
        break;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return body;
  }

  fs::path dir_;
};

// Goal: instance A greets instance B on B's gossip port, B's handler echoes to A's real
// address, and both count it in /metrics with the port label.
TEST_F(DatagramNodeTest, TwoNodesExchangeDatagrams) {
  const uint16_t base = free_port_block(20);
  const uint16_t base_a = base;
  const uint16_t base_b = static_cast<uint16_t>(base + 10);
  auto b = start(write_profile("dgb", base_b, ""), "dgb");
  // B must be listening before A greets it (a datagram to a closed port is simply lost).
  metrics_with(base_b, "nodus_datagram_sent_total");
  auto a = start(
      write_profile("dga", base_a, "greet: '127.0.0.1:" + std::to_string(base_b + 1) + "'"), "dga");
  const std::string got_b =
      metrics_with(base_b, "nodus_datagram_received_total{instance=\"0\",port=\"gossip\"} 1");
  EXPECT_THAT(got_b, ::testing::HasSubstr(
                         "nodus_datagram_received_total{instance=\"0\",port=\"gossip\"} 1"))
      << read_file(dir_ / "dgb.log");
  EXPECT_THAT(got_b,
              ::testing::HasSubstr("nodus_datagram_sent_total{instance=\"0\",port=\"gossip\"} 1"));
  const std::string got_a =
      metrics_with(base_a, "nodus_datagram_received_total{instance=\"0\",port=\"gossip\"} 1");
  EXPECT_THAT(got_a, ::testing::HasSubstr(
                         "nodus_datagram_received_total{instance=\"0\",port=\"gossip\"} 1"))
      << read_file(dir_ / "dga.log");
}

// Goal: a plain UDP socket outside nodus gets the echo from the node's gossip port, and an
// oversize datagram is dropped and counted, not echoed.
TEST_F(DatagramNodeTest, PlainSocketGetsTheEcho) {
  const uint16_t base = free_port_block(10);
  auto node = start(write_profile("dgc", base, "max_datagram_bytes: 64"), "dgc");
  metrics_with(base, "nodus_datagram_sent_total");
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(static_cast<uint16_t>(base + 1));
  const std::string big(65, 'x');
  ::sendto(fd, big.data(), big.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
  ::sendto(fd, "hi", 2, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
  char buf[128];
  const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
  ::close(fd);
  ASSERT_EQ(n, 7) << read_file(dir_ / "dgc.log");
  EXPECT_EQ(std::string(buf, 7), "echo:hi");
  const std::string m = metrics_with(
      base, "nodus_datagram_dropped_total{instance=\"0\",port=\"gossip\",reason=\"oversize\"} 1");
  EXPECT_THAT(m, ::testing::HasSubstr("nodus_datagram_dropped_total{instance=\"0\",port=\"gossip\","
                                      "reason=\"oversize\"} 1"));
}

}  // namespace
}  // namespace nodus::test
