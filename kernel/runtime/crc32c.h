// runtime/crc32c.h: CRC-32C (Castagnoli), the checksum of every record and value that
// nodus storage writes to disk.
//
// On x86-64 CPUs with SSE4.2 it uses the crc32 instruction (chosen at run time); elsewhere a
// table. Profiling the ledger showed the table version taking a fifth of the leader's CPU
// while it wrote snapshots.
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
// The table implementation, always; tests compare the two.
uint32_t crc32c_portable(std::string_view data, uint32_t crc = 0);

}  // namespace nodus::kernel
