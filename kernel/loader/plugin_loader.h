// loader/plugin_loader.h: opening plugin shared objects and checking them before use.
//
// The loader fails closed. For each file it checks, in order: the file is inside a configured
// plugin directory; it opens without following a symbolic link, is a regular file owned by
// root or by us and is not group- or world-writable; its SHA-256, read from that same open
// descriptor, matches the profile's pin (when pinned); it is an ELF shared object. Only then
// does any of its code run: the very file that was checked is loaded (dlopen of
// /proc/self/fd/N, so a file swapped in at the path afterwards is never loaded), it must
// export the nodus entry point, the plain-C ABI header must match this kernel (magic, ABI
// version, fingerprint), and the descriptor must be well formed (reverse-DNS name, semantic
// version, a factory...). Every error is one line that names the file.
//
// Finding a plugin by name means reading the descriptors of every file in the plugin
// directories. That happens in a short-lived child process (probe()), so the constructors of
// files the profile did not pick never run in the kernel's process, and a plugin that crashes
// or hangs while loading fails only the child.
//
//   PluginLoader loader({"/usr/lib/nodus/plugins"});
//   auto plugins = loader.resolve({{.name = "io.nodus.diag.peerping"}});
//   auto order = order_by_dependencies(*plugins);
#pragma once

#include <filesystem>
#include <functional>
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

// A file whose descriptor a probe child read: what it calls itself.
struct ProbedPlugin {
  std::filesystem::path file;
  std::string name;
};

struct ProbeResult {
  std::vector<ProbedPlugin> plugins;  // in directory order, files sorted
  std::vector<ScanProblem> problems;
};

class PluginLoader {
 public:
  // `plugin_dirs` in search order; a directory given twice keeps its first place.
  explicit PluginLoader(const std::vector<std::filesystem::path>& plugin_dirs);

  const std::vector<std::filesystem::path>& plugin_dirs() const { return dirs_; }

  // Opens one file that must lie inside a plugin directory. With `sha256` (lowercase hex) the
  // file's contents must match it before any of its code runs.
  Result<LoadedPlugin> open(const std::filesystem::path& file, std::string_view sha256 = {}) const;
  // Opens any file (for `nodus plugins inspect FILE`); the same checks except the directory.
  static Result<LoadedPlugin> open_any(const std::filesystem::path& file,
                                       std::string_view sha256 = {});

  // Opens every *.so in the plugin directories in this process (for `nodus plugins list`).
  // Files that fail are reported, not fatal.
  ScanResult scan() const;

  // Reads the name of every *.so in the plugin directories in a short-lived child process;
  // nothing of those files runs in this one. A file that crashes the child, or keeps it busy
  // past a bound, is reported as a problem and the probe goes on with the next file.
  ProbeResult probe() const;

  // Resolves requests in order; only the chosen files are loaded here. Directories are
  // searched in the order given: the first directory holding a name (or a `file`) wins, and
  // the same name in a later directory is shadowed. Fails on: a name not found, a name found
  // in two files of the winning directory, a file outside the plugin directories, a SHA-256
  // mismatch, or any check of open().
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

// Test seam: called with the plugin file after its pin was checked and before the library is
// loaded, the moment at which swapping the file must not change what gets loaded. Pass
// nullptr to remove it. Not thread-safe; tests only.
void set_pin_check_hook_for_test(std::function<void(const std::filesystem::path&)> hook);

// Checks a descriptor's own fields. Exposed for tests and for kernel/harness.
Status validate_descriptor(const PluginDescriptor& d);

// True for "1.2.3", "1.0.0-rc.1", "2.0.0+build.5".
bool is_semver(std::string_view version);
// True for at least three dot-separated labels of [a-z0-9-], e.g. "io.nodus.consensus.raft".
bool is_reverse_dns_name(std::string_view name);

}  // namespace nodus::kernel
