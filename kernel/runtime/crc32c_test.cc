#include "runtime/crc32c.h"

#include <string>

#include <gtest/gtest.h>

namespace nodus::kernel {
namespace {

// The standard check value and RFC 3720 (iSCSI) vectors must match, or on-disk data would
// not be readable by other CRC-32C implementations.
TEST(Crc32cTest, MatchesKnownVectors) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62A8AB43u);
}

// Extending a checksum over a second buffer gives the checksum of the concatenation.
TEST(Crc32cTest, ExtendsAcrossBuffers) {
  EXPECT_EQ(crc32c("56789", crc32c("1234")), crc32c("123456789"));
}

}  // namespace
}  // namespace nodus::kernel
