#include "kernel/config/profile_sections.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "nodus/address.h"
#include "nodus/check.h"

namespace nodus::kernel::internal {
namespace {

using nodus::ConfigKeySpec;
using nodus::ConfigNode;
using nodus::ConfigType;

constexpr int64_t kMaxPort = 65535;

bool is_label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// At least three non-empty dot-separated labels of [a-z0-9-].
bool is_reverse_dns(std::string_view name) {
  int labels = 0;
  size_t start = 0;
  while (true) {
    const size_t dot = name.find('.', start);
    const std::string_view label = name.substr(start, dot - start);
    if (label.empty() || !std::all_of(label.begin(), label.end(), is_label_char)) return false;
    ++labels;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return labels >= 3;
}

// One of `choices`, or an error listing them.
nodus::Result<std::string> one_of(const ConfigNode& node,
                                  std::initializer_list<std::string_view> choices) {
  NODUS_ASSIGN_OR_RETURN(std::string value, node.as_string());
  std::string list;
  for (std::string_view c : choices) {
    if (value == c) return value;
    list += (list.empty() ? "" : ", ") + std::string(c);
  }
  return node.error("must be one of " + list + ", got '" + value + "'");
}

}  // namespace

nodus::ConfigKeySpec key_spec(std::string name, nodus::ConfigType type, bool required) {
  nodus::ConfigKeySpec spec;
  spec.name = std::move(name);
  spec.type = type;
  spec.required = required;
  return spec;
}

nodus::Result<int64_t> int_in_range(const ConfigNode& node, int64_t min, int64_t max) {
  NODUS_ASSIGN_OR_RETURN(int64_t value, node.as_int());
  if (value < min || value > max) {
    return node.error("must be between " + std::to_string(min) + " and " + std::to_string(max) +
                      ", got " + std::to_string(value));
  }
  return value;
}

nodus::Status parse_profile_name(const ConfigNode& node, std::string* out) {
  NODUS_ASSIGN_OR_RETURN(std::string name, node.as_string());
  const bool ok = !name.empty() && name.size() <= 63 && name.front() != '-' &&
                  std::all_of(name.begin(), name.end(), is_label_char);
  if (!ok) {
    return node.error("must be 1-63 characters of [a-z0-9-], not starting with '-', got '" + name +
                      "'");
  }
  *out = std::move(name);
  return {};
}

nodus::Status parse_bind(const ConfigNode& node, std::string* out) {
  NODUS_ASSIGN_OR_RETURN(std::string host, node.as_string());
  std::array<unsigned char, 16> buffer{};
  if (host != "localhost" && inet_pton(AF_INET, host.c_str(), buffer.data()) != 1 &&
      inet_pton(AF_INET6, host.c_str(), buffer.data()) != 1) {
    return node.error("must be an IPv4 or IPv6 address or 'localhost', got '" + host + "'");
  }
  *out = std::move(host);
  return {};
}

nodus::Status parse_ports(const ConfigNode& node, PortLayout* out) {
  NODUS_RETURN_IF_ERROR(nodus::validate_config(
      node, {key_spec("base", ConfigType::kInteger), key_spec("stride", ConfigType::kInteger),
             key_spec("offsets", ConfigType::kMap)}));
  PortLayout layout;
  if (const ConfigNode* base = node.find("base"); base != nullptr && !base->is_null()) {
    NODUS_ASSIGN_OR_RETURN(int64_t v, int_in_range(*base, 1, kMaxPort));
    layout.base = static_cast<uint16_t>(v);
  }
  const ConfigNode* stride = node.find("stride");
  if (stride != nullptr && !stride->is_null()) {
    NODUS_ASSIGN_OR_RETURN(int64_t v, int_in_range(*stride, 1, kMaxPort));
    layout.stride = static_cast<uint16_t>(v);
  }
  const ConfigNode* offsets = node.find("offsets");
  if (offsets != nullptr && !offsets->is_null()) {
    if (offsets->entries().empty()) return offsets->error("must name at least one port");
    layout.offsets.clear();
    std::map<int64_t, std::string> used;
    for (const auto& [port_name, value] : offsets->entries()) {
      const bool name_ok = !port_name.empty() && port_name.front() >= 'a' &&
                           port_name.front() <= 'z' &&
                           std::all_of(port_name.begin(), port_name.end(),
                                       [](char c) { return is_label_char(c) || c == '_'; });
      if (!name_ok) {
        return value.error("port names must match [a-z][a-z0-9_-]*, got '" + port_name + "'");
      }
      NODUS_ASSIGN_OR_RETURN(int64_t offset, int_in_range(value, 0, kMaxPort));
      if (offset >= layout.stride) {
        return value.error("offset " + std::to_string(offset) + " must be less than the stride (" +
                           std::to_string(layout.stride) + ")");
      }
      if (auto it = used.find(offset); it != used.end()) {
        return value.error("offset " + std::to_string(offset) + " is already used by port '" +
                           it->second + "'");
      }
      used.emplace(offset, port_name);
      layout.offsets[port_name] = static_cast<uint16_t>(offset);
    }
  } else {
    // The default offsets still have to fit in the stride.
    for (const auto& [port_name, offset] : layout.offsets) {
      if (offset >= layout.stride) {
        const ConfigNode& at = stride != nullptr ? *stride : node;
        return at.error("stride " + std::to_string(layout.stride) +
                        " is too small for the default ports (api, peer, health, metrics need "
                        "4); raise it or set ports.offsets");
      }
    }
  }
  *out = std::move(layout);
  return {};
}

nodus::Status parse_hosts(const ConfigNode& node, std::vector<HostEntry>* out) {
  if (node.items().empty()) return node.error("must list at least one host");
  std::vector<HostEntry> hosts;
  const std::vector<ConfigKeySpec> keys = {key_spec("name", ConfigType::kString, true),
                                           key_spec("address", ConfigType::kString, true)};
  for (const ConfigNode& item : node.items()) {
    if (!item.is_map()) return item.error("expected a map with 'name' and 'address'");
    NODUS_RETURN_IF_ERROR(nodus::validate_config(item, keys));
    HostEntry host;
    const ConfigNode& name = item.at("name");
    NODUS_RETURN_IF_ERROR(parse_profile_name(name, &host.name));
    for (const HostEntry& earlier : hosts) {
      if (earlier.name == host.name) {
        return name.error("duplicate host '" + host.name + "' (already listed at line " +
                          std::to_string(earlier.node.mark().line) + ")");
      }
    }
    const ConfigNode& address = item.at("address");
    NODUS_ASSIGN_OR_RETURN(host.address, address.as_string());
    unsigned char buffer[16];
    if (inet_pton(AF_INET, host.address.c_str(), buffer) != 1 &&
        inet_pton(AF_INET6, host.address.c_str(), buffer) != 1) {
      // Peers dial this address from other machines: a name would need a resolver, and
      // "localhost" would point every peer at itself.
      return address.error("must be an IPv4 or IPv6 address, got '" + host.address + "'");
    }
    host.node = item;
    hosts.push_back(std::move(host));
  }
  *out = std::move(hosts);
  return {};
}

nodus::Status parse_placement(const ConfigNode& root, Profile* profile) {
  const ConfigNode& node = root.at("placement");
  if (node.is_null()) return {};
  if (!profile->multi_host()) return node.error("needs a 'hosts:' list to place instances on");
  std::vector<uint32_t> placement;
  for (const ConfigNode& item : node.items()) {
    NODUS_ASSIGN_OR_RETURN(std::string name, item.as_string());
    const auto& hosts = profile->hosts;
    auto it = std::find_if(hosts.begin(), hosts.end(),
                           [&](const HostEntry& h) { return h.name == name; });
    if (it == hosts.end()) {
      std::string known;
      for (const HostEntry& h : hosts)
        known += (known.empty() ? "" : ", ") + h.name;
      return item.error("unknown host '" + name + "' (hosts: " + known + ")");
    }
    placement.push_back(static_cast<uint32_t>(it - hosts.begin()));
  }
  if (placement.size() < profile->instances) {
    return node.error("instance " + std::to_string(placement.size()) +
                      " is on no host: placement lists " + std::to_string(placement.size()) +
                      " of " + std::to_string(profile->instances) + " instances");
  }
  if (placement.size() > profile->instances) {
    return node.items()[profile->instances].error(
        "placement lists " + std::to_string(placement.size()) + " instances, the profile has " +
        std::to_string(profile->instances));
  }
  profile->placement = std::move(placement);
  return {};
}

uint32_t host_index(const Profile& profile, uint32_t index) {
  if (!profile.placement.empty()) {
    NODUS_CHECK_LT(index, profile.placement.size())
        << "validation makes placement list every instance";
    return profile.placement[index];
  }
  return index % static_cast<uint32_t>(profile.hosts.size());
}

uint32_t slot_on_host(const Profile& profile, uint32_t index) {
  if (profile.placement.empty()) return index / static_cast<uint32_t>(profile.hosts.size());
  const uint32_t host = host_index(profile, index);
  return static_cast<uint32_t>(
      std::count(profile.placement.begin(), profile.placement.begin() + index, host));
}

nodus::Status check_port_range(const ConfigNode& root, const Profile& profile) {
  const PortLayout& ports = profile.ports;
  std::string top_name;
  uint16_t top_offset = 0;
  for (const auto& [name, offset] : ports.offsets) {
    if (top_name.empty() || offset > top_offset) {
      top_name = name;
      top_offset = offset;
    }
  }
  uint32_t top_instance = 0;
  uint32_t top_slot = 0;
  for (uint32_t i = 0; i < profile.instances; ++i) {
    const uint32_t slot = slot_on_host(profile, i);
    if (slot >= top_slot) {
      top_slot = slot;
      top_instance = i;
    }
  }
  const int64_t highest =
      int64_t{ports.base} + int64_t{top_slot} * ports.stride + int64_t{top_offset};
  if (highest <= kMaxPort) return {};
  // Point at the base port when the profile sets it, as that is the usual thing to change.
  const ConfigNode* at = &root;
  if (const ConfigNode* p = root.find("ports"); p != nullptr) {
    at = p->find("base") != nullptr ? p->find("base") : p;
  } else if (const ConfigNode* n = root.find("instances"); n != nullptr) {
    at = n;
  }
  return at->error("with " + std::to_string(profile.instances) + " instances the highest port is " +
                   std::to_string(highest) + " (instance " + std::to_string(top_instance) +
                   ", port '" + top_name + "'), above 65535");
}

nodus::Status check_unique_endpoints(const Profile& profile) {
  if (!profile.multi_host()) return {};  // one host: offsets below the stride keep ports apart
  std::map<std::pair<std::string, uint16_t>, std::pair<uint32_t, std::string>> used;
  for (uint32_t i = 0; i < profile.instances; ++i) {
    const HostEntry& host = profile.host_of(i);
    for (const auto& [name, port] : profile.ports_for(i)) {
      auto [it, fresh] = used.try_emplace({host.address, port}, i, name);
      if (fresh) continue;
      return host.node.at("address").error(
          "address " + format_host_port(host.address, port) + " (instance " + std::to_string(i) +
          " port '" + name + "') is already used by instance " + std::to_string(it->second.first) +
          " port '" + it->second.second + "' of host '" + profile.host_of(it->second.first).name +
          "'");
    }
  }
  return {};
}

nodus::Status parse_log(const ConfigNode& node, LogOptions* out) {
  NODUS_RETURN_IF_ERROR(nodus::validate_config(
      node, {key_spec("level", ConfigType::kString), key_spec("format", ConfigType::kString)}));
  LogOptions log;
  if (const ConfigNode* level = node.find("level"); level != nullptr && !level->is_null()) {
    NODUS_ASSIGN_OR_RETURN(std::string v, one_of(*level, {"debug", "info", "warn", "error"}));
    log.level = v == "debug"  ? nodus::LogLevel::kDebug
                : v == "info" ? nodus::LogLevel::kInfo
                : v == "warn" ? nodus::LogLevel::kWarn
                              : nodus::LogLevel::kError;
  }
  if (const ConfigNode* format = node.find("format"); format != nullptr && !format->is_null()) {
    NODUS_ASSIGN_OR_RETURN(std::string v, one_of(*format, {"text", "json"}));
    log.json = v == "json";
  }
  *out = log;
  return {};
}

nodus::Status parse_tls(const ConfigNode& node, const std::filesystem::path& source,
                        TlsOptions* out) {
  NODUS_RETURN_IF_ERROR(
      nodus::validate_config(node, {key_spec("ca_file", ConfigType::kString, true),
                                    key_spec("cert_file", ConfigType::kString, true),
                                    key_spec("key_file", ConfigType::kString, true),
                                    key_spec("require_client_cert", ConfigType::kBoolean)}));
  TlsOptions tls;
  const std::array<std::filesystem::path*, 3> files = {&tls.ca_file, &tls.cert_file, &tls.key_file};
  const std::array<const char*, 3> keys = {"ca_file", "cert_file", "key_file"};
  for (size_t i = 0; i < keys.size(); ++i) {
    const ConfigNode& v = node.at(keys[i]);
    NODUS_ASSIGN_OR_RETURN(std::string file, v.as_string());
    if (file.empty()) return v.error("must not be empty");
    const std::filesystem::path p = file;
    *files[i] = p.is_relative() ? (source.parent_path() / p).lexically_normal() : p;
  }
  NODUS_ASSIGN_OR_RETURN(tls.require_client_cert, node.get_bool("require_client_cert", true));
  *out = std::move(tls);
  return {};
}

nodus::Status check_supervisor(const ConfigNode& node) {
  NODUS_RETURN_IF_ERROR(nodus::validate_config(
      node, {key_spec("restart", ConfigType::kString), key_spec("backoff_ms", ConfigType::kMap),
             key_spec("stop_timeout_ms", ConfigType::kInteger),
             key_spec("heartbeat_ms", ConfigType::kInteger),
             key_spec("heartbeat_timeout_ms", ConfigType::kInteger),
             key_spec("hang_timeout_ms", ConfigType::kInteger),
             key_spec("crash_loop", ConfigType::kMap), key_spec("essential", ConfigType::kBoolean),
             key_spec("metrics_port", ConfigType::kInteger)}));
  constexpr int64_t kHourMs = 3'600'000;
  for (const auto& [key, value] : node.entries()) {
    if (value.is_null()) continue;
    if (key == "restart") {
      NODUS_RETURN_IF_ERROR(one_of(value, {"always", "on-failure", "never"}).status());
    } else if (key == "stop_timeout_ms") {
      NODUS_RETURN_IF_ERROR(int_in_range(value, 1, 600'000).status());
    } else if (key == "heartbeat_ms") {
      NODUS_RETURN_IF_ERROR(int_in_range(value, 10, 60'000).status());
    } else if (key == "heartbeat_timeout_ms") {
      NODUS_RETURN_IF_ERROR(int_in_range(value, 20, kHourMs).status());
    } else if (key == "hang_timeout_ms") {
      NODUS_RETURN_IF_ERROR(int_in_range(value, 100, kHourMs).status());
    } else if (key == "metrics_port") {
      NODUS_RETURN_IF_ERROR(int_in_range(value, 0, 65'535).status());
    } else if (key == "backoff_ms") {
      NODUS_RETURN_IF_ERROR(nodus::validate_config(
          value,
          {key_spec("initial", ConfigType::kInteger), key_spec("max", ConfigType::kInteger)}));
      for (const auto& entry : value.entries()) {
        if (entry.second.is_null()) continue;
        NODUS_RETURN_IF_ERROR(int_in_range(entry.second, 1, kHourMs).status());
      }
      const ConfigNode& initial = value.at("initial");
      const ConfigNode& max = value.at("max");
      if (!initial.is_null() && !max.is_null() && *initial.as_int() > *max.as_int()) {
        return max.error("must be at least backoff_ms.initial (" + initial.scalar() + ")");
      }
    } else if (key == "crash_loop") {
      NODUS_RETURN_IF_ERROR(nodus::validate_config(
          value,
          {key_spec("deaths", ConfigType::kInteger), key_spec("window_s", ConfigType::kInteger)}));
      for (const auto& [k, v] : value.entries()) {
        if (v.is_null()) continue;
        NODUS_RETURN_IF_ERROR(int_in_range(v, 1, k == "deaths" ? 1000 : 86'400).status());
      }
    }
  }
  return {};
}

nodus::Status parse_plugins(const ConfigNode& node, std::vector<PluginEntry>* out) {
  std::vector<PluginEntry> plugins;
  const std::vector<ConfigKeySpec> keys = {key_spec("name", ConfigType::kString, /*required=*/true),
                                           key_spec("file", ConfigType::kString),
                                           key_spec("sha256", ConfigType::kString),
                                           key_spec("config", ConfigType::kMap)};
  for (const ConfigNode& item : node.items()) {
    if (!item.is_map()) return item.error("expected a map with a 'name' key");
    NODUS_RETURN_IF_ERROR(nodus::validate_config(item, keys));
    PluginEntry entry;
    const ConfigNode& name = item.at("name");
    NODUS_ASSIGN_OR_RETURN(entry.name, name.as_string());
    if (!is_reverse_dns(entry.name)) {
      return name.error(
          "must be a reverse-DNS name of at least 3 labels of [a-z0-9-] (e.g. "
          "io.nodus.diag.peerping), got '" +
          entry.name + "'");
    }
    for (const PluginEntry& earlier : plugins) {
      if (earlier.name == entry.name) {
        return name.error("duplicate plugin '" + entry.name + "' (already listed at " +
                          earlier.node.path() + ", line " +
                          std::to_string(earlier.node.mark().line) + ")");
      }
    }
    if (const ConfigNode& sha = item.at("sha256"); !sha.is_null()) {
      entry.sha256 = sha.scalar();
      if (entry.sha256.size() != 64 || !is_lower_hex(entry.sha256)) {
        return sha.error("must be 64 lowercase hex digits (a SHA-256), got '" + entry.sha256 + "'");
      }
    }
    if (const ConfigNode& file = item.at("file"); !file.is_null()) {
      entry.file = file.scalar();
      if (entry.file.find('/') != std::string::npos || entry.file.size() <= 3 ||
          !entry.file.ends_with(".so")) {
        return file.error("must be a plain file name ending in .so (no '/'), got '" + entry.file +
                          "'");
      }
    }
    entry.config = item.at("config");
    entry.node = item;
    plugins.push_back(std::move(entry));
  }
  *out = std::move(plugins);
  return {};
}

}  // namespace nodus::kernel::internal
