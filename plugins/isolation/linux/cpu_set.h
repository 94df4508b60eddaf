// cpu_set.h: CPU lists as the kernel writes them ("0-3,8,10-11") and the automatic layout
// that gives instance i its own block of CPUs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nodus/status.h"

namespace nodus::isolation {

// Sorted, without duplicates.
using CpuList = std::vector<int>;

// Parses a kernel CPU list: comma-separated CPUs and inclusive ranges ("0-7,9"). Whitespace
// around items (and a trailing newline, as sysfs files end) is ignored; an empty list is an
// error. CPUs must be in 0..kCpuMax.
Result<CpuList> parse_cpu_list(std::string_view text);
// The shortest kernel form of `cpus` ("0-3,8"); "" for an empty list.
std::string format_cpu_list(const CpuList& cpus);

inline constexpr int kCpuMax = 4095;

struct CpuLayout {
  CpuList cpus;
  bool wrapped = false;  // the block ran past the last online CPU and started again at the first
};

// Instance `index` gets online[index*n .. index*n+n-1], wrapping modulo online.size(). The
// design's layout on a 32-CPU host with n = 8: instance 0 -> 0-7, 1 -> 8-15, ...
CpuLayout auto_cpu_layout(uint32_t index, uint32_t per_instance, const CpuList& online);

// Elements of `a` that are also in `b`.
CpuList intersect(const CpuList& a, const CpuList& b);

}  // namespace nodus::isolation
