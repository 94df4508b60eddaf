// `nodus config validate FILE` and `nodus config render FILE`.
#include <cstdio>
#include <iostream>

#include "kernel/cli/commands.h"
#include "kernel/cli/options.h"
#include "kernel/node/node.h"

namespace nodus::cli {
namespace po = boost::program_options;

int run_config(const std::vector<std::string>& args) {
  po::options_description desc("options");
  desc.add_options()("help,h", "show this help")("action", po::value<std::string>(),
                                                 "validate | render");
  add_profile_options(desc);
  po::positional_options_description pos;
  pos.add("action", 1).add("profile", 1);
  po::variables_map vm;
  if (!parse_flags(args, desc, pos, "config", vm)) return kExitBadInput;
  if (vm.count("help") || !vm.count("action")) {
    std::cout << "usage: nodus config validate|render FILE [overrides]\n" << desc;
    return vm.count("help") ? kExitOk : kExitBadInput;
  }
  const std::string action = vm["action"].as<std::string>();
  if (action != "validate" && action != "render") {
    std::fprintf(stderr, "nodus config: unknown action '%s' (validate | render)\n", action.c_str());
    return kExitBadInput;
  }
  auto selected = select_profile(vm);
  if (!selected) return kExitBadInput;
  const ProfileOptions* options = &selected->options;
  const kernel::Profile* profile = &selected->profile;
  if (action == "render") {
    std::fputs(profile->root.to_yaml().c_str(), stdout);
    return kExitOk;
  }
  // Validation goes as far as a start would without starting anything: for every instance
  // (a plugin may judge its section by the instance's index, host or ports), every plugin is
  // resolved, checked, constructed and configured with its section. `nodus up` makes the same
  // check before it spawns anything.
  kernel::NodeOptions node_options;
  node_options.plugin_dirs = options->plugin_dirs;
  for (uint32_t i = 0; i < profile->instances; ++i) {
    if (Status st = kernel::check_instance(*profile, i, node_options); !st.ok()) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      return kExitBadInput;
    }
  }
  std::printf("%s: ok (profile %s, %u instances, %zu plugins)\n", profile->source.string().c_str(),
              profile->name.c_str(), profile->instances, profile->plugins.size());
  return kExitOk;
}

}  // namespace nodus::cli
