#include "nodus/services/admin.h"

#include <charconv>
#include <set>

#include "duration_text.h"
#include "nodus/json.h"

namespace nodus {

namespace {

// Names travel as `--name` on a command line and as map keys in JSON: keep them plain.
bool plain_name(std::string_view name) {
  if (name.empty() || name.size() > kCommandNameMaxChars) return false;
  if (name.front() < 'a' || name.front() > 'z' || name.back() == '-') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<int64_t> parse_int(std::string_view text) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end || text.empty()) return std::nullopt;
  return v;
}

std::optional<int64_t> parse_bool(std::string_view text) {
  if (text == "true" || text == "yes" || text == "1" || text.empty()) return 1;
  if (text == "false" || text == "no" || text == "0") return 0;
  return std::nullopt;
}

std::optional<int64_t> parse_typed(ArgType type, std::string_view text) {
  switch (type) {
    case ArgType::kString:
      return 0;
    case ArgType::kInt:
      return parse_int(text);
    case ArgType::kBool:
      return parse_bool(text);
    case ArgType::kDuration:
      return internal::parse_duration_ns(text);
  }
  return std::nullopt;
}

std::string_view expected_form(ArgType type) {
  switch (type) {
    case ArgType::kString:
      return "text";
    case ArgType::kInt:
      return "a decimal integer";
    case ArgType::kBool:
      return "true or false";
    case ArgType::kDuration:
      return "a duration such as 250ms, 10s, 2m or 1h";
  }
  return "?";
}

}  // namespace

const std::vector<std::string>& reserved_command_names() {
  static const std::vector<std::string> names = {
      "certs",   "cleanup", "config", "down",   "health", "help",   "node",
      "plugins", "restart", "scale",  "status", "up",     "version"};
  return names;
}

std::string_view arg_type_name(ArgType type) {
  switch (type) {
    case ArgType::kString:
      return "string";
    case ArgType::kInt:
      return "int";
    case ArgType::kBool:
      return "bool";
    case ArgType::kDuration:
      return "duration";
  }
  return "";
}

const CommandArgs::Value* CommandArgs::find(std::string_view name, ArgType type) const {
  auto it = values_.find(std::string(name));
  if (it == values_.end() || it->second.type != type) return nullptr;
  return &it->second;
}

std::string CommandArgs::get_string(std::string_view name) const {
  const Value* v = find(name, ArgType::kString);
  return v ? v->text : std::string();
}
int64_t CommandArgs::get_int(std::string_view name) const {
  const Value* v = find(name, ArgType::kInt);
  return v ? v->number : 0;
}
bool CommandArgs::get_bool(std::string_view name) const {
  const Value* v = find(name, ArgType::kBool);
  return v != nullptr && v->number != 0;
}
Duration CommandArgs::get_duration(std::string_view name) const {
  const Value* v = find(name, ArgType::kDuration);
  return Duration(v ? v->number : 0);
}
std::vector<std::string> CommandArgs::names() const {
  std::vector<std::string> out;
  out.reserve(values_.size());
  for (const auto& [name, value] : values_)
    out.push_back(name);
  return out;
}

Result<CommandResult> bound_command_result(Result<CommandResult> result, std::string_view label) {
  const size_t size_bytes = result.ok() ? result->text.size() + result->json.size() : 0;
  if (size_bytes > kCommandResultMaxBytes) {
    return resource_exhausted(std::string(label) + " answered " + std::to_string(size_bytes) +
                              " bytes, over the limit of " +
                              std::to_string(kCommandResultMaxBytes));
  }
  return result;
}

