// cli/commands.h: the verbs of the `nodus` executable. Each takes the arguments after the
// verb and returns the process exit code (see cli/options.h).
#pragma once

#include <string>
#include <vector>

namespace nodus::cli {

int run_node(const std::vector<std::string>& args);
int run_plugins(const std::vector<std::string>& args);
int run_config(const std::vector<std::string>& args);
int run_up(const std::vector<std::string>& args);
int run_status(const std::vector<std::string>& args);
int run_health(const std::vector<std::string>& args);
int run_scale(const std::vector<std::string>& args);
int run_restart(const std::vector<std::string>& args);
// A plugin command of the running cluster (any verb that is not built in).
int run_plugin_command(const std::string& command, const std::vector<std::string>& args);
// `nodus help [COMMAND]`: `usage` (the built-in verbs), then the cluster's plugin commands.
int run_help(const std::vector<std::string>& args, const char* usage);
int run_down(const std::vector<std::string>& args);
int run_cleanup(const std::vector<std::string>& args);
int run_certs(const std::vector<std::string>& args);

}  // namespace nodus::cli
