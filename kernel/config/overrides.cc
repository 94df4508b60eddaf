#include "kernel/config/overrides.h"

#include <array>
#include <utility>

#include "kernel/config/node_util.h"
#include "kernel/config/yaml_loader.h"

namespace nodus::kernel {
namespace {

using nodus::ConfigNode;
using nodus::SourceMark;

constexpr std::array<EnvBinding, 9> kEnvBindings = {{
    {"NODUS_INSTANCES", "instances"},
    {"NODUS_BIND", "bind"},
    {"NODUS_PORTS_BASE", "ports.base"},
    {"NODUS_PORTS_STRIDE", "ports.stride"},
    {"NODUS_DATA_DIR", "data_dir"},
    {"NODUS_RUN_DIR", "run_dir"},
    {"NODUS_PLUGIN_DIRS", "plugin_dirs"},
    {"NODUS_LOG_LEVEL", "log.level"},
    {"NODUS_LOG_FORMAT", "log.format"},
}};

// A YAML double-quoted scalar holding exactly `text`.
std::string yaml_quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.emplace_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

// Everything one override needs while it walks down the tree.
struct OverrideContext {
  const ConfigOverride& request;
  SourceMark mark;  // {source, 0, 0}
  ConfigNode value;

  nodus::Status error(std::string_view message) const {
    return ConfigNode::make_null(mark, request.path).error(message);
  }
};

// Returns `node` (a map, or null/absent when `node` is nullptr or null) with the key path
// `keys[i..]` set to the override's value. `path` is the node's own path.
nodus::Result<ConfigNode> set_path(const ConfigNode* node, const std::string& path,
                                   const std::vector<std::string>& keys, size_t i,
                                   const OverrideContext& ctx) {
  if (i == keys.size()) return relocate(ctx.value, path, nullptr, &ctx.mark);
  if (node != nullptr && !node->is_map() && !node->is_null()) {
    return ctx.error("cannot set this key: '" + path + "' is " +
                     (node->is_scalar() ? "a scalar" : "a list") + ", not a map");
  }
  const bool exists = node != nullptr && node->is_map();
  std::vector<ConfigNode::Entry> entries;
  if (exists) entries = node->entries();
  const std::string next_path = child_path(path, keys[i]);
  bool replaced = false;
  for (auto& [key, child] : entries) {
    if (key != keys[i]) continue;
    NODUS_ASSIGN_OR_RETURN(child, set_path(&child, next_path, keys, i + 1, ctx));
    replaced = true;
  }
  if (!replaced) {
    NODUS_ASSIGN_OR_RETURN(ConfigNode child, set_path(nullptr, next_path, keys, i + 1, ctx));
    entries.emplace_back(keys[i], std::move(child));
  }
  return ConfigNode::make_map(std::move(entries), exists ? node->mark() : ctx.mark, path);
}

// "plugins.<plugin name>.<rest>": the entry is found by the longest matching plugin name.
nodus::Result<ConfigNode> set_plugin_path(const ConfigNode& root, const OverrideContext& ctx) {
  const std::string rest = ctx.request.path.substr(std::string_view("plugins.").size());
  const ConfigNode* plugins = root.find("plugins");
  std::vector<ConfigNode> items;
  if (plugins != nullptr && plugins->is_sequence()) items = plugins->items();
  size_t best = items.size();
  size_t best_length = 0;
  std::string names;
  for (size_t i = 0; i < items.size(); ++i) {
    const ConfigNode* name = items[i].find("name");
    if (name == nullptr || !name->is_scalar()) continue;
    const std::string& n = name->scalar();
    names += (names.empty() ? "" : ", ") + n;
    if (rest.size() > n.size() && rest.compare(0, n.size(), n) == 0 && rest[n.size()] == '.' &&
        n.size() > best_length) {
      best = i;
      best_length = n.size();
    }
  }
  if (best == items.size()) {
    return ctx.error("no plugin in the profile matches this path (plugins: " +
                     (names.empty() ? std::string("none") : names) + ")");
  }
  const std::vector<std::string> keys = split(rest.substr(best_length + 1), '.');
  NODUS_ASSIGN_OR_RETURN(items[best], set_path(&items[best], items[best].path(), keys, 0, ctx));
  std::vector<ConfigNode::Entry> entries = root.entries();
  for (auto& [key, child] : entries) {
    if (key == "plugins") {
      child = ConfigNode::make_sequence(std::move(items), child.mark(), child.path());
      break;  // keys are unique (the loader rejects duplicates)
    }
  }
  return ConfigNode::make_map(std::move(entries), root.mark(), root.path());
}

nodus::Result<ConfigNode> apply_one(const ConfigNode& root, const ConfigOverride& o) {
  const SourceMark mark{o.source, 0, 0};
  const std::vector<std::string> keys = split(o.path, '.');
  for (const std::string& key : keys) {
    if (key.empty()) {
      return ConfigNode::make_null(mark, o.path).error("invalid key path (empty key)");
    }
  }
  auto parsed = load_yaml_string(o.value, o.source);
  if (!parsed.ok()) {
    // Keep the parser's reason, drop its position inside the one-line value.
    std::string reason = parsed.status().message();
    if (reason.starts_with(o.source)) {
      const size_t colon = reason.find(": ", o.source.size());
      if (colon != std::string::npos) reason = reason.substr(colon + 2);
    }
    if (reason.starts_with("yaml: ")) reason = reason.substr(6);
    return ConfigNode::make_null(mark, o.path)
        .error("cannot parse value '" + o.value + "' as YAML: " + reason);
  }
  OverrideContext ctx{o, mark, std::move(parsed).value()};
  if (!root.is_map() && !root.is_null()) {
    return ctx.error("cannot apply an override: the profile is not a map");
  }
  if (keys.size() > 1 && keys[0] == "plugins") return set_plugin_path(root, ctx);
  return set_path(&root, root.path(), keys, 0, ctx);
}

}  // namespace

std::span<const EnvBinding> env_bindings() {
  return kEnvBindings;
}

std::vector<ConfigOverride> overrides_from_env(
    const std::function<const char*(const char*)>& lookup) {
  std::vector<ConfigOverride> out;
  for (const EnvBinding& binding : kEnvBindings) {
    const std::string variable(binding.variable);
    const char* raw = lookup(variable.c_str());
    if (raw == nullptr || *raw == '\0') continue;
    std::string value = raw;
    if (binding.path == "plugin_dirs") {
      std::string list = "[";
      for (const std::string& dir : split(value, ':')) {
        if (dir.empty()) continue;
        if (list.size() > 1) list += ", ";
        list += yaml_quoted(dir);
      }
      value = list + "]";
    }
    out.push_back({std::string(binding.path), std::move(value), variable});
  }
  return out;
}

nodus::Result<ConfigOverride> parse_set_flag(std::string_view argument) {
  const size_t eq = argument.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return nodus::invalid_argument("--set: expected PATH=VALUE, got '" + std::string(argument) +
                                   "'");
  }
  return ConfigOverride{std::string(argument.substr(0, eq)), std::string(argument.substr(eq + 1)),
                        "--set"};
}

nodus::Result<nodus::ConfigNode> apply_overrides(const nodus::ConfigNode& root,
                                                 const std::vector<ConfigOverride>& overrides) {
  ConfigNode current = root;
  for (const ConfigOverride& o : overrides) {
    NODUS_ASSIGN_OR_RETURN(current, apply_one(current, o));
  }
  return current;
}

}  // namespace nodus::kernel
