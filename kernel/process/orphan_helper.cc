// A stand-in node instance for ProcessServiceOrphanTest.InstanceKilledLeavesNoOrphan: it starts
// one long program through ProcessService, as a plugin would, writes the program's pid to the
// file named by its first argument, and waits to be killed with SIGKILL (no destructor runs).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "kernel/process/child_watcher.h"
#include "kernel/process/process_service.h"
#include "kernel/runtime/executor.h"
#include "nodus/testing/capture_logger.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s PID_FILE DATA_DIR\n", argv[0]);
    return 2;
  }
  const std::string pid_file = argv[1];
  nodus::kernel::AsioExecutor executor{"orphan-helper"};
  executor.start();
  nodus::kernel::ChildWatcher watcher;
  auto lines = std::make_shared<nodus::testing::LogLines>();
  nodus::testing::CaptureLogger log("io.nodus.test", lines);
  nodus::kernel::ProcessService service(executor, watcher, log, "io.nodus.test", argv[2]);
  nodus::Result<nodus::ProcessId> id = nodus::internal_error("not run");
  std::optional<nodus::ProcessInfo> info;
  const nodus::Status ran = executor.run_sync(
      [&] {
        nodus::ProcessSpec spec;
        spec.name = "orphan";
        spec.argv = {"/bin/sleep", "300"};
        id = service.start(std::move(spec), [](const nodus::ProcessExit&) {});
        if (id.ok()) info = service.info(*id);
      },
      std::chrono::seconds(30));
  if (!ran.ok() || !id.ok() || !info) {
    std::fprintf(stderr, "orphan helper: the program did not start: %s\n",
                 (!ran.ok() ? ran : id.status()).to_string().c_str());
    return 1;
  }
  std::ofstream(pid_file + ".tmp") << info->pid << "\n";
  std::filesystem::rename(pid_file + ".tmp", pid_file);
  std::this_thread::sleep_for(std::chrono::seconds(300));
  return 0;
}
