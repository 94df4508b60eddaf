// `nodus node --profile FILE --instance I`: one node instance in the foreground.
//
// SIGTERM and SIGINT stop the plugins in reverse order within --stop-timeout-ms; the exit code
// is 0 after a clean stop, 1 when the stop overran or a plugin failed, 2 on bad input.
#include <pthread.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <csignal>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "kernel/cli/commands.h"
#include "kernel/cli/options.h"
#include "kernel/node/node.h"

namespace nodus::cli {
namespace po = boost::program_options;

namespace {

// Under a supervisor (NODUS_SUPERVISOR_BUS set), die with it: PR_SET_PDEATHSIG turns the
// supervisor's death into our SIGTERM; the parent check closes the race where it died first.
bool follow_supervisor(kernel::NodeOptions& options) {
  const char* bus = std::getenv("NODUS_SUPERVISOR_BUS");
  if (bus == nullptr || *bus == '\0') return true;
  options.supervisor_bus = bus;
  if (const char* ms = std::getenv("NODUS_SUPERVISOR_HEARTBEAT_MS")) {
    const long period_ms = std::strtol(ms, nullptr, 10);
    if (period_ms > 0) options.heartbeat_period = std::chrono::milliseconds(period_ms);
  }
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  const char* pid = std::getenv("NODUS_SUPERVISOR_PID");
  return pid == nullptr || std::strtol(pid, nullptr, 10) == static_cast<long>(::getppid());
}

}  // namespace

int run_node(const std::vector<std::string>& args) {
  kernel::NodeOptions node_options;
  if (!follow_supervisor(node_options)) {
    std::fprintf(stderr, "nodus node: the supervisor that started this instance is gone\n");
    return kExitFailure;
  }
  // Block the stop signals before any thread exists, so every thread inherits the mask and
  // only sigwait() below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  po::options_description desc("options");
  desc.add_options()("help,h", "show this help")(
      "instance,i", po::value<uint32_t>()->default_value(0), "instance index (0-based)")(
      "stop-timeout-ms", po::value<uint32_t>()->default_value(5000),
      "bound on stopping the plugins after SIGTERM/SIGINT")(
      "join", "joining a running cluster (set by `nodus scale`): no consensus bootstrap");
  add_profile_options(desc);
  po::variables_map vm;
  if (!parse_flags(args, desc, {}, "node", vm)) return kExitBadInput;
  if (vm.count("help")) {
    std::cout << "usage: nodus node --profile FILE --instance I [options]\n" << desc;
    return kExitOk;
  }
  auto selected = select_profile(vm);
  if (!selected) return kExitBadInput;
  const ProfileOptions* options = &selected->options;
  const kernel::Profile* profile = &selected->profile;
  node_options.plugin_dirs = options->plugin_dirs;
  node_options.joining = vm.count("join") > 0;
  auto node = kernel::Node::create(*profile, vm["instance"].as<uint32_t>(), node_options);
  if (!node.ok()) {
    std::fprintf(stderr, "%s\n", node.status().message().c_str());
    return kExitBadInput;
  }
  if (Status st = (*node)->configure(); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return kExitBadInput;
  }
  if (Status st = (*node)->start(); !st.ok()) {
    std::fprintf(stderr, "%s: %s\n", (*node)->instance().node_name.c_str(), st.message().c_str());
    // A plugin that refuses what it found (a stored state that cannot work with this profile)
    // would refuse again on every restart: report it as bad input, like a configuration error.
    return st.code() == StatusCode::kFailedPrecondition ? kExitBadInput : kExitFailure;
  }
  int sig = 0;
  while (true) {
    if (sigwait(&stop_signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      // Plugins are never reloaded in place; a new config means a restart of the instance.
      std::fprintf(stderr, "%s: SIGHUP ignored (restart the instance to apply a new profile)\n",
                   (*node)->instance().node_name.c_str());
      continue;
    }
    break;
  }
  const auto timeout = std::chrono::milliseconds(vm["stop-timeout-ms"].as<uint32_t>());
  Status st = (*node)->stop(timeout);
  if (st.code() == StatusCode::kDeadlineExceeded) {
    // A plugin is stuck inside stop(); its threads cannot be joined, so leave now.
    std::fflush(nullptr);
    _exit(kExitFailure);
  }
  return st.ok() ? kExitOk : kExitFailure;
}

}  // namespace nodus::cli
