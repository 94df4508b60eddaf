#include "nodus/testing/fake_admin.h"

#include <atomic>
#include <exception>
#include <memory>

namespace nodus::testing {

void FakeAdmin::set_status(StatusProvider provider) {
  std::lock_guard<std::mutex> lock(mu_);
  provider_ = std::move(provider);
}

Status FakeAdmin::add_command(CommandSpec spec, CommandHandler handler) {
  NODUS_RETURN_IF_ERROR(check_command_spec(spec, plugin_));
  const std::string who = "command '" + spec.name + "' of plugin " + plugin_;
  if (!handler) return invalid_argument(who + ": no handler");
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = taken_.find(spec.name); it != taken_.end()) {
    return already_exists(who + ": the name is already registered by plugin " + it->second);
  }
  if (specs_.count(spec.name) > 0) {
    return already_exists(who + ": the name is already registered by plugin " + plugin_);
  }
  if (specs_.size() >= kCommandsPerPluginMax) {
    return resource_exhausted(who + ": the plugin already has " + std::to_string(specs_.size()) +
                              " commands, the limit");
  }
  handlers_[spec.name] = std::move(handler);
  const std::string name = spec.name;
  specs_[name] = std::move(spec);
  return {};
}

Status FakeAdmin::remove_command(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (specs_.erase(std::string(name)) == 0) {
    return not_found("plugin " + plugin_ + " has no command '" + std::string(name) + "'");
  }
  handlers_.erase(std::string(name));
  return {};
}

void FakeAdmin::take_name(const std::string& name, const std::string& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  taken_[name] = owner;
}

void FakeAdmin::invoke(const std::string& name, const std::map<std::string, std::string>& args,
                       CommandReply done) {
  CommandSpec spec;
  CommandHandler handler;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = specs_.find(name);
    if (it == specs_.end()) {
      done(not_found("unknown command '" + name + "'"));
      return;
    }
    spec = it->second;
    handler = handlers_.at(name);
  }
  auto parsed = parse_command_args(spec, args);
  if (!parsed.ok()) {
    done(parsed.status());
    return;
  }
  auto answered = std::make_shared<std::atomic<bool>>(false);
  const std::string label = "command '" + name + "' of plugin " + plugin_;
  CommandReply once = [answered, done, label](Result<CommandResult> r) {
    if (answered->exchange(true)) return;
    done(bound_command_result(std::move(r), label));
  };
  try {
    handler(*parsed, once);
  } catch (const std::exception& e) {
    once(internal_error(label + " threw: " + e.what()));
  } catch (...) {
    once(internal_error(label + " threw a non-standard exception"));
  }
}

Result<CommandResult> FakeAdmin::invoke(const std::string& name,
                                        const std::map<std::string, std::string>& args) {
  // Shared: a handler that answers after this returns must not write into a dead frame.
  auto got = std::make_shared<std::optional<Result<CommandResult>>>();
  invoke(name, args, [got](Result<CommandResult> r) { *got = std::move(r); });
  if (!got->has_value()) return unavailable("command '" + name + "' has not answered yet");
  return **got;
}

std::optional<StatusSection> FakeAdmin::status() const {
  StatusProvider provider;
  {
    std::lock_guard<std::mutex> lock(mu_);
    provider = provider_;
  }
  if (!provider) return std::nullopt;
  return bound_status_section(provider(), plugin_);
}

std::vector<CommandSpec> FakeAdmin::commands() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<CommandSpec> out;
  for (const auto& [name, spec] : specs_)
    out.push_back(spec);
  return out;
}

void FakeAdmin::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  provider_ = nullptr;
  specs_.clear();
  handlers_.clear();
}

}  // namespace nodus::testing
