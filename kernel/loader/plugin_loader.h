// loader/plugin_loader.h: opening plugin shared objects and checking them before use.
//
// The loader fails closed. For each file it checks, in order: the file is inside a configured
// plugin directory, it is a loadable shared object, it exports the nodus entry point, the
// plain-C ABI header matches this kernel (magic, ABI version, fingerprint), and the
// descriptor is well formed (reverse-DNS name, semantic version, a factory...). Only then is
// the descriptor handed out. Every error is one line that names the file.
//
//   PluginLoader loader({"/usr/lib/nodus/plugins"});
//   auto plugins = loader.resolve({{.name = "io.nodus.diag.peerping"}});
//   auto order = order_by_dependencies(*plugins);
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/dll/shared_library.hpp>

#include "nodus/plugin.h"
#include "nodus/status.h"

namespace nodus::kernel {

// An opened, checked plugin. The library stays loaded while any copy of `library` lives;
// objects a plugin creates must be destroyed before the last copy goes.
struct LoadedPlugin {
  std::filesystem::path file;
  std::shared_ptr<boost::dll::shared_library> library;
  const PluginDescriptor* descriptor = nullptr;

  const std::string& name() const { return descriptor->name; }
};

// What a profile asks for: by name (searched in the plugin directories) or by file name
// inside a plugin directory, optionally pinned to a SHA-256.
struct PluginRequest {
  std::string name;
  std::string file;    // optional
  std::string sha256;  // optional, lowercase hex
};

// One file that was found in a plugin directory but could not be used.
struct ScanProblem {
  std::filesystem::path file;
  Status status;
};

struct ScanResult {
  std::vector<LoadedPlugin> plugins;  // sorted by name, then file
  std::vector<ScanProblem> problems;
};

class PluginLoader {
 public:
  explicit PluginLoader(std::vector<std::filesystem::path> plugin_dirs);

  const std::vector<std::filesystem::path>& plugin_dirs() const { return dirs_; }

  // Opens one file that must lie inside a plugin directory.
  Result<LoadedPlugin> open(const std::filesystem::path& file) const;
  // Opens any file (for `nodus plugins inspect FILE`); the same checks except the directory.
  static Result<LoadedPlugin> open_any(const std::filesystem::path& file);

  // Opens every *.so in the plugin directories. Files that fail are reported, not fatal.
  ScanResult scan() const;

  // Resolves requests in order. Fails on: a name not found, a name found in two files, a
  // file outside the plugin directories, a SHA-256 mismatch, or any check of open().
  Result<std::vector<LoadedPlugin>> resolve(const std::vector<PluginRequest>& requests) const;

  // The kernel's default plugin directory: <prefix>/lib/nodus/plugins next to the running
  // executable (bin/../lib/nodus/plugins), in the build tree and the install tree alike.
  static std::filesystem::path default_plugin_dir();

 private:
  bool inside_plugin_dir(const std::filesystem::path& canonical_file) const;

  std::vector<std::filesystem::path> dirs_;  // canonical
};

// Orders plugins so that every plugin comes after the providers of what it needs or uses;
// ties keep the given order. Returns indexes into `plugins`. Fails, naming the files, on a
// required capability nobody provides, a capability provided twice, or a dependency cycle.
Result<std::vector<size_t>> order_by_dependencies(const std::vector<LoadedPlugin>& plugins);

// Checks a descriptor's own fields. Exposed for tests and for sdk/testing.
Status validate_descriptor(const PluginDescriptor& d);

// True for "1.2.3", "1.0.0-rc.1", "2.0.0+build.5".
bool is_semver(std::string_view version);
// True for at least three dot-separated labels of [a-z0-9-], e.g. "io.nodus.consensus.raft".
bool is_reverse_dns_name(std::string_view name);

}  // namespace nodus::kernel
