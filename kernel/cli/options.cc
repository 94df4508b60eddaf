#include "kernel/cli/options.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "kernel/config/overrides.h"

namespace nodus::cli {
namespace po = boost::program_options;

namespace {

// A command-line flag that overrides one profile key.
struct OverrideOption {
  const char* flag;
  const char* path;
  const char* help;
};

constexpr auto kOverrideOptions = std::to_array<OverrideOption>({
    {"instances", "instances", "number of node instances"},
    {"ports-base", "ports.base", "first port of instance 0"},
    {"ports-stride", "ports.stride", "port distance between instances"},
    {"bind", "bind", "address every endpoint binds"},
    {"data-dir", "data_dir", "root of the instances' data directories"},
    {"run-dir", "run_dir", "directory for sockets, pid and log files"},
    {"log-level", "log.level", "debug | info | warn | error"},
    {"log-format", "log.format", "text | json"},
});

// The environment variable bound to a key path, for the help text.
std::string env_for(std::string_view path) {
  for (const auto& b : kernel::env_bindings()) {
    if (b.path == path) return std::string(b.variable);
  }
  return "-";
}

}  // namespace

bool parse_flags(const std::vector<std::string>& args, const po::options_description& desc,
                 const po::positional_options_description& positional, std::string_view verb,
                 po::variables_map& vm) {
  try {
    po::store(po::command_line_parser(args).options(desc).positional(positional).run(), vm);
    po::notify(vm);
    return true;
  } catch (const po::error& e) {
    std::fprintf(stderr, "nodus %.*s: %s\n", static_cast<int>(verb.size()), verb.data(), e.what());
    return false;
  }
}

void add_profile_options(po::options_description& desc) {
  desc.add_options()("profile,p", po::value<std::string>(), "profile file (NODUS_PROFILE)");
  for (const auto& o : kOverrideOptions) {
    desc.add_options()(o.flag, po::value<std::string>(),
                       (std::string(o.help) + " (" + env_for(o.path) + ")").c_str());
  }
  desc.add_options()(
      "plugin-dir", po::value<std::vector<std::string>>()->composing(),
      "plugin directory searched first, repeatable; then the profile's plugin_dirs "
      "(NODUS_PLUGIN_DIRS replaces those), then the kernel's own; the first directory "
      "holding a plugin name wins")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override any profile key: --set key.path=value (repeatable; plugin keys as "
      "plugins.<name>.config.<key>)");
}

Result<ProfileOptions> profile_options(const po::variables_map& flags) {
  ProfileOptions out;
  if (const char* env = std::getenv("NODUS_PROFILE")) out.profile = env;
  if (flags.count("profile")) out.profile = flags["profile"].as<std::string>();

  // Environment first, flags after it: later overrides win.
  out.overrides = kernel::overrides_from_env(&std::getenv);
  for (const auto& o : kOverrideOptions) {
    if (flags.count(o.flag)) {
      out.overrides.push_back(
          {o.path, flags[o.flag].as<std::string>(), std::string("--") + o.flag});
    }
  }
  if (flags.count("set")) {
    for (const auto& kv : flags["set"].as<std::vector<std::string>>()) {
      NODUS_ASSIGN_OR_RETURN(kernel::ConfigOverride o, kernel::parse_set_flag(kv));
      out.overrides.push_back(std::move(o));
    }
  }
  if (flags.count("plugin-dir")) {
    for (const auto& d : flags["plugin-dir"].as<std::vector<std::string>>()) {
      out.plugin_dirs.emplace_back(d);
    }
  }
  return out;
}

Result<kernel::Profile> load_profile(const ProfileOptions& options) {
  if (options.profile.empty()) {
    return invalid_argument("no profile given: use --profile FILE or NODUS_PROFILE");
  }
  return kernel::load_profile(options.profile, options.overrides);
}

std::optional<SelectedProfile> select_profile(const po::variables_map& flags) {
  auto options = profile_options(flags);
  if (!options.ok()) {
    std::fprintf(stderr, "%s\n", options.status().message().c_str());
    return std::nullopt;
  }
  auto profile = load_profile(*options);
  if (!profile.ok()) {
    std::fprintf(stderr, "%s\n", profile.status().message().c_str());
    return std::nullopt;
  }
  return SelectedProfile{std::move(options).value(), std::move(profile).value()};
}

}  // namespace nodus::cli
