// `nodus up --profile FILE [--instances N] [--run-dir DIR] [--host NAME]`: the supervisor in the
// foreground, for the instances of this host.
//
// Every instance's plugins are resolved and configured (as `nodus config validate` does)
// before any process is spawned; a bad one is one FILE:LINE:COL line on stderr.
//
// Exit codes: 0 after `nodus down`, SIGTERM or SIGINT stopped every instance; 1 when an
// essential instance failed for good; 2 on bad input (nothing is left running).
#include <cstdio>
#include <iostream>

#include "kernel/cli/commands.h"
#include "kernel/cli/options.h"
#include "kernel/supervisor/supervisor.h"

namespace nodus::cli {
namespace po = boost::program_options;

int run_up(const std::vector<std::string>& args) {
  po::options_description desc("options");
  desc.add_options()("help,h", "show this help")(
      "control-address", po::value<std::string>()->default_value(""),
      "serve the control API on HOST:PORT instead of the run directory's unix socket")(
      "quiet,q", "do not copy instance output to stderr (the per-instance log files keep it)")(
      "host", po::value<std::string>()->default_value(""),
      "run the instances the profile's `hosts:` places on host NAME (default: every host whose "
      "address is on this machine)");
  add_profile_options(desc);
  po::variables_map vm;
  if (!parse_flags(args, desc, {}, "up", vm)) return kExitBadInput;
  if (vm.count("help")) {
    std::cout << "usage: nodus up --profile FILE [--instances N] [--run-dir DIR] [options]\n\n"
                 "Checks every instance's plugins as `nodus config validate` does before it\n"
                 "starts any; the first error is one FILE:LINE:COL line, exit 2. Plugins are\n"
                 "searched in --plugin-dir, the profile's plugin_dirs, then the kernel's own.\n\n"
              << desc;
    return kExitOk;
  }
  auto selected = select_profile(vm);
  if (!selected) return kExitBadInput;
  const ProfileOptions* options = &selected->options;
  const std::string source = selected->profile.source.string();
  kernel::SupervisorOptions sup_options;
  sup_options.overrides = options->overrides;
  sup_options.plugin_dirs = options->plugin_dirs;
  sup_options.control_address = vm["control-address"].as<std::string>();
  sup_options.echo_output = vm.count("quiet") == 0;
  sup_options.host = vm["host"].as<std::string>();
  auto supervisor =
      kernel::Supervisor::create(std::move(selected->profile), std::move(sup_options));
  if (!supervisor.ok()) {
    // An error with a position in the profile (a plugin's config, composition or file) is
    // printed as `nodus config validate` prints it: FILE:LINE:COL first, unprefixed.
    const std::string& message = supervisor.status().message();
    const bool positioned = message.rfind(source + ":", 0) == 0;
    std::fprintf(stderr, "%s%s\n", positioned ? "" : "nodus up: ", message.c_str());
    return kExitBadInput;
  }
  return (*supervisor)->run();
}

}  // namespace nodus::cli
