// config/profile.h: the profile schema, i.e. the kernel's own keys in a profile file.
//
// A profile names the cluster, its size, ports, directories, logging, supervisor policy and
// the plugins each instance composes. The kernel validates its own keys here; each plugin's
// `config:` section is checked later against that plugin's descriptor. configs/README.md
// documents every key. Errors are INVALID_ARGUMENT `FILE:LINE:COL: key.path: message` and the
// first one wins.
//
//   NODUS_ASSIGN_OR_RETURN(Profile p, load_profile("configs/aurigraph.yaml",
//                                                   overrides_from_env(&std::getenv)));
//   uint16_t api = p.ports_for(2).at("api");  // 9023
//   std::string peer = nodus::format_host_port(p.address_of(2), p.ports_for(2).at("peer"));
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/config/overrides.h"
#include "nodus/config.h"
#include "nodus/services/logger.h"
#include "nodus/status.h"

namespace nodus::kernel {

// Instance i's port named N is base + i * stride + offsets[N].
struct PortLayout {
  uint16_t base = 9003;
  uint16_t stride = 10;
  std::map<std::string, uint16_t> offsets = {
      {"api", 0}, {"peer", 1}, {"health", 2}, {"metrics", 3}};
};

struct LogOptions {
  nodus::LogLevel level = nodus::LogLevel::kInfo;
  bool json = false;  // `log.format: json`
};

// `tls:` mutual TLS between instances (kernel/transport/tls_credentials.h). Off when ca_file
// is empty; relative paths are resolved against the profile file's directory.
struct TlsOptions {
  std::filesystem::path ca_file;
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
  bool require_client_cert = true;
  bool enabled() const { return !ca_file.empty(); }
};

// One entry of `hosts:`: a machine (or network namespace) that runs some of the instances.
struct HostEntry {
  std::string name;        // [a-z0-9-]+, unique; what `nodus up --host` names
  std::string address;     // IP literal that the host's instances bind and peers dial
  nodus::ConfigNode node;  // the entry, for error positions (null for the implicit host)
};

struct PluginEntry {
  std::string name;          // reverse-DNS plugin name
  std::string file;          // optional: a file name inside a plugin directory
  std::string sha256;        // optional: lowercase hex digest the file must have
  nodus::ConfigNode config;  // the `config:` node (null when absent)
  nodus::ConfigNode node;    // the whole entry, for error positions
};

struct Profile {
  std::filesystem::path source;  // the profile file
  std::string name;              // `profile:`, [a-z0-9-]+
  std::string description;
  uint32_t instances = 1;               // 1..64
  std::string bind_host = "127.0.0.1";  // `bind:`
  PortLayout ports;
  // `hosts:`; when the profile has none, one implicit host named "local" at bind_host.
  std::vector<HostEntry> hosts;
  // `placement:` host index of each instance; empty = instance i on host i % hosts.size().
  std::vector<uint32_t> placement;
  std::filesystem::path data_dir;  // default .nodus/<name>/data (relative to the CWD)
  std::filesystem::path run_dir;   // default .nodus/<name>/run
  // Relative entries are resolved against the profile file's directory; empty = kernel default.
  std::vector<std::filesystem::path> plugin_dirs;
  LogOptions log;
  TlsOptions tls;
  // Structure checked here, interpreted by the supervisor (null when absent).
  nodus::ConfigNode supervisor;
  std::vector<PluginEntry> plugins;
  nodus::ConfigNode root;  // the effective tree after overrides

  // Named ports of instance `index` (which must be < instances): base + k * stride + offset,
  // where k counts the instances before `index` on the same host, so every host uses the same
  // ports when each runs one instance, and one host strides them as before.
  std::map<std::string, uint16_t> ports_for(uint32_t index) const;
  // The host that runs instance `index`, and the address its ports listen on and peers dial.
  const HostEntry& host_of(uint32_t index) const;
  const std::string& address_of(uint32_t index) const { return host_of(index).address; }
  // Indices of the instances placed on the host named `host_name` (empty for an unknown name).
  std::vector<uint32_t> instances_on(std::string_view host_name) const;
  // True when the profile lists `hosts:` (instances may live on other machines).
  bool multi_host() const { return !hosts.empty() && !hosts.front().node.is_null(); }
};

// Reads `file`, applies `overrides` in order, validates, and returns the profile.
nodus::Result<Profile> load_profile(const std::filesystem::path& file,
                                    const std::vector<ConfigOverride>& overrides = {});

// As load_profile, for a tree already parsed; `source` is used to resolve plugin_dirs.
nodus::Result<Profile> parse_profile(const nodus::ConfigNode& root,
                                     const std::filesystem::path& source,
                                     const std::vector<ConfigOverride>& overrides = {});

}  // namespace nodus::kernel
