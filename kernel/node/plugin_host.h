// node/plugin_host.h: composing one node instance out of plugins.
//
// A PluginHost takes the plugins a profile asks for, resolves them through the loader,
// orders them by their declared capabilities, checks each config section against the
// plugin's declared keys, constructs and configures every plugin, and then starts and stops
// them in order. It is independent of where its services come from: the real node hands it
// the kernel's services, kernel/harness hands it fakes. Every call into a plugin is guarded, so
// a plugin that throws is reported (naming its file), never propagated.
//
// All methods must be called from the instance's executor (or, in tests, from the one
// thread that drives the fake executor).
//
//   PluginHost host(info, services);
//   NODUS_RETURN_IF_ERROR(host.load(loader, specs));   // resolve, order, validate, configure
//   NODUS_RETURN_IF_ERROR(host.start());
//   ...
//   host.stop();
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernel/loader/plugin_loader.h"
#include "kernel/node/admin_registry.h"
#include "nodus/capabilities/membership.h"
#include "nodus/plugin.h"
#include "nodus/services/http_client.h"

namespace nodus::kernel {

// Services shared by every plugin of one instance, plus factories for the per-plugin ones.
struct HostServices {
  Executor* executor = nullptr;
  Clock* clock = nullptr;
  Transport* transport = nullptr;
  Metrics* metrics = nullptr;
  EventBus* events = nullptr;
  std::function<std::unique_ptr<Logger>(const std::string& component)> make_logger;
  // Storage for one plugin, rooted at <instance data dir>/<plugin name>.
  std::function<Result<std::unique_ptr<Storage>>(const std::string& plugin_name)> make_storage;
  // Admin (nodus/services/admin.h): the instance's commands and status sections; a plugin's
  // registrations are dropped after its stop(). Null: the host offers no admin service.
  AdminRegistry* admin = nullptr;
  // Membership (nodus/capabilities/membership.h): the static membership of the profile, which
  // PluginContext::membership() returns unless a plugin provides nodus.membership/v1.
  Membership* membership = nullptr;
  // HTTP client (nodus/services/http_client.h)
  // One client per plugin, made on its first http_client() call; `stop` runs after the
  // plugin's stop() and drops its requests in flight without calling back.
  struct PluginHttpClient {
    std::unique_ptr<HttpClient> client;
    std::function<void()> stop;
  };
  std::function<PluginHttpClient(const std::string& plugin_name)> make_http_client;
  // Datagrams (nodus/services/datagram.h)
  // The instance's UDP ports; each plugin sees a view whose bindings end with its stop().
  // Null: the host offers no datagrams (the accessor aborts, as PluginContext's default does).
  Datagrams* datagrams = nullptr;
  // Processes (nodus/services/processes.h)
  // External programs of one plugin (`log` is the plugin's logger). Destroying the object stops
  // what is left of them, bounded by their grace; the host does so after the plugin's stop().
  std::function<std::unique_ptr<Processes>(const std::string& plugin_name, Logger& log)>
      make_processes;
  // HTTP server (nodus/services/http.h)
  // One plugin's routes on the instance's named ports; they end when the object goes (at the
  // plugin's stop()). Unset: the host serves no HTTP to plugins.
  std::function<std::unique_ptr<nodus::HttpServer>(const std::string& plugin_name)> make_http;
};

// One plugin as a profile lists it.
struct PluginSpec {
  PluginRequest request;
  ConfigNode config;  // the plugin's `config:` section (null when absent)
  ConfigNode entry;   // the whole list entry, for error positions
};

enum class PluginState { kLoaded, kConfigured, kStarting, kRunning, kStopping, kStopped, kFailed };
std::string_view plugin_state_name(PluginState state);

struct PluginStatus {
  std::string name;
  std::string version;
  std::string category;
  std::string file;
  PluginState state = PluginState::kLoaded;
};

class PluginHost {
 public:
  PluginHost(InstanceInfo info, HostServices services);
  ~PluginHost();
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  // Resolves, orders, validates and configures. On error nothing has been started.
  Status load(const PluginLoader& loader, const std::vector<PluginSpec>& specs);
  // Adds already-opened plugins (kernel/harness). Same checks as load().
  Status load_plugins(std::vector<LoadedPlugin> plugins, const std::vector<ConfigNode>& configs);
  // Starts in dependency order. If one fails, those already started are stopped in reverse.
  Status start();
  // Stops in reverse order; every plugin is asked even if an earlier one fails. Returns the
  // first error.
  Status stop();

  // AND of every running plugin's ready(); false before start() finished.
  bool ready() const;
  // The first error of a running plugin's check_invariants(), prefixed with the plugin.
  Status check_invariants() const;
  const std::string& role() const { return role_; }
  std::vector<PluginStatus> status() const;
  const InstanceInfo& instance() const { return info_; }
  // Handles of every loaded plugin library. Closures a plugin registered with a service
  // (timers, transport handlers, subscriptions) hold code from its library, so the owner of
  // those services keeps these handles until the services are destroyed.
  std::vector<std::shared_ptr<boost::dll::shared_library>> libraries() const;
  // The capability a started plugin provides (its descriptor lists it, and provide() handed
  // out a ref of that name), or an empty ref.
  nodus::CapabilityRef find_capability(std::string_view capability);
  // The membership plugins see: the provider of nodus.membership/v1 if one started, else
  // HostServices::membership (null when neither exists).
  Membership* effective_membership();
  // Fires when a plugin reports a new role through its context.
  void on_role_change(std::function<void(const std::string&)> callback);

 private:
  class Context;
  struct Slot;
  void set_role(std::string_view role);
  // Drops what a stopped (or failed) plugin registered with the per-instance services.
  void end_registrations(Slot& slot);

  InstanceInfo info_;
  HostServices services_;
  std::vector<std::unique_ptr<Slot>> slots_;  // in start order
  bool started_ = false;
  std::string role_;
  std::function<void(const std::string&)> role_callback_;
};

}  // namespace nodus::kernel
