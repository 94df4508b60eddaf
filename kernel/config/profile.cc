#include "kernel/config/profile.h"

#include <utility>

#include "kernel/config/profile_sections.h"
#include "kernel/config/yaml_loader.h"
#include "nodus/check.h"

namespace nodus::kernel {
namespace {

using nodus::ConfigNode;
using nodus::ConfigType;

// The kernel's top-level keys. Types are checked here; values by the section parsers.
const std::vector<nodus::ConfigKeySpec>& top_level_keys() {
  static const std::vector<nodus::ConfigKeySpec> kKeys = {
      internal::key_spec("profile", ConfigType::kString, /*required=*/true),
      internal::key_spec("description", ConfigType::kString),
      internal::key_spec("instances", ConfigType::kInteger),
      internal::key_spec("bind", ConfigType::kString),
      internal::key_spec("ports", ConfigType::kMap),
      internal::key_spec("hosts", ConfigType::kList),
      internal::key_spec("placement", ConfigType::kList),
      internal::key_spec("data_dir", ConfigType::kString),
      internal::key_spec("run_dir", ConfigType::kString),
      internal::key_spec("plugin_dirs", ConfigType::kList),
      internal::key_spec("log", ConfigType::kMap),
      internal::key_spec("supervisor", ConfigType::kMap),
      internal::key_spec("tls", ConfigType::kMap),
      internal::key_spec("plugins", ConfigType::kList),
  };
  return kKeys;
}

nodus::Status parse_dir(const ConfigNode& node, std::filesystem::path* out) {
  NODUS_ASSIGN_OR_RETURN(std::string dir, node.as_string());
  if (dir.empty()) return node.error("must not be empty");
  *out = dir;
  return {};
}

nodus::Status parse_plugin_dirs(const ConfigNode& node, const std::filesystem::path& source,
                                std::vector<std::filesystem::path>* out) {
  std::vector<std::filesystem::path> dirs;
  for (const ConfigNode& item : node.items()) {
    std::filesystem::path dir;
    NODUS_RETURN_IF_ERROR(parse_dir(item, &dir));
    // Relative plugin directories belong to the profile, not to wherever nodus was started.
    dirs.push_back(dir.is_relative() ? (source.parent_path() / dir).lexically_normal() : dir);
  }
  *out = std::move(dirs);
  return {};
}

// Validates and reads one top-level key of an already type-checked root.
nodus::Status parse_top_level(const std::string& key, const ConfigNode& value, Profile* p) {
  if (value.is_null()) return {};  // absent and null both mean "the default"
  if (key == "profile") return internal::parse_profile_name(value, &p->name);
  if (key == "description") {
    p->description = value.scalar();
    return {};
  }
  if (key == "instances") {
    NODUS_ASSIGN_OR_RETURN(int64_t n, internal::int_in_range(value, 1, 64));
    p->instances = static_cast<uint32_t>(n);
    return {};
  }
  if (key == "bind") return internal::parse_bind(value, &p->bind_host);
  if (key == "ports") return internal::parse_ports(value, &p->ports);
  if (key == "hosts") return internal::parse_hosts(value, &p->hosts);
  if (key == "placement") return {};  // needs hosts and instances: read after the loop
  if (key == "data_dir") return parse_dir(value, &p->data_dir);
  if (key == "run_dir") return parse_dir(value, &p->run_dir);
  if (key == "plugin_dirs") return parse_plugin_dirs(value, p->source, &p->plugin_dirs);
  if (key == "log") return internal::parse_log(value, &p->log);
  if (key == "supervisor") {
    p->supervisor = value;
    return internal::check_supervisor(value);
  }
  if (key == "tls") return internal::parse_tls(value, p->source, &p->tls);
  if (key == "plugins") return internal::parse_plugins(value, &p->plugins);
  return value.error("internal: unhandled key");  // top_level_keys() and this list disagree
}

}  // namespace

std::map<std::string, uint16_t> Profile::ports_for(uint32_t index) const {
  NODUS_CHECK_LT(index, instances)
      << "validation guarantees that only ports of instances [0, instances) fit in 16 bits";
  const uint32_t slot = internal::slot_on_host(*this, index);
  std::map<std::string, uint16_t> out;
  for (const auto& [port, offset] : ports.offsets) {
    out[port] = static_cast<uint16_t>(ports.base + slot * ports.stride + offset);
  }
  return out;
}

const HostEntry& Profile::host_of(uint32_t index) const {
  NODUS_CHECK(!hosts.empty()) << "parse_profile always leaves at least the implicit host";
  const uint32_t host = internal::host_index(*this, index);
  NODUS_CHECK_LT(host, hosts.size()) << "validation checks that placement names known hosts";
  return hosts[host];
}

std::vector<uint32_t> Profile::instances_on(std::string_view host_name) const {
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < instances; ++i) {
    if (host_of(i).name == host_name) out.push_back(i);
  }
  return out;
}

nodus::Result<Profile> load_profile(const std::filesystem::path& file,
                                    const std::vector<ConfigOverride>& overrides) {
  NODUS_ASSIGN_OR_RETURN(ConfigNode root, load_yaml_file(file));
  return parse_profile(root, file, overrides);
}

nodus::Result<Profile> parse_profile(const nodus::ConfigNode& root,
                                     const std::filesystem::path& source,
                                     const std::vector<ConfigOverride>& overrides) {
  Profile p;
  p.source = source;
  NODUS_ASSIGN_OR_RETURN(p.root, apply_overrides(root, overrides));
  NODUS_RETURN_IF_ERROR(nodus::validate_config(p.root, top_level_keys()));
  for (const auto& [key, value] : p.root.entries()) {
    NODUS_RETURN_IF_ERROR(parse_top_level(key, value, &p));
  }
  if (p.hosts.empty()) {
    p.hosts.push_back({"local", p.bind_host, nodus::ConfigNode()});
  } else if (const ConfigNode& bind = p.root.at("bind"); !bind.is_null()) {
    return bind.error("cannot be combined with 'hosts:'; each instance binds its host's address");
  }
  NODUS_RETURN_IF_ERROR(internal::parse_placement(p.root, &p));
  NODUS_RETURN_IF_ERROR(internal::check_port_range(p.root, p));
  NODUS_RETURN_IF_ERROR(internal::check_unique_endpoints(p));
  if (p.supervisor.is_null()) p.supervisor = p.root.at("supervisor");
  const std::filesystem::path state = std::filesystem::path(".nodus") / p.name;
  if (p.data_dir.empty()) p.data_dir = state / "data";
  if (p.run_dir.empty()) p.run_dir = state / "run";
  return p;
}

}  // namespace nodus::kernel
