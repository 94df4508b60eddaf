// Plugin commands (nodus/services/admin.h) from the command line: any verb that is not one of
// the executable's own is a command of the running cluster's plugins, routed by the supervisor.
//   nodus <command> [--arg value | --arg=value | --flag]... [--instance N | --all | --leader]
//                   [--run-dir DIR | --profile FILE] [-o json] [--deadline-ms MS]
// and `nodus help [command]` lists the built-in verbs and the cluster's plugin commands.
#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include "kernel/cli/commands.h"
#include "kernel/cli/options.h"
#include "kernel/supervisor/control_client.h"
#include "nodus/json.h"

namespace nodus::cli {
namespace {

struct CommandLine {
  nodus::v1::CommandRequest request;
  std::string run_dir;
  std::string profile;
  bool json = false;
  bool help = false;
};

Result<uint32_t> parse_uint(const std::string& flag, const std::string& text) {
  try {
    size_t used = 0;
    const unsigned long v = std::stoul(text, &used);
    if (used == text.size() && v <= UINT32_MAX) return static_cast<uint32_t>(v);
  } catch (const std::exception&) {
  }
  return invalid_argument(flag + ": expected a non-negative integer, got '" + text + "'");
}

// Routing and output flags are the CLI's; every other --name is the command's argument. A
// value follows its flag unless the next word is a flag too (a bare `--flag` means true).
Result<CommandLine> parse_command_line(const std::string& command,
                                       const std::vector<std::string>& args) {
  CommandLine out;
  out.request.set_command(command);
  int targets = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (word == "-h" || word == "--help") {
      out.help = true;
      continue;
    }
    if (word == "-o") {
      if (i + 1 >= args.size()) return invalid_argument("-o: expected text or json");
      const std::string& o = args[++i];
      if (o != "text" && o != "json") return invalid_argument("-o: expected text or json");
      out.json = o == "json";
      continue;
    }
    if (word.rfind("--", 0) != 0 || word.size() == 2) {
      return invalid_argument("unexpected argument '" + word + "' (arguments are --name value)");
    }
    std::string name = word.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
      value = args[++i];
    }
    if (name == "all" || name == "leader") {
      ++targets;
      name == "all" ? out.request.set_all(true) : out.request.set_leader(true);
    } else if (name == "instance" || name == "deadline-ms") {
      if (!value) return invalid_argument("--" + name + ": expected a value");
      NODUS_ASSIGN_OR_RETURN(uint32_t n, parse_uint("--" + name, *value));
      if (name == "instance") {
        ++targets;
        out.request.set_instance(n);
      } else {
        out.request.set_deadline_ms(n);
      }
    } else if (name == "run-dir" || name == "profile" || name == "output") {
      if (!value) return invalid_argument("--" + name + ": expected a value");
      if (name == "output") {
        if (*value != "text" && *value != "json") {
          return invalid_argument("--output: expected text or json");
        }
        out.json = *value == "json";
      } else {
        (name == "run-dir" ? out.run_dir : out.profile) = *value;
      }
    } else {
      auto& args_map = *out.request.mutable_args();
      if (args_map.count(name) > 0) return invalid_argument("--" + name + " is given twice");
      args_map[name] = value.value_or("");
    }
  }
  if (targets > 1) return invalid_argument("--instance, --all and --leader exclude each other");
  return out;
}

void print_command_help(const nodus::v1::CommandInfo& c) {
  std::printf("usage: nodus %s", c.name().c_str());
  for (const auto& a : c.args()) {
    const std::string usage = "--" + a.name() + " " + a.type();
    std::printf(a.required() ? " %s" : " [%s]", usage.c_str());
  }
  std::printf(
      " [--instance N | --all | --leader]\n\n%s\n(plugin %s; without a target it goes to %s)\n",
      c.help().c_str(), c.plugin().c_str(),
      c.target() == "leader" ? "the leader" : "every instance");
  for (const auto& a : c.args()) {
    std::string extra = a.required() ? "required" : "optional";
    if (!a.default_value().empty()) extra += ", default " + a.default_value();
    std::printf("  --%-16s %-9s %s (%s)\n", a.name().c_str(), a.type().c_str(), a.help().c_str(),
                extra.c_str());
  }
}

// What -o json shows of a result: its JSON object, else its text as a JSON string.
std::string body_json(const nodus::v1::CommandResult& r) {
  return r.json().empty() ? json_quote(r.text()) : r.json();
}

// What the text output shows: the text, else the JSON object.
std::string body_text(const nodus::v1::CommandResult& r) {
  return r.text().empty() ? r.json() : r.text();
}

