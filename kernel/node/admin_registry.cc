#include "kernel/node/admin_registry.h"

#include <exception>
#include <utility>

#include "nodus/json.h"

namespace nodus::kernel {

class AdminRegistry::PluginAdmin final : public Admin {
 public:
  PluginAdmin(AdminRegistry& registry, std::string plugin)
      : registry_(registry), plugin_(std::move(plugin)) {}
  void set_status(StatusProvider provider) override {
    registry_.providers_[plugin_] = std::move(provider);
  }
  Status add_command(CommandSpec spec, CommandHandler handler) override {
    return registry_.add(plugin_, std::move(spec), std::move(handler));
  }
  Status remove_command(std::string_view name) override { return registry_.remove(plugin_, name); }

 private:
  AdminRegistry& registry_;
  std::string plugin_;
};

AdminRegistry::AdminRegistry(Executor& executor, Duration deadline)
    : executor_(executor), deadline_(deadline) {}

AdminRegistry::~AdminRegistry() = default;

std::unique_ptr<Admin> AdminRegistry::for_plugin(const std::string& plugin) {
  return std::make_unique<PluginAdmin>(*this, plugin);
}

Status AdminRegistry::add(const std::string& plugin, CommandSpec spec, CommandHandler handler) {
  const std::string who = "command '" + spec.name + "' of plugin " + plugin;
  NODUS_RETURN_IF_ERROR(check_command_spec(spec, plugin));
  if (!handler) return invalid_argument(who + ": no handler");
  if (auto it = commands_.find(spec.name); it != commands_.end()) {
    return already_exists(who + ": the name is already registered by plugin " + it->second.plugin);
  }
  size_t mine = 0;
  for (const auto& [name, entry] : commands_)
    mine += entry.plugin == plugin ? 1 : 0;
  if (mine >= kCommandsPerPluginMax) {
    return resource_exhausted(who + ": the plugin already has " + std::to_string(mine) +
                              " commands, the limit");
  }
  const std::string name = spec.name;
  commands_[name] =
      Entry{plugin, std::move(spec), std::make_shared<CommandHandler>(std::move(handler))};
  return {};
}

Status AdminRegistry::remove(const std::string& plugin, std::string_view name) {
  auto it = commands_.find(std::string(name));
  if (it == commands_.end() || it->second.plugin != plugin) {
    return not_found("plugin " + plugin + " has no command '" + std::string(name) + "'");
  }
  commands_.erase(it);
  return {};
}

// One invocation: answers once, whichever comes first of the handler, the deadline, an
// exception or its plugin's stop, and frees its in-flight slot then.
struct AdminRegistry::Call {
  std::atomic<bool> done{false};
  std::shared_ptr<std::atomic<size_t>> in_flight;
  CommandReply reply;
  std::string label;
  std::string plugin;
  TimerId deadline_timer = kNoTimer;

  void finish(Result<CommandResult> result) {
    if (done.exchange(true)) return;
    in_flight->fetch_sub(1);
    reply(bound_command_result(std::move(result), label));
  }
};

void AdminRegistry::remove_plugin(const std::string& plugin) {
  providers_.erase(plugin);
  for (auto it = commands_.begin(); it != commands_.end();) {
    it = it->second.plugin == plugin ? commands_.erase(it) : std::next(it);
  }
  for (const auto& weak : calls_) {
    std::shared_ptr<Call> call = weak.lock();
    if (!call || call->plugin != plugin || call->done.load()) continue;
    call->finish(unavailable(call->label + ": the plugin stopped before answering"));
    executor_.cancel(call->deadline_timer);
  }
}

void AdminRegistry::run(const std::string& command, const std::map<std::string, std::string>& args,
                        CommandReply reply) {
  auto it = commands_.find(command);
  if (it == commands_.end()) {
    std::string known;
    for (const auto& [name, entry] : commands_)
      known += (known.empty() ? "" : ", ") + name;
    reply(not_found(
        "unknown command '" + command + "' (" +
        (known.empty() ? std::string("no plugin registered a command") : "commands: " + known) +
        ")"));
    return;
  }
  const Entry& entry = it->second;
  auto parsed = parse_command_args(entry.spec, args);
  if (!parsed.ok()) {
    reply(parsed.status());
    return;
  }
  if (in_flight_->load() >= kCommandsInFlightMax) {
    reply(resource_exhausted("command '" + command + "': " + std::to_string(kCommandsInFlightMax) +
                             " commands are already running on this instance"));
    return;
  }
  in_flight_->fetch_add(1);
  auto call = std::make_shared<Call>();
  call->in_flight = in_flight_;
  call->reply = std::move(reply);
  call->label = "command '" + command + "' of plugin " + entry.plugin;
  call->plugin = entry.plugin;
  const TimerId timer =
      executor_.schedule_after(deadline_, [call, ms = deadline_.count() / 1'000'000] {
        call->finish(deadline_exceeded(call->label + " did not answer within " +
                                       std::to_string(ms) + " ms"));
      });
  call->deadline_timer = timer;
  // At most kCommandsInFlightMax of them are unanswered; the rest are pruned here.
  std::erase_if(calls_, [](const std::weak_ptr<Call>& weak) {
    std::shared_ptr<Call> c = weak.lock();
    return !c || c->done.load();
  });
  calls_.push_back(call);
  Executor* executor = &executor_;
  CommandReply once = [call, executor, timer](Result<CommandResult> r) {
    const bool first = !call->done.load();
    call->finish(std::move(r));
    if (first && executor->in_executor()) executor->cancel(timer);
  };
  // The handler stays alive for this call even if the plugin removes the command meanwhile.
  std::shared_ptr<CommandHandler> handler = entry.handler;
  try {
    (*handler)(*parsed, once);
  } catch (const std::exception& e) {
    once(internal_error(call->label + " threw: " + e.what()));
  } catch (...) {
    once(internal_error(call->label + " threw a non-standard exception"));
  }
}

std::vector<RegisteredCommand> AdminRegistry::commands() const {
  std::vector<RegisteredCommand> out;
  out.reserve(commands_.size());
  for (const auto& [name, entry] : commands_)
    out.push_back({entry.plugin, entry.spec});
  return out;
}

std::map<std::string, StatusSection> AdminRegistry::sections() const {
  std::map<std::string, StatusSection> out;
  for (const auto& [plugin, provider] : providers_) {
    StatusSection section;
    try {
      section = provider();
    } catch (const std::exception& e) {
      section = {
          "{\"error\":" + json_quote("the status provider threw: " + std::string(e.what())) + "}",
          "error"};
    } catch (...) {
      section = {"{\"error\":\"the status provider threw\"}", "error"};
    }
    out[plugin] = bound_status_section(std::move(section), plugin);
  }
  return out;
}

}  // namespace nodus::kernel
