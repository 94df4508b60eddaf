#include "nodus/address.h"

#include <gtest/gtest.h>

namespace nodus {
namespace {

// Goal: IPv4, names, bracketed IPv6 and an empty host all split into host and port.
TEST(AddressTest, ParsesHostAndPort) {
  auto v4 = parse_host_port("127.0.0.1:9003");
  ASSERT_TRUE(v4.ok()) << v4.status().to_string();
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 9003);
  auto v6 = parse_host_port("[::1]:0");
  ASSERT_TRUE(v6.ok()) << v6.status().to_string();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  auto any = parse_host_port(":65535");
  ASSERT_TRUE(any.ok()) << any.status().to_string();
  EXPECT_EQ(any->host, "");
  EXPECT_EQ(any->port, 65535);
}

// Goal: a missing or malformed port, and an unbracketed IPv6 host, are errors that name the
// address.
TEST(AddressTest, RejectsMalformedAddresses) {
  for (const char* bad :
       {"localhost", "host:", "host:x1", "host:65536", "host:-1", "::1:9003", "host:80 "}) {
    auto r = parse_host_port(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find(std::string("'") + bad + "'"), std::string::npos)
        << r.status().message();
  }
}

// Goal: formatting brackets IPv6 hosts, and parse(format(x)) gives x back.
TEST(AddressTest, FormatRoundTrips) {
  EXPECT_EQ(format_host_port("10.0.0.1", 80), "10.0.0.1:80");
  EXPECT_EQ(format_host_port("::1", 9003), "[::1]:9003");
  for (const char* host : {"10.0.0.1", "::1", "fe80::1", "node-a.local", ""}) {
    auto r = parse_host_port(format_host_port(host, 4242));
    ASSERT_TRUE(r.ok()) << host;
    EXPECT_EQ(r->host, host);
    EXPECT_EQ(r->port, 4242);
  }
}

// Goal: host_of strips the port and brackets, and passes a bare host through.
TEST(AddressTest, HostOf) {
  EXPECT_EQ(host_of("[::1]:9003"), "::1");
  EXPECT_EQ(host_of("10.1.2.3:80"), "10.1.2.3");
  EXPECT_EQ(host_of("node-a"), "node-a");
}

}  // namespace
}  // namespace nodus
