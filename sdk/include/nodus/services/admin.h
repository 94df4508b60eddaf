// nodus/services/admin.h: a plugin's section of the instance status, and its operator commands.
//
// A plugin reports what an operator should see (`/status`, `nodus status -o json` under
// instances[i].plugins.<plugin name>, and one short column of the `nodus status` table), and
// offers named commands that the CLI routes to it through the supervisor
// (`nodus <command> [--arg value]... [--instance N | --all | --leader]`). Both end with the
// plugin's stop().
//
//   ctx.admin().set_status([this] {
//     return nodus::StatusSection{"{\"term\":" + std::to_string(term_) + "}",
//                                 "term " + std::to_string(term_)};
//   });
//   nodus::CommandSpec spec{"compact", "Compact the log up to an index.",
//                           {{"upto", nodus::ArgType::kInt, /*required=*/true, "", "Last index"}}};
//   NODUS_RETURN_IF_ERROR(ctx.admin().add_command(spec, [this](const nodus::CommandArgs& args,
//                                                              nodus::CommandReply reply) {
//     compact(args.get_int("upto"));  // runs on the executor
//     reply(nodus::CommandResult::of_text("compacted"));
//   }));
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodus/services/clock.h"
#include "nodus/status.h"

namespace nodus {

// Bounds that every host enforces, so one plugin cannot bloat `nodus status` or the control
// API. The values are part of the contract: the fake in nodus::testing enforces the same.
inline constexpr size_t kStatusSectionMaxBytes = 16 * 1024;
inline constexpr size_t kStatusColumnMaxChars = 24;
inline constexpr size_t kCommandsPerPluginMax = 16;
inline constexpr size_t kCommandArgsMax = 16;
inline constexpr size_t kCommandNameMaxChars = 32;
inline constexpr size_t kCommandArgValueMaxBytes = 4 * 1024;
inline constexpr size_t kCommandHelpMaxChars = 200;
inline constexpr size_t kCommandResultMaxBytes = 256 * 1024;
// Commands of one instance running at once; more are refused with RESOURCE_EXHAUSTED.
inline constexpr size_t kCommandsInFlightMax = 16;

// What a plugin shows. `json` is one JSON object (the plugin writes it, with nodus/json.h for
// strings); `column` is one line for the `nodus status` table, cut to kStatusColumnMaxChars.
struct StatusSection {
  std::string json = "{}";
  std::string column;
};

enum class ArgType : uint8_t {
  kString = 0,
  kInt = 1,       // decimal, 64-bit signed
  kBool = 2,      // true/false, yes/no, 1/0; a bare `--flag` means true
  kDuration = 3,  // an integer with a unit: 250ms, 10s, 2m, 1h
};

// "string", "int", "bool", "duration".
std::string_view arg_type_name(ArgType type);

struct CommandArgSpec {
  std::string name;  // lower case, digits and '-' ("to", "dry-run"); given as --name
  ArgType type = ArgType::kString;
  bool required = false;
  std::string default_value;  // text parsed as `type` when the operator omits it; "" = none
  std::string help;
};

// Where the CLI sends a command when the operator names no target.
enum class CommandTarget : uint8_t {
  kAll = 0,     // every running instance, one result each
  kLeader = 1,  // the instance that reports the leader role
};

struct CommandSpec {
  std::string name;  // lower case, digits and '-', at most kCommandNameMaxChars
  std::string help;  // one line, at most kCommandHelpMaxChars
  std::vector<CommandArgSpec> args;
  CommandTarget target = CommandTarget::kAll;
};

// The arguments of one invocation, already checked against the spec: every declared argument
// has a value (given, or its default) of its declared type, except optional ones without a
// default, for which has() is false. A getter of the wrong type, or of an undeclared or absent
// argument, returns the type's zero value.
class CommandArgs {
 public:
  bool has(std::string_view name) const { return values_.count(std::string(name)) > 0; }
  std::string get_string(std::string_view name) const;
  int64_t get_int(std::string_view name) const;
  bool get_bool(std::string_view name) const;
  Duration get_duration(std::string_view name) const;

  // The names that have a value, in order.
  std::vector<std::string> names() const;

 private:
  friend Result<CommandArgs> parse_command_args(const CommandSpec& spec,
                                                const std::map<std::string, std::string>& given);
  struct Value {
    ArgType type = ArgType::kString;
    std::string text;
    int64_t number = 0;  // kInt, kBool (0/1) and kDuration (nanoseconds)
  };
  const Value* find(std::string_view name, ArgType type) const;
  std::map<std::string, Value> values_;
};

// A command's answer: text for people (`nodus CMD` prints it) and/or one JSON object (what
// `nodus CMD -o json` prints). The CLI falls back to the one given when the other is empty.
struct CommandResult {
  std::string text;
  std::string json;
  // Set by a command that moved the leader role (a leadership transfer), to the instance index
  // that leads now. The supervisor then answers only once the instances' own role reports
  // agree, so that `nodus status` right after the command shows the new leader.
  std::optional<uint32_t> leader;

  static CommandResult of_text(std::string text) { return {std::move(text), "", std::nullopt}; }
  static CommandResult of_json(std::string json) { return {"", std::move(json), std::nullopt}; }
};

// Call once, from any thread; later calls are ignored. A command not answered within the
// host's deadline is answered DEADLINE_EXCEEDED for it.
using CommandReply = std::function<void(Result<CommandResult>)>;
// Runs on the executor, and must not block it: long work replies later.
using CommandHandler = std::function<void(const CommandArgs& args, CommandReply reply)>;
// Called on the executor whenever a status document is built; must be quick.
using StatusProvider = std::function<StatusSection()>;

class Admin {
 public:
  virtual ~Admin() = default;
  // Sets (or replaces) this plugin's status provider.
  virtual void set_status(StatusProvider provider) = 0;
  // Registers a command. INVALID_ARGUMENT for a malformed spec (naming the field),
  // ALREADY_EXISTS when another plugin, this one, or the nodus CLI itself already has the name
  // (naming both), RESOURCE_EXHAUSTED past kCommandsPerPluginMax.
  virtual Status add_command(CommandSpec spec, CommandHandler handler) = 0;
  // Removes one of this plugin's commands; NOT_FOUND when it has none of that name.
  virtual Status remove_command(std::string_view name) = 0;
};

// Shared by every host, so that the kernel and the fakes agree on the contract.

// The verbs of the `nodus` executable itself ("status", "up", ...), which no plugin command
// may take: add_command() answers ALREADY_EXISTS for them.
const std::vector<std::string>& reserved_command_names();

// INVALID_ARGUMENT naming the field when a spec breaks a rule or bound above; ALREADY_EXISTS
// when its name is one of reserved_command_names(). `plugin` names the registering plugin.
Status check_command_spec(const CommandSpec& spec, std::string_view plugin);
// RESOURCE_EXHAUSTED (naming `label`) for a result over kCommandResultMaxBytes, else `result`.
Result<CommandResult> bound_command_result(Result<CommandResult> result, std::string_view label);
// Checks operator-given values (text as typed) against the spec: INVALID_ARGUMENT naming the
// argument for an unknown one, a missing required one, a value too long or not of its type.
Result<CommandArgs> parse_command_args(const CommandSpec& spec,
                                       const std::map<std::string, std::string>& given);
// The section with its bounds applied: a JSON text that is not an object or is over
// kStatusSectionMaxBytes becomes {"error": "..."} naming `plugin`; the column is cut to one line
// of kStatusColumnMaxChars.
StatusSection bound_status_section(StatusSection section, std::string_view plugin);

}  // namespace nodus
