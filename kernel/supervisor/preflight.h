// supervisor/preflight.h: checks made before any instance process starts, so that bad input
// is one clear error and leaves nothing running.
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "kernel/config/profile.h"
#include "kernel/runtime/file_util.h"
#include "nodus/status.h"

namespace nodus::kernel {

// The composition and plugin configuration of instances [first, last), as `nodus config
// validate` checks them (kernel/node/node.h check_instance, with `plugin_dirs` searched before
// the profile's): the first error, `FILE:LINE:COL: key.path: message`.
Status check_plugin_configs(const Profile& profile, uint32_t first, uint32_t last,
                            const std::vector<std::filesystem::path>& plugin_dirs);

// Every port of instances [first, last) can be bound on the profile's bind address.
// "port 20012 (instance 1 health) on 127.0.0.1 is already in use".
Status check_ports_free(const Profile& profile, uint32_t first, uint32_t last);

// Hosts (profile `hosts:`): the names of the hosts whose instances this supervisor runs.
// `host` names one (`nodus up --host NAME`; NOT_FOUND for a name the profile lacks); empty
// picks every host whose address can be bound on this machine, and FAILED_PRECONDITION when
// none can. A profile without `hosts:` runs everything here.
Result<std::set<std::string>> local_hosts(const Profile& profile, const std::string& host);

// Every data directory of instances [first, last) exists (or can be made) and takes a file.
Status check_data_dirs(const Profile& profile, uint32_t first, uint32_t last);

// Creates the run directory and takes its lock (run_dir/supervisor.lock, flock), writing our
// pid into it. FAILED_PRECONDITION when another supervisor holds it.
Result<UniqueFd> lock_run_dir(const std::filesystem::path& run_dir);

// The pid of the supervisor holding the run directory's lock, or 0 when none does.
pid_t running_supervisor(const std::filesystem::path& run_dir);

}  // namespace nodus::kernel
