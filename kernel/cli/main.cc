// The `nodus` executable: dispatches to the verbs in cli/commands.h.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "kernel/cli/commands.h"
#include "kernel/cli/options.h"
#include "nodus/abi.h"
#include "nodus/version.h"

namespace {

constexpr const char* kUsage = R"(usage: nodus <command> [options]

commands:
  up --profile FILE [--instances N]  start and supervise the cluster (the supervisor)
  status [-o json]                   one row per instance of the running cluster
  health [-o json]                   heartbeats and /readyz of every instance; exit 1 if not
  scale N                            add or remove instances live
  restart I                          restart instance I (also revives a failed one)
  down                               stop every instance and the supervisor
  cleanup --run-dir DIR|--profile F  remove a stopped cluster's run and data directories
  node --profile FILE --instance I   run one node instance in the foreground
  plugins list [-o json]             list the plugins in the plugin directories
  plugins inspect FILE [-o json]     print a plugin's descriptor
  config validate FILE               check a profile and its plugins' config; exit 2 on error
  config render FILE                 print the effective profile after overrides
  certs init DIR                     make a CA for mTLS between instances (docs/security.md)
  certs issue DIR --profile FILE     sign certificates for every instance, supervisor, operator
  version                            print version and ABI fingerprint
  help [COMMAND]                     this list, plus the plugin commands of the running cluster
  COMMAND [--arg value]... [--instance N | --all | --leader]
                                     run a plugin command of the running cluster (such as
                                     Raft's `failover [--to I]`); see `nodus help`

Run `nodus <command> --help` for the options of a command.
Exit codes: 0 ok, 1 failed while running, 2 bad input (flag, profile or plugin).
)";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? nodus::cli::kExitBadInput : nodus::cli::kExitOk;
  }
  const std::string verb = args[0];
  args.erase(args.begin());
  try {
    if (verb == "node") return nodus::cli::run_node(args);
    if (verb == "up") return nodus::cli::run_up(args);
    if (verb == "status") return nodus::cli::run_status(args);
    if (verb == "health") return nodus::cli::run_health(args);
    if (verb == "scale") return nodus::cli::run_scale(args);
    if (verb == "restart") return nodus::cli::run_restart(args);
    if (verb == "help") return nodus::cli::run_help(args, kUsage);
    if (verb == "down") return nodus::cli::run_down(args);
    if (verb == "cleanup") return nodus::cli::run_cleanup(args);
    if (verb == "plugins") return nodus::cli::run_plugins(args);
    if (verb == "config") return nodus::cli::run_config(args);
    if (verb == "certs") return nodus::cli::run_certs(args);
    if (verb == "version" || verb == "--version") {
      std::printf("nodus %s\nabi %s\n", nodus::sdk_version(), nodus::abi_fingerprint());
      return nodus::cli::kExitOk;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nodus %s: %s\n", verb.c_str(), e.what());
    return nodus::cli::kExitBadInput;
  }
  try {
    if (verb.empty() || verb[0] == '-') {
      std::fprintf(stderr, "nodus: unknown command '%s' (see nodus help)\n", verb.c_str());
      return nodus::cli::kExitBadInput;
    }
    return nodus::cli::run_plugin_command(verb, args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nodus %s: %s\n", verb.c_str(), e.what());
    return nodus::cli::kExitFailure;
  }
}
