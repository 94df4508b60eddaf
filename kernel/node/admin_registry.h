// node/admin_registry.h: the commands and status sections of one instance's plugins.
//
// The kernel's side of nodus/services/admin.h. Each plugin gets an Admin bound to its name
// (for_plugin); the node routes operator commands to run() and builds /status from sections().
// Every method runs on the instance's executor. Commands are bounded three ways: per plugin
// (kCommandsPerPluginMax), in flight (kCommandsInFlightMax), and in time (a command not
// answered within the deadline is answered DEADLINE_EXCEEDED, which frees its slot).
//
//   AdminRegistry admin(executor, std::chrono::seconds(30));
//   std::unique_ptr<Admin> a = admin.for_plugin("io.nodus.consensus.raft");
//   admin.run("failover", {{"to", "2"}}, [](Result<CommandResult> r) { ... });
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nodus/services/admin.h"
#include "nodus/services/executor.h"

namespace nodus::kernel {

struct RegisteredCommand {
  std::string plugin;
  CommandSpec spec;
};

class AdminRegistry {
 public:
  AdminRegistry(Executor& executor, Duration deadline);
  ~AdminRegistry();
  AdminRegistry(const AdminRegistry&) = delete;
  AdminRegistry& operator=(const AdminRegistry&) = delete;

  // The Admin that `plugin` sees through its context. It must not outlive this registry.
  std::unique_ptr<Admin> for_plugin(const std::string& plugin);
  // Drops everything `plugin` registered (its stop() ended). Its calls still in flight are
  // answered UNAVAILABLE now: the plugin's timers and handlers that would have answered them
  // never run after its stop.
  void remove_plugin(const std::string& plugin);

  // Runs `command` with operator-given arguments; `reply` is called exactly once, on any
  // thread. NOT_FOUND for an unknown command (naming the commands there are), INVALID_ARGUMENT
  // naming a bad argument, RESOURCE_EXHAUSTED past the in-flight bound.
  void run(const std::string& command, const std::map<std::string, std::string>& args,
           CommandReply reply);
  // Every registered command, sorted by name.
  std::vector<RegisteredCommand> commands() const;
  // Each plugin's section (providers called now, bounds applied), by plugin name.
  std::map<std::string, StatusSection> sections() const;
  size_t in_flight() const { return in_flight_->load(); }

 private:
  class PluginAdmin;
  struct Call;  // one invocation, answered once
  struct Entry {
    std::string plugin;
    CommandSpec spec;
    std::shared_ptr<CommandHandler> handler;
  };
  Status add(const std::string& plugin, CommandSpec spec, CommandHandler handler);
  Status remove(const std::string& plugin, std::string_view name);

  Executor& executor_;
  Duration deadline_;
  std::map<std::string, Entry> commands_;
  std::map<std::string, StatusProvider> providers_;
  // Invocations that may still be unanswered, for remove_plugin(); pruned on every run().
  std::vector<std::weak_ptr<Call>> calls_;
  // Shared with reply closures, which may run after this registry is gone.
  std::shared_ptr<std::atomic<size_t>> in_flight_ = std::make_shared<std::atomic<size_t>>(0);
};

}  // namespace nodus::kernel