Status check_command_spec(const CommandSpec& spec, std::string_view plugin) {
  const std::string who = "command '" + spec.name + "' of plugin " + std::string(plugin);
  if (!plain_name(spec.name)) {
    return invalid_argument(who + ": a name is 1-" + std::to_string(kCommandNameMaxChars) +
                            " characters of a-z, 0-9 and '-', starting with a letter");
  }
  for (const auto& name : reserved_command_names()) {
    if (name == spec.name) {
      return already_exists(who + ": the name is a built-in command of the nodus CLI");
    }
  }
  if (spec.help.empty() || spec.help.size() > kCommandHelpMaxChars ||
      spec.help.find('\n') != std::string::npos) {
    return invalid_argument(who + ": help must be one line of 1-" +
                            std::to_string(kCommandHelpMaxChars) + " characters");
  }
  if (spec.args.size() > kCommandArgsMax) {
    return invalid_argument(who + ": " + std::to_string(spec.args.size()) +
                            " arguments, over the limit of " + std::to_string(kCommandArgsMax));
  }
  std::set<std::string> seen;
  for (const auto& arg : spec.args) {
    const std::string which = who + ", argument '" + arg.name + "'";
    if (!plain_name(arg.name)) {
      return invalid_argument(which + ": a name is 1-" + std::to_string(kCommandNameMaxChars) +
                              " characters of a-z, 0-9 and '-', starting with a letter");
    }
    // Reserved for routing: the CLI reads these itself.
    if (arg.name == "instance" || arg.name == "all" || arg.name == "leader" ||
        arg.name == "run-dir" || arg.name == "help") {
      return invalid_argument(which + ": the name is reserved by the nodus CLI");
    }
    if (!seen.insert(arg.name).second) return already_exists(which + ": declared twice");
    if (arg.help.size() > kCommandHelpMaxChars) {
      return invalid_argument(which + ": help is over " + std::to_string(kCommandHelpMaxChars) +
                              " characters");
    }
    if (!arg.default_value.empty()) {
      if (arg.required) return invalid_argument(which + ": a required argument has no default");
      if (!parse_typed(arg.type, arg.default_value)) {
        return invalid_argument(which + ": default '" + arg.default_value + "' is not " +
                                std::string(expected_form(arg.type)));
      }
    }
  }
  return {};
}

Result<CommandArgs> parse_command_args(const CommandSpec& spec,
                                       const std::map<std::string, std::string>& given) {
  const std::string who = "command '" + spec.name + "'";
  for (const auto& [name, value] : given) {
    bool declared = false;
    for (const auto& arg : spec.args)
      declared = declared || arg.name == name;
    if (!declared) {
      std::string known;
      for (const auto& arg : spec.args)
        known += (known.empty() ? "--" : ", --") + arg.name;
      return invalid_argument(who + ": unknown argument --" + name +
                              (known.empty() ? " (it takes none)" : " (it takes " + known + ")"));
    }
    if (value.size() > kCommandArgValueMaxBytes) {
      return invalid_argument(who + ": argument --" + name + " is " + std::to_string(value.size()) +
                              " bytes, over the limit of " +
                              std::to_string(kCommandArgValueMaxBytes));
    }
  }
  CommandArgs out;
  for (const auto& arg : spec.args) {
    auto it = given.find(arg.name);
    std::string text;
    if (it != given.end()) {
      text = it->second;
    } else if (arg.required) {
      return invalid_argument(who + ": argument --" + arg.name + " is required");
    } else if (arg.default_value.empty()) {
      continue;
    } else {
      text = arg.default_value;
    }
    auto number = parse_typed(arg.type, text);
    if (!number) {
      return invalid_argument(who + ": argument --" + arg.name + " '" + text + "' is not " +
                              std::string(expected_form(arg.type)));
    }
    out.values_[arg.name] = CommandArgs::Value{arg.type, std::move(text), *number};
  }
  return out;
}

StatusSection bound_status_section(StatusSection section, std::string_view plugin) {
  size_t begin = section.json.find_first_not_of(" \t\r\n");
  size_t end = section.json.find_last_not_of(" \t\r\n");
  const bool object =
      begin != std::string::npos && section.json[begin] == '{' && section.json[end] == '}';
  if (!object) {
    section.json =
        "{\"error\":" +
        json_quote("the status section of " + std::string(plugin) + " is not a JSON object") + "}";
  } else if (section.json.size() > kStatusSectionMaxBytes) {
    section.json = "{\"error\":" +
                   json_quote("the status section of " + std::string(plugin) + " is " +
                              std::to_string(section.json.size()) + " bytes, over the limit of " +
                              std::to_string(kStatusSectionMaxBytes)) +
                   "}";
  }
  const size_t newline = section.column.find_first_of("\r\n");
  if (newline != std::string::npos) section.column.resize(newline);
  if (section.column.size() > kStatusColumnMaxChars) {
    // Cut on a UTF-8 boundary, leaving room for the marker that says the text was cut.
    size_t cut = kStatusColumnMaxChars - 1;
    while (cut > 0 && (static_cast<unsigned char>(section.column[cut]) & 0xC0) == 0x80)
      --cut;
    section.column.resize(cut);
    section.column += "~";
  }
  return section;
}

}  // namespace nodus
