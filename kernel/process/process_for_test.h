// process/process_for_test.h: watching a process from a test through /proc (header-only, for
// tests of the kernel and of the `nodus` executable).
//
//   EXPECT_TRUE(nodus::kernel::gone_within(pid, std::chrono::seconds(30)));
#pragma once

#include <sys/types.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

namespace nodus::kernel {

// The state letter of /proc/<pid>/stat ('R', 'S', 'Z'...), '?' when there is no such process.
inline char proc_state(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // The command name is in parentheses and may hold anything: the state follows the last ')'.
  const auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() ? text[close + 2] : '?';
}

// True once `pid` is gone, or a zombie that its parent (perhaps a new one) has yet to reap.
inline bool gone_within(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    const char state = proc_state(pid);
    if (state == '?' || state == 'Z') return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace nodus::kernel
