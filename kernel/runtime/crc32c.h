// runtime/crc32c.h: CRC-32C (Castagnoli), the checksum of every record and value that
// nodus storage writes to disk.
//
// A portable table-driven implementation: storage is bounded by fsync, not by checksumming,
// so the hardware instruction is not worth a CPU-dispatch path yet.
//
//   uint32_t c = nodus::kernel::crc32c("123456789");   // 0xE3069283
//   uint32_t d = nodus::kernel::crc32c(" more", c);    // extends c over more bytes
#pragma once

#include <cstdint>
#include <string_view>

namespace nodus::kernel {

// Returns the CRC-32C of `data`. Passing the result of a previous call as `crc` extends it,
// so crc32c(b, crc32c(a)) == crc32c(a + b).
uint32_t crc32c(std::string_view data, uint32_t crc = 0);

}  // namespace nodus::kernel
