// affinity.h: CPU affinity of a whole process (every thread), and the CPUs that are online.
#pragma once

#include <sys/types.h>

#include "cpu_set.h"
#include "nodus/status.h"

namespace nodus::isolation {

// The CPUs the calling thread may run on.
Result<CpuList> current_affinity();
// Sets the affinity of every thread of this process (/proc/self/task). Threads created later
// inherit it from their creator.
Status set_process_affinity(const CpuList& cpus);
// /sys/devices/system/cpu/online, or the current affinity when that file is unreadable.
CpuList online_cpus();

}  // namespace nodus::isolation
