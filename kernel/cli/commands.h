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
int run_failover(const std::vector<std::string>& args);
int run_down(const std::vector<std::string>& args);
int run_cleanup(const std::vector<std::string>& args);
int run_certs(const std::vector<std::string>& args);

}  // namespace nodus::cli
