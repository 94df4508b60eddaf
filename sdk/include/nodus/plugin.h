// nodus/plugin.h: the plugin ABI. What a plugin exports, and what it gets from the kernel.
//
// A plugin is a shared object with one exported entry point (NODUS_PLUGIN below). The entry
// point returns a plain-C header (ABI version and fingerprint) that the kernel checks before
// it touches any C++ type; only then does it read the PluginDescriptor and, later, call the
// factory. Lifecycle: factory -> configure(section) -> start() -> ... -> stop().
//
//   class Hello final : public nodus::Plugin {
//    public:
//     explicit Hello(nodus::PluginContext& ctx) : ctx_(ctx) {}
//     nodus::Status configure(const nodus::ConfigNode& c) override {
//       NODUS_ASSIGN_OR_RETURN(greeting_, c.get_string("greeting", "hello"));
//       return {};
//     }
//     nodus::Status start() override { ctx_.logger().info(greeting_); return {}; }
//     nodus::Status stop() override { return {}; }
//    private:
//     nodus::PluginContext& ctx_;
//     std::string greeting_;
//   };
//
//   nodus::PluginDescriptor describe() {
//     nodus::PluginDescriptor d;
//     d.name = "io.example.hello";
//     d.version = "1.0.0";
//     d.category = "example";
//     d.status = nodus::PluginStatus::kExperimental;
//     d.config = {{"greeting", nodus::ConfigType::kString, false, "hello", "What to say"}};
//     d.factory = [](nodus::PluginContext& ctx) { return std::make_unique<Hello>(ctx); };
//     return d;
//   }
//   NODUS_PLUGIN(describe)
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/dll/alias.hpp>

#include "nodus/abi.h"
#include "nodus/capability.h"
#include "nodus/config.h"
#include "nodus/services/clock.h"
#include "nodus/services/event_bus.h"
#include "nodus/services/executor.h"
#include "nodus/services/logger.h"
#include "nodus/services/metrics.h"
#include "nodus/services/storage.h"
#include "nodus/services/transport.h"
#include "nodus/status.h"

namespace nodus {

// Services of SDK v2. Each is declared in its own header (named beside its accessor below),
// which a plugin includes when it uses the service; plugin.h only names them.
class Datagrams;   // nodus/services/datagram.h
class HttpServer;  // nodus/services/http.h
class HttpClient;  // nodus/services/http_client.h
class Processes;   // nodus/services/processes.h
class Admin;       // nodus/services/admin.h
class Membership;  // nodus/capabilities/membership.h

// Who this node instance is.
struct InstanceInfo {
  std::string profile;     // "aurigraph"
  uint32_t index = 0;      // 0-based instance index
  uint32_t instances = 1;  // cluster size
  std::string node_name;   // "aurigraph-0"
  std::filesystem::path data_dir;
  std::map<std::string, uint16_t> ports;  // named ports of this instance ("api", "peer", ...)
  // Started by `nodus scale` into a running cluster: cluster state (such as a consensus
  // configuration) comes from the running members, never from this instance's own start.
  bool joining = false;

  // Hosts (profile `hosts:`): where this instance runs and where its peers reach it.
  std::string host_name = "local";    // the profile's host entry; "local" without `hosts:`
  std::string address = "127.0.0.1";  // IP literal that its ports bind and peers dial

  // Port by name; 0 when the profile defines no such port.
  uint16_t port(std::string_view name) const {
    auto it = ports.find(std::string(name));
    return it == ports.end() ? 0 : it->second;
  }
};

class PluginContext {
 public:
  virtual ~PluginContext() = default;
  virtual const InstanceInfo& instance() const = 0;
  // Everything that calls back later ends with this plugin: after its stop() returns, or its
  // start() fails, no task or timer it gave executor(), no handler or call callback it gave
  // transport(), no subscription of events(), and nothing it registered with the SDK v2
  // services below runs again. A closure needs no "am I stopped?" guard of its own.
  virtual Executor& executor() = 0;
  virtual Clock& clock() = 0;
  virtual Transport& transport() = 0;
  // Storage rooted at <data_dir>/<plugin name>/.
  virtual Storage& storage() = 0;
  virtual Metrics& metrics() = 0;
  virtual Logger& logger() = 0;
  virtual EventBus& events() = 0;
  // Reports this node's cluster role ("leader", "follower", "worker"...) to status and
  // readiness. The last report from any plugin wins.
  virtual void set_role(std::string_view role) = 0;
  // The capability as the plugin providing it handed it out (nodus/capability.h): a plugin
  // started before this one (declared in `needs` or `uses`), or an empty ref. Use find<>() or
  // need<>(), which check the name and revision.
  virtual CapabilityRef find_capability(std::string_view capability) = 0;

  // SDK v2 services. Everything a plugin registers through one of them (a bound port, a route,
  // a command, a started process) belongs to that plugin and ends with its stop().

  // UDP datagrams on the instance's named ports.
  virtual Datagrams& datagrams();

  // HTTP routes on the instance's named ports, shared with the kernel's own endpoints.
  virtual HttpServer& http();

  // Outgoing HTTP(S) requests with deadlines; callbacks run on the executor.
  virtual HttpClient& http_client();

  // External programs started, stopped and watched for this plugin.
  virtual Processes& processes();

  // This plugin's section of /status and `nodus status`, and its operator commands.
  virtual Admin& admin();

  // The cluster's members: a membership plugin's view when one provides nodus.membership/v1,
  // else the static membership of the profile.
  virtual Membership& membership();

