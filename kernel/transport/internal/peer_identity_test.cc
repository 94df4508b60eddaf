// The sender checks of peer_identity.h, case by case.
#include "kernel/transport/internal/peer_identity.h"

#include "kernel/transport/internal/peer_service.h"

#include <gtest/gtest.h>

namespace nodus::kernel::internal {
namespace {

Caller plain_from(const std::string& ip) {
  Caller c;
  c.source_host = ip;
  c.describe = ip;
  return c;
}

Caller certified_as(std::optional<nodus::PeerId> instance) {
  Caller c = plain_from("10.0.0.9");
  c.certified = true;
  c.instance = instance;
  return c;
}

TEST(PeerIdentityTest, PlaintextSendersMustMatchTheirConfiguredAddress) {
  // Goal: without certificates a sender must be a configured peer connecting from its
  // configured IP; DNS-named peers are not resolved; an unspecified bind means this host.
  PeerDirectory peers;
  peers.set({{1, "10.0.0.1:9006"},
             {2, "[fd00::2]:9006"},
             {3, "ledger-3.example:9006"},
             {4, "0.0.0.0:9046"}});
  peers.set_self("10.0.0.5:9016");
  const nodus::PeerId self = 5;
  EXPECT_EQ(refuse_reason(plain_from("10.0.0.1"), 1, self, peers), "");
  EXPECT_EQ(refuse_reason(plain_from("::ffff:10.0.0.1"), 1, self, peers), "");
  EXPECT_NE(refuse_reason(plain_from("10.0.0.7"), 1, self, peers).find("configured at 10.0.0.1"),
            std::string::npos);
  EXPECT_EQ(refuse_reason(plain_from("fd00:0:0:0:0:0:0:2"), 2, self, peers), "");
  EXPECT_EQ(refuse_reason(plain_from("10.0.0.7"), 3, self, peers), "");
  EXPECT_EQ(refuse_reason(plain_from("127.0.0.1"), 4, self, peers), "");
  EXPECT_NE(refuse_reason(plain_from("10.0.0.7"), 4, self, peers), "");
  EXPECT_NE(refuse_reason(plain_from("10.0.0.1"), 9, self, peers).find("not a configured peer"),
            std::string::npos);
  // This node itself: only the local supervisor, from loopback or the node's own address.
  EXPECT_EQ(refuse_reason(plain_from("127.0.0.1"), self, self, peers), "");
  EXPECT_EQ(refuse_reason(plain_from("10.0.0.5"), self, self, peers), "");
  EXPECT_NE(refuse_reason(plain_from("10.0.0.1"), self, self, peers), "");
  EXPECT_NE(refuse_reason(plain_from(""), 1, self, peers), "");  // source unknown
}

TEST(PeerIdentityTest, CertificateDecidesOverAddress) {
  // Goal: with a verified certificate only the instance it names may be claimed, from any
  // address; a certificate naming no instance may claim none.
  PeerDirectory peers;
  peers.set({{1, "10.0.0.1:9006"}});
  EXPECT_EQ(refuse_reason(certified_as(1), 1, 0, peers), "");
  EXPECT_NE(refuse_reason(certified_as(1), 2, 0, peers).find("names instance 1"),
            std::string::npos);
  EXPECT_NE(refuse_reason(certified_as(std::nullopt), 1, 0, peers).find("names no instance"),
            std::string::npos);
}

TEST(PeerIdentityTest, HostOfAddress) {
  // Goal: host parts of the address forms the profile and gRPC use.
  EXPECT_EQ(host_of_address("127.0.0.1:9006"), "127.0.0.1");
  EXPECT_EQ(host_of_address("[::1]:9006"), "::1");
  EXPECT_EQ(host_of_address("ledger-0.example:9006"), "ledger-0.example");
}

TEST(PeerIdentityTest, RefusalsAreLoggedAtPowersOfTwo) {
  // Goal: a flood of forged senders writes a logarithmic number of log lines: 11 of 1024.
  int logged = 0;
  for (uint64_t n = 1; n <= 1024; ++n)
    logged += log_refusal(n) ? 1 : 0;
  EXPECT_EQ(logged, 11);
  EXPECT_TRUE(log_refusal(1));
  EXPECT_FALSE(log_refusal(3));
}

}  // namespace
}  // namespace nodus::kernel::internal
