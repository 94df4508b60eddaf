// cli/options.h: options shared by every verb that reads a profile, turned into profile
// overrides with the documented precedence:
//   built-in defaults < profile file < NODUS_* environment < command-line flags.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/program_options.hpp>

#include "kernel/config/profile.h"

namespace nodus::cli {

// Process exit codes, the same for every verb.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;   // failed while running (a plugin's start, a stop...)
inline constexpr int kExitBadInput = 2;  // bad flag, profile or plugin: nothing was started

// Parses a verb's arguments into `vm`. On a bad flag prints "nodus VERB: why" and returns
// false: the caller exits with kExitBadInput.
bool parse_flags(const std::vector<std::string>& args,
                 const boost::program_options::options_description& desc,
                 const boost::program_options::positional_options_description& positional,
                 std::string_view verb, boost::program_options::variables_map& vm);

// Adds --profile, --instances, --ports-base, --bind, --data-dir, --run-dir, --log-level,
// --log-format, --plugin-dir and --set (repeatable key.path=value).
void add_profile_options(boost::program_options::options_description& desc);

struct ProfileOptions {
  std::string profile;                             // --profile / NODUS_PROFILE
  std::vector<kernel::ConfigOverride> overrides;   // env first, then flags
  std::vector<std::filesystem::path> plugin_dirs;  // --plugin-dir, then NODUS_PLUGIN_DIR
};

// Reads the NODUS_* environment and the parsed flags. Fails on a malformed --set.
Result<ProfileOptions> profile_options(const boost::program_options::variables_map& flags);

// Loads the profile with every override applied.
Result<kernel::Profile> load_profile(const ProfileOptions& options);

// The profile options of a verb's flags and the profile they select.
struct SelectedProfile {
  ProfileOptions options;
  kernel::Profile profile;
};

// profile_options() then load_profile(). On error prints the first one as one line on stderr
// (FILE:LINE:COL: key.path: message, unprefixed) and returns nullopt: exit with kExitBadInput.
std::optional<SelectedProfile> select_profile(const boost::program_options::variables_map& flags);

}  // namespace nodus::cli