int print_results(const std::string& command, const nodus::v1::CommandReply& reply, bool json,
                  bool single) {
  bool all_ok = true;
  bool bad_input = false;
  for (const auto& r : reply.results()) {
    all_ok = all_ok && r.code() == 0;
    // A bad argument, or a command the instance does not know, is the operator's input.
    bad_input = bad_input || r.code() == static_cast<int32_t>(StatusCode::kInvalidArgument) ||
                (r.code() == static_cast<int32_t>(StatusCode::kNotFound) &&
                 r.message().find("unknown command") != std::string::npos);
  }
  if (single && reply.results_size() == 1) {
    const auto& r = reply.results(0);
    if (r.code() != 0) {
      std::fprintf(stderr, "nodus %s: %s\n", command.c_str(), r.message().c_str());
      return bad_input ? kExitBadInput : kExitFailure;
    }
    const std::string text = json ? body_json(r) : body_text(r);
    std::printf("%s%s", text.c_str(), text.empty() || text.back() != '\n' ? "\n" : "");
    return kExitOk;
  }
  if (json) {
    JsonWriter w;
    w.begin_object().key("results").begin_array();
    for (const auto& r : reply.results()) {
      w.begin_object().key("instance").value(static_cast<uint64_t>(r.instance()));
      w.key("ok").value(r.code() == 0);
      if (r.code() == 0) {
        w.key("result").raw(body_json(r));
      } else {
        w.key("error").value(r.message());
      }
      w.end_object();
    }
    w.end_array().end_object();
    std::printf("%s\n", w.str().c_str());
  } else {
    for (const auto& r : reply.results()) {
      std::string text = r.code() == 0 ? body_text(r) : "error: " + r.message();
      while (!text.empty() && text.back() == '\n')
        text.pop_back();
      std::printf("instance %u: %s\n", r.instance(), text.c_str());
    }
  }
  return all_ok ? kExitOk : kExitFailure;
}

Result<std::unique_ptr<kernel::ControlClient>> connect_to(const std::string& run_dir,
                                                          const std::string& profile) {
  NODUS_ASSIGN_OR_RETURN(auto dir, kernel::find_run_dir(run_dir, profile));
  return kernel::ControlClient::connect(dir);
}

}  // namespace

int run_plugin_command(const std::string& command, const std::vector<std::string>& args) {
  auto line = parse_command_line(command, args);
  if (!line.ok()) {
    std::fprintf(stderr, "nodus %s: %s\n", command.c_str(), line.status().message().c_str());
    return kExitBadInput;
  }
  auto client = connect_to(line->run_dir, line->profile);
  if (!client.ok()) {
    std::fprintf(stderr,
                 "nodus: unknown command '%s': not a built-in command, and no running cluster to "
                 "ask for plugin commands (%s); see nodus help\n",
                 command.c_str(), client.status().message().c_str());
    return kExitBadInput;
  }
  if (line->help) {
    auto known = (*client)->commands();
    if (!known.ok()) {
      std::fprintf(stderr, "nodus %s: %s\n", command.c_str(), known.status().message().c_str());
      return kExitFailure;
    }
    for (const auto& c : known->commands()) {
      if (c.name() == command) {
        print_command_help(c);
        return kExitOk;
      }
    }
    std::fprintf(stderr, "nodus: unknown command '%s' (see nodus help)\n", command.c_str());
    return kExitBadInput;
  }
  auto reply = (*client)->command(line->request);
  if (!reply.ok()) {
    const bool unknown = reply.status().code() == StatusCode::kNotFound;
    std::fprintf(stderr, "nodus %s: %s\n", command.c_str(), reply.status().message().c_str());
    return unknown ? kExitBadInput : kExitFailure;
  }
  // One instance asked (by --instance, --leader, or the command's default): its answer alone.
  const bool single =
      line->request.target_case() != nodus::v1::CommandRequest::kAll && reply->results_size() == 1;
  return print_results(command, *reply, line->json, single);
}

int run_help(const std::vector<std::string>& args, const char* usage) {
  std::string run_dir, profile, topic;
  for (size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "--run-dir" || args[i] == "--profile") && i + 1 < args.size()) {
      (args[i] == "--run-dir" ? run_dir : profile) = args[i + 1];
      ++i;
    } else if (topic.empty() && args[i].rfind("-", 0) != 0) {
      topic = args[i];
    }
  }
  if (!topic.empty()) {
    // `nodus help scale` is `nodus scale --help`; a plugin command is described by the cluster.
    return run_plugin_command(topic, {"--help", "--run-dir", run_dir, "--profile", profile});
  }
  std::fputs(usage, stdout);
  auto client = connect_to(run_dir, profile);
  if (!client.ok()) {
    std::printf("\nplugin commands: none listed (%s)\n", client.status().message().c_str());
    return kExitOk;
  }
  auto known = (*client)->commands();
  if (!known.ok()) {
    std::printf("\nplugin commands: none listed (%s)\n", known.status().message().c_str());
    return kExitOk;
  }
  std::printf("\nplugin commands of the running cluster (nodus help COMMAND for the arguments):\n");
  if (known->commands_size() == 0) {
    std::printf("  (none%s)\n", known->error().empty() ? "" : ("; " + known->error()).c_str());
  }
  for (const auto& c : known->commands()) {
    std::printf("  %-33s %s [%s]\n", c.name().c_str(), c.help().c_str(), c.plugin().c_str());
  }
  return kExitOk;
}

}  // namespace nodus::cli
