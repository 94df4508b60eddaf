// config/profile_sections.h: validation of the individual sections of a profile. Internal to
// nodus_config; profile.cc composes these in document order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernel/config/profile.h"
#include "nodus/config.h"
#include "nodus/status.h"

namespace nodus::kernel::internal {

// A key spec without documentation, for the kernel's own schema tables.
nodus::ConfigKeySpec key_spec(std::string name, nodus::ConfigType type, bool required = false);

// An integer in [min, max]; errors name the node.
nodus::Result<int64_t> int_in_range(const nodus::ConfigNode& node, int64_t min, int64_t max);

nodus::Status parse_profile_name(const nodus::ConfigNode& node, std::string* out);
nodus::Status parse_bind(const nodus::ConfigNode& node, std::string* out);
nodus::Status parse_ports(const nodus::ConfigNode& node, PortLayout* out);
nodus::Status parse_log(const nodus::ConfigNode& node, LogOptions* out);
// `tls: {ca_file, cert_file, key_file, require_client_cert}`; the three files go together.
nodus::Status parse_tls(const nodus::ConfigNode& node, const std::filesystem::path& source,
                        TlsOptions* out);
nodus::Status check_supervisor(const nodus::ConfigNode& node);
nodus::Status parse_plugins(const nodus::ConfigNode& node, std::vector<PluginEntry>* out);

// `hosts:` [{name, address}], names unique.
nodus::Status parse_hosts(const nodus::ConfigNode& node, std::vector<HostEntry>* out);
// `placement:` (one host name per instance), checked against the parsed hosts and instances.
nodus::Status parse_placement(const nodus::ConfigNode& root, Profile* profile);

// The index in profile.hosts of instance `index`'s host.
uint32_t host_index(const Profile& profile, uint32_t index);
// How many instances before `index` share its host: the stride multiplier of its ports.
uint32_t slot_on_host(const Profile& profile, uint32_t index);

// Checks that every instance's ports fit below 65536; `root` locates the error.
nodus::Status check_port_range(const nodus::ConfigNode& root, const Profile& profile);
// Checks that no two instances listen on the same address:port (two hosts with one address).
nodus::Status check_unique_endpoints(const Profile& profile);

}  // namespace nodus::kernel::internal