  // Typed lookup (nodus/capability.h): the provider's object, or nullptr when no plugin of the
  // instance provides `Interface` or the provider was built against another revision of it.
  template <CapabilityInterface Interface>
  Interface* find() {
    auto found = need<Interface>();
    return found.ok() ? *found : nullptr;
  }
  // Like find(), with the reason when there is none: NOT_FOUND (nobody provides it) or
  // FAILED_PRECONDITION (another revision), ready to return from start().
  template <CapabilityInterface Interface>
  Result<Interface*> need() {
    return capability_cast<Interface>(find_capability(std::string_view(Interface::kCapability)));
  }
};

class Plugin {
 public:
  virtual ~Plugin() = default;
  // Validates and keeps this plugin's config section (already checked against the declared
  // keys). Return ConfigNode::error() of the offending node on a bad value.
  virtual Status configure(const ConfigNode& config) = 0;
  // Called in dependency order once every plugin is configured. Register transport handlers,
  // timers and metrics here.
  virtual Status start() = 0;
  // Called in reverse order; must return promptly (the kernel bounds the whole stop).
  virtual Status stop() = 0;
  // The object implementing `capability` when this plugin provides it (one of the descriptor's
  // `provides`): `return nodus::offer<Interface>(this);` (nodus/capability.h); else `{}`.
  virtual CapabilityRef provide(std::string_view /*capability*/) { return {}; }
  // False while this plugin cannot serve (for example: no quorum yet). Readiness is the AND of
  // every plugin's answer. Called on the executor.
  virtual bool ready() const { return true; }
  // The plugin's internal invariants, checked in full (for example: Raft's log is dense and
  // its terms never go down). The simulation harness calls it after every event of every node
  // and fails the run, with its seed, on the first error; too costly for production to call
  // on every step, so the plugin's always-on NODUS_CHECKs (nodus/check.h) cover the hot paths.
  // Called on the executor.
  virtual Status check_invariants() const { return {}; }
};

// How much a plugin's name, capabilities and config keys may still change. docs/plugins.md
// lists it for every plugin (`nodus plugins list -o markdown`).
enum class PluginStatus : uint8_t {
  // May change incompatibly, or go away, in any release. What a new plugin starts as.
  kExperimental = 0,
  // Config keys, capabilities and metrics change only with a new major version of the plugin.
  kStable = 1,
};

// "experimental" or "stable"; "" for a value outside the enum (the kernel refuses those).
inline std::string_view plugin_status_name(PluginStatus status) {
  switch (status) {
    case PluginStatus::kExperimental:
      return "experimental";
    case PluginStatus::kStable:
      return "stable";
  }
  return "";
}

using PluginFactory = std::function<std::unique_ptr<Plugin>(PluginContext& context)>;

struct PluginDescriptor {
  std::string name;                   // reverse-DNS, e.g. "io.nodus.consensus.raft"
  std::string version;                // semantic version, e.g. "1.2.0"
  std::string category;               // consensus, isolation, metrics, loadbalancer, ...
  std::string description;            // one line
  std::vector<std::string> provides;  // capabilities, e.g. "nodus.consensus/v1"
  // Capabilities that another plugin of the instance must provide; this plugin starts after
  // it. (Not called `requires`, which is a C++20 keyword.)
  std::vector<std::string> needs;
  std::vector<std::string> uses;  // optional: ordered after its provider when present
  std::vector<ConfigKeySpec> config;
  PluginFactory factory;
  // Added after the first release of this struct. The SDK header hash in the ABI fingerprint
  // changes with any header edit, so a plugin built with the older layout is refused at load
  // ("rebuild the plugin against this SDK") before the kernel reads this field.
  PluginStatus status = PluginStatus::kExperimental;
};

// The C-layout header the entry point returns. Everything the kernel needs to decide whether
// it may go further lives here, in types whose layout cannot drift between compilers.
struct PluginAbiHeader {
  uint32_t magic;        // kPluginMagic
  uint32_t abi_version;  // kAbiVersion of the SDK the plugin was built with
  const char* fingerprint;
  // Valid to call only when magic, abi_version and fingerprint match the kernel's.
  // May return nullptr when building the descriptor failed (the plugin threw).
  const PluginDescriptor* (*descriptor)();
  const char* (*descriptor_error)();  // why descriptor() returned nullptr
};

inline constexpr uint32_t kPluginMagic = 0x6e6f6475;  // "nodu"
inline constexpr const char* kEntryPointName = "nodus_plugin_entry";

namespace detail {
// Builds the descriptor once, catching anything the author's function throws so that no
// exception crosses into the kernel.
template <PluginDescriptor (*Describe)()>
struct DescriptorHolder {
  static inline std::string error;
  static const PluginDescriptor* get() {
    static const PluginDescriptor* const instance = []() -> const PluginDescriptor* {
      try {
        static const PluginDescriptor d = Describe();
        return &d;
      } catch (const std::exception& e) {
        error = e.what();
      } catch (...) {
        error = "unknown exception";
      }
      return nullptr;
    }();
    return instance;
  }
  static const char* get_error() { return error.c_str(); }
};
}  // namespace detail

}  // namespace nodus

// Exports the entry point of a plugin. `describe_fn` is `nodus::PluginDescriptor f()`.
// Use once per shared object.
#define NODUS_PLUGIN(describe_fn)                                                \
  namespace nodus_plugin_export_ {                                               \
  const ::nodus::PluginAbiHeader* entry() {                                      \
    static const ::nodus::PluginAbiHeader header{                                \
        ::nodus::kPluginMagic, ::nodus::kAbiVersion, ::nodus::abi_fingerprint(), \
        &::nodus::detail::DescriptorHolder<&(describe_fn)>::get,                 \
        &::nodus::detail::DescriptorHolder<&(describe_fn)>::get_error};          \
    return &header;                                                              \
  }                                                                              \
  }                                                                              \
  BOOST_DLL_ALIAS(nodus_plugin_export_::entry, nodus_plugin_entry)
