#include "kernel/runtime/crc32c.h"

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
// Goal: the hardware path and the table agree on every length and alignment, and when
// extending a running checksum.
TEST(Crc32cTest, HardwareAndPortableAgree) {
  std::string data;
  for (int i = 0; i < 4099; ++i)
    data.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  for (size_t start = 0; start < 9; ++start) {
    for (size_t len : {0ul, 1ul, 7ul, 8ul, 9ul, 63ul, 64ul, 1000ul, 4090ul}) {
      std::string_view v(data.data() + start, len);
      ASSERT_EQ(crc32c(v), crc32c_portable(v)) << start << " " << len;
      ASSERT_EQ(crc32c(v, 0x12345678u), crc32c_portable(v, 0x12345678u));
    }
  }
}

}  // namespace nodus::kernel
