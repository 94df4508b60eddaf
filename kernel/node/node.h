// node/node.h: one running node instance with the kernel's real services.
//
// A Node owns the instance's executor, logger, metrics registry, event bus, gRPC peer
// transport, per-plugin file storage and the health endpoint (/livez, /readyz, /metrics,
// /status), and composes the profile's plugins on top of them through a PluginHost.
//
//   NODUS_ASSIGN_OR_RETURN(auto node, Node::create(profile, /*index=*/0));
//   NODUS_RETURN_IF_ERROR(node->configure());   // load + validate + configure plugins
//   NODUS_RETURN_IF_ERROR(node->start());       // services up, plugins started in order
//   ... wait for SIGTERM ...
//   node->stop(std::chrono::seconds(5));
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "kernel/config/profile.h"
#include "kernel/node/plugin_host.h"

namespace nodus::kernel {

// The transport method (Peer.Call) through which the supervisor reaches an instance's plugin
// commands and status sections (nodus/services/admin.h). Request nodus.v1.AdminCallRequest,
// reply AdminCallReply.
inline constexpr std::string_view kAdminMethod = "nodus.node.admin";
// The transport method through which `nodus scale` changes the consensus membership (and
// grows an instance's peer list). Request nodus.v1.MembershipRequest, reply MembershipReply.
inline constexpr std::string_view kMembershipMethod = "nodus.node.membership";

// "host:port", with an IPv6 host in brackets: how instances dial each other's peer endpoint.
std::string host_port(const std::string& host, uint16_t port);

struct NodeOptions {
  // Extra plugin directories (--plugin-dir) searched before the profile's and the default one.
  std::vector<std::filesystem::path> plugin_dirs;
  // Also search the profile's plugin directories and then the kernel default (off only in
  // tests). The search order is plugin_dirs, the profile's `plugin_dirs`, the default; a name
  // found in an earlier directory shadows the same name in a later one.
  bool use_default_plugin_dir = true;
  // Set when a supervisor started this instance (NODUS_SUPERVISOR_BUS): heartbeats go there
  // from the executor every `heartbeat_period` and whenever readiness changes.
  std::string supervisor_bus;
  Duration heartbeat_period = std::chrono::seconds(1);
  // Started by `nodus scale` into a running cluster (InstanceInfo::joining).
  bool joining = false;
};

// Checks instance `index` of `profile` as far as a start would go without starting anything:
// each plugin is resolved and checked (file, entry point, ABI, pin), ordered by capability,
// its section validated against its declared keys, constructed and configured with that
// instance's InstanceInfo. No port is bound, no data directory made and no plugin started.
// This is what `nodus config validate` reports and what `nodus up` checks for every instance
// before it spawns any; the error is the first one, `FILE:LINE:COL: key.path: message` where
// the profile has a position for it.
Status check_instance(const Profile& profile, uint32_t index, const NodeOptions& options = {});

class Node {
 public:
  static Result<std::unique_ptr<Node>> create(const Profile& profile, uint32_t index,
                                              NodeOptions options = {});
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Resolves, validates and configures the plugins without starting anything.
  Status configure();
  // Creates the data directory, starts the executor, health endpoint, peer transport and the
  // plugins. On failure everything already started is stopped again.
  Status start();
  // Stops plugins in reverse order, then the services. Returns DEADLINE_EXCEEDED when the
  // plugins did not stop within `timeout` (the caller should then exit anyway).
  Status stop(Duration timeout);

  bool ready() const { return ready_.load(); }
  const InstanceInfo& instance() const;
  std::string role() const;
  // JSON document served at /status.
  std::string status_json() const;
  // Prometheus text of this instance's metrics, labelled instance="<index>".
  std::string metrics_text() const;
  // The port the health endpoint listens on (useful with port 0 in tests).
  uint16_t health_port() const;
  uint16_t peer_port() const;

 private:
  struct Impl;
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> ready_{false};
};

}  // namespace nodus::kernel
