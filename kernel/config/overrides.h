// config/overrides.h: environment and command-line overrides of profile keys.
//
// Precedence is built-in defaults < profile file < NODUS_* environment < command line. The
// caller collects overrides in that order (environment first, then flags); apply_overrides
// applies them in order, so later ones win. An overridden value is positioned at its source
// (line 0), so errors read "NODUS_PORTS_BASE: ports.base: must be between 1 and 65535, ...".
//
//   std::vector<ConfigOverride> o = overrides_from_env(&std::getenv);
//   NODUS_ASSIGN_OR_RETURN(ConfigOverride flag, parse_set_flag("log.level=debug"));
//   o.push_back(flag);
//   NODUS_ASSIGN_OR_RETURN(nodus::ConfigNode effective, apply_overrides(root, o));
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nodus/config.h"
#include "nodus/status.h"

namespace nodus::kernel {

struct ConfigOverride {
  // Dotted key path: "ports.base", "supervisor.backoff_ms.max", or a plugin's config by
  // plugin name: "plugins.io.nodus.diag.peerping.config.interval_ms".
  std::string path;
  // YAML text, parsed as a YAML document: "9100", "debug", "[a, b]", "{x: 1}".
  std::string value;
  // Where the value came from, used as the position in errors: "NODUS_PORTS_BASE", "--set".
  std::string source;
};

// An environment variable that overrides a kernel key.
struct EnvBinding {
  std::string_view variable;
  std::string_view path;
};

// The NODUS_* variables the kernel reads, in the order they are applied. NODUS_PLUGIN_DIRS is
// a ':'-separated list of directories; every other value is YAML text.
std::span<const EnvBinding> env_bindings();

// Overrides for every bound variable that is set and non-empty. `lookup` is getenv-like.
std::vector<ConfigOverride> overrides_from_env(
    const std::function<const char*(const char*)>& lookup);

// Parses a `--set PATH=VALUE` argument (source "--set").
nodus::Result<ConfigOverride> parse_set_flag(std::string_view argument);

// Applies `overrides` to `root` in order; parents that do not exist become maps.
nodus::Result<nodus::ConfigNode> apply_overrides(const nodus::ConfigNode& root,
                                                 const std::vector<ConfigOverride>& overrides);

}  // namespace nodus::kernel
