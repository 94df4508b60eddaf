#include "affinity.h"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "cgroup_files.h"

namespace nodus::isolation {
namespace {

// A dynamically sized mask, so hosts with more than CPU_SETSIZE CPUs work.
class CpuMask {
 public:
  CpuMask() : set_(CPU_ALLOC(kCpuMax + 1)), size_bytes_(CPU_ALLOC_SIZE(kCpuMax + 1)) {
    CPU_ZERO_S(size_bytes_, set_);
  }
  ~CpuMask() { CPU_FREE(set_); }
  CpuMask(const CpuMask&) = delete;
  CpuMask& operator=(const CpuMask&) = delete;

  cpu_set_t* get() { return set_; }
  size_t size_bytes() const { return size_bytes_; }

 private:
  cpu_set_t* set_;
  size_t size_bytes_;
};

}  // namespace

Result<CpuList> current_affinity() {
  CpuMask mask;
  if (::sched_getaffinity(0, mask.size_bytes(), mask.get()) != 0) {
    return errno_status(errno, "sched_getaffinity");
  }
  CpuList out;
  for (int c = 0; c <= kCpuMax; ++c) {
    if (CPU_ISSET_S(static_cast<size_t>(c), mask.size_bytes(), mask.get())) out.push_back(c);
  }
  return out;
}

Status set_process_affinity(const CpuList& cpus) {
  CpuMask mask;
  for (int c : cpus)
    CPU_SET_S(static_cast<size_t>(c), mask.size_bytes(), mask.get());
  std::error_code ec;
  int threads = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    const pid_t tid = static_cast<pid_t>(std::atoi(entry.path().filename().c_str()));
    if (tid <= 0) continue;
    if (::sched_setaffinity(tid, mask.size_bytes(), mask.get()) != 0 && errno != ESRCH) {
      return errno_status(errno, "sched_setaffinity(" + format_cpu_list(cpus) + ") of thread " +
                                     std::to_string(tid));
    }
    ++threads;
  }
  if (ec || threads == 0) {
    // No /proc: the calling thread at least.
    if (::sched_setaffinity(0, mask.size_bytes(), mask.get()) != 0) {
      return errno_status(errno, "sched_setaffinity(" + format_cpu_list(cpus) + ")");
    }
  }
  return {};
}

CpuList online_cpus() {
  Result<std::string> text = read_file("/sys/devices/system/cpu/online");
  if (text.ok()) {
    Result<CpuList> cpus = parse_cpu_list(*text);
    if (cpus.ok()) return *cpus;
  }
  return current_affinity().value_or(CpuList{0});
}

}  // namespace nodus::isolation
