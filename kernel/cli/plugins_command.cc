// `nodus plugins list` and `nodus plugins inspect FILE`.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "kernel/cli/commands.h"
#include "kernel/cli/options.h"
#include "kernel/loader/plugin_loader.h"
#include "nodus/json.h"

namespace nodus::cli {
namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

// `shadowed_by`: the file of the same name that an earlier plugin directory holds, which a
// node loads instead of this one ("" when this file is the one loaded).
void write_descriptor_json(JsonWriter& w, const kernel::LoadedPlugin& p,
                           const std::string& shadowed_by = "") {
  const PluginDescriptor& d = *p.descriptor;
  w.begin_object();
  w.key("name").value(d.name).key("version").value(d.version);
  w.key("category").value(d.category).key("description").value(d.description);
  w.key("status").value(plugin_status_name(d.status));
  w.key("file").value(p.file.string());
  w.key("abi_version").value(static_cast<unsigned>(kAbiVersion));
  w.key("abi_fingerprint").value(abi_fingerprint());
  for (const auto& [key, list] : {std::pair{"provides", &d.provides}, std::pair{"needs", &d.needs},
                                  std::pair{"uses", &d.uses}}) {
    w.key(key).begin_array();
    for (const auto& c : *list)
      w.value(c);
    w.end_array();
  }
  w.key("config").begin_array();
  for (const auto& k : d.config) {
    w.begin_object();
    w.key("name").value(k.name).key("type").value(config_type_name(k.type));
    w.key("required").value(k.required).key("default").value(k.default_value);
    w.key("description").value(k.description);
    // Constraints, only where declared, so a plain key reads as before.
    if (k.type == ConfigType::kList && k.element_type != ConfigType::kAny) {
      w.key("element_type").value(config_type_name(k.element_type));
    }
    if (k.min) w.key("min").value(*k.min);
    if (k.max) w.key("max").value(*k.max);
    if (!k.allowed.empty()) {
      w.key("allowed").begin_array();
      for (const auto& a : k.allowed)
        w.value(a);
      w.end_array();
    }
    const std::string constraints = config_constraints_text(k);
    if (!constraints.empty()) w.key("constraints").value(constraints);
    w.end_object();
  }
  w.end_array();
  if (!shadowed_by.empty()) w.key("shadowed_by").value(shadowed_by);
  w.end_object();
}

void print_descriptor_text(const kernel::LoadedPlugin& p) {
  const PluginDescriptor& d = *p.descriptor;
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v)
      s += (s.empty() ? "" : ", ") + x;
    return s.empty() ? std::string("-") : s;
  };
  std::printf("name:         %s\n", d.name.c_str());
  std::printf("version:      %s\n", d.version.c_str());
  std::printf("category:     %s\n", d.category.c_str());
  std::printf("description:  %s\n", d.description.c_str());
  std::printf("status:       %s\n", std::string(plugin_status_name(d.status)).c_str());
  std::printf("file:         %s\n", p.file.c_str());
  std::printf("abi:          %u (%s)\n", kAbiVersion, abi_fingerprint());
  std::printf("provides:     %s\n", join(d.provides).c_str());
  std::printf("needs:        %s\n", join(d.needs).c_str());
  std::printf("uses:         %s\n", join(d.uses).c_str());
  std::printf("config keys:%s\n", d.config.empty() ? "  -" : "");
  for (const auto& k : d.config) {
    const std::string constraints = config_constraints_text(k);
    std::printf("  %-20s %-8s %s%s%s%s\n", k.name.c_str(), config_type_label(k).c_str(),
                k.required ? "(required) " : "",
                k.default_value.empty() ? "" : ("[default " + k.default_value + "] ").c_str(),
                constraints.empty() ? "" : ("{" + constraints + "} ").c_str(),
                k.description.c_str());
  }
}

// Text for one Markdown table cell or list item: one line, pipes escaped.
std::string md_cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string md_code_list(const std::vector<std::string>& items) {
  if (items.empty()) return "-";
  std::string out;
  for (const auto& item : items)
    out += (out.empty() ? "`" : ", `") + md_cell(item) + "`";
  return out;
}

// The anchor GitHub gives a heading: lowercase, punctuation other than - and _ dropped.
std::string md_anchor(std::string_view heading) {
  std::string out;
  for (char c : heading) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') out += c;
    if (c >= 'A' && c <= 'Z') out += static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The plugin catalogue (docs/plugins.md): a summary table, then one section per plugin with
// its capabilities and config keys. Only what the descriptors say and the file's name, never
// its directory, so the page is the same in every build tree.
void print_catalog_markdown(const std::vector<kernel::LoadedPlugin>& plugins) {
  std::printf(
      "# Plugins\n\n"
      "<!-- Generated by `nodus plugins list -o markdown` from the built plugins' descriptors; "
      "do not edit by hand. -->\n\n"
      "Every plugin, as its descriptor describes it. *stable*: config keys, capabilities and "
      "metrics change only with a new major version of the plugin; *experimental*: they may "
      "change in any release.\n\n");
  std::printf("| plugin | version | category | status | description |\n");
  std::printf("|---|---|---|---|---|\n");
  for (const auto& p : plugins) {
    const PluginDescriptor& d = *p.descriptor;
    std::printf("| [%s](#%s) | %s | %s | %s | %s |\n", md_cell(d.name).c_str(),
                md_anchor(d.name).c_str(), md_cell(d.version).c_str(), md_cell(d.category).c_str(),
                std::string(plugin_status_name(d.status)).c_str(), md_cell(d.description).c_str());
  }
  for (const auto& p : plugins) {
    const PluginDescriptor& d = *p.descriptor;
    std::printf("\n## %s\n\n%s\n\n", d.name.c_str(), md_cell(d.description).c_str());
    std::printf("- file: `%s`\n", md_cell(p.file.filename().string()).c_str());
    std::printf("- version: %s\n", md_cell(d.version).c_str());
    std::printf("- category: %s\n", md_cell(d.category).c_str());
    std::printf("- status: %s\n", std::string(plugin_status_name(d.status)).c_str());
    std::printf("- provides: %s\n", md_code_list(d.provides).c_str());
    std::printf("- needs: %s\n", md_code_list(d.needs).c_str());
    std::printf("- uses: %s\n", md_code_list(d.uses).c_str());
    if (d.config.empty()) {
      std::printf("\nNo config keys.\n");
      continue;
    }
    std::printf("\n| config key | type | default | required | description |\n");
    std::printf("|---|---|---|---|---|\n");
    for (const auto& k : d.config) {
      const std::string fallback =
          k.default_value.empty() ? std::string("-") : "`" + md_cell(k.default_value) + "`";
      // The type cell carries the constraints ("integer, between 1 and 64").
      std::string type = config_type_label(k);
      if (const std::string c = config_constraints_text(k); !c.empty()) type += ", " + c;
      std::printf("| `%s` | %s | %s | %s | %s |\n", md_cell(k.name).c_str(), md_cell(type).c_str(),
                  fallback.c_str(), k.required ? "yes" : "no", md_cell(k.description).c_str());
    }
  }
}

int usage(const po::options_description& desc) {
  std::cout << "usage: nodus plugins list [--profile FILE] [--plugin-dir DIR]... [-o FORMAT]\n"
               "       nodus plugins inspect FILE [-o json]\n\n"
               "`list` searches the directories in the order a node does: --plugin-dir, then the\n"
               "profile's plugin_dirs (NODUS_PLUGIN_DIRS without --profile), then the kernel's\n"
               "own. A name found in an earlier directory shadows the same name in a later one;\n"
               "such a file is listed as shadowed, with the file loaded instead.\n\n"
            << desc;
  return kExitOk;
}

// The directories a node of `options` searches, in order: --plugin-dir, the profile's
// plugin_dirs (NODUS_PLUGIN_DIRS, the environment form of that key, without a profile), then
// the kernel's own.
Result<std::vector<fs::path>> search_dirs(const ProfileOptions& options) {
  std::vector<fs::path> dirs = options.plugin_dirs;
  if (!options.profile.empty()) {
    NODUS_ASSIGN_OR_RETURN(kernel::Profile profile, load_profile(options));
    dirs.insert(dirs.end(), profile.plugin_dirs.begin(), profile.plugin_dirs.end());
  } else if (const char* env = std::getenv("NODUS_PLUGIN_DIRS"); env != nullptr) {
    std::string_view rest = env;
    while (!rest.empty()) {
      const size_t colon = std::min(rest.find(':'), rest.size());
      if (colon > 0) dirs.emplace_back(std::string(rest.substr(0, colon)));
      rest.remove_prefix(std::min(colon + 1, rest.size()));
    }
  }
  dirs.push_back(kernel::PluginLoader::default_plugin_dir());
  return dirs;
}

// For each scanned plugin (sorted by name, directories in search order within a name), the
// file a node loads instead of it, or "" when it is the one loaded.
std::vector<std::string> shadowing(const std::vector<kernel::LoadedPlugin>& plugins) {
  std::vector<std::string> out(plugins.size());
  for (size_t i = 1; i < plugins.size(); ++i) {
    size_t first = i;
    while (first > 0 && plugins[first - 1].name() == plugins[i].name())
      --first;
    if (first != i && plugins[first].file.parent_path() != plugins[i].file.parent_path()) {
      out[i] = plugins[first].file.string();
    }
  }
  return out;
}

}  // namespace

int run_plugins(const std::vector<std::string>& args) {
  po::options_description desc("options");
  desc.add_options()("help,h", "show this help")(
      "output,o", po::value<std::string>()->default_value("text"),
      "text | json | markdown (markdown: list only; the page docs/plugins.md is made of)")(
      "plugin-dir", po::value<std::vector<std::string>>()->composing(),
      "plugin directory searched first, repeatable; then the profile's plugin_dirs (or "
      "NODUS_PLUGIN_DIRS, ':'-separated) and the kernel's own")(
      "profile,p", po::value<std::string>(),
      "list what this profile's nodes find: its plugin_dirs before the kernel's own "
      "(NODUS_PROFILE)")("action", po::value<std::string>(), "list | inspect")(
      "file", po::value<std::string>(), "plugin file for inspect");
  po::positional_options_description pos;
  pos.add("action", 1).add("file", 1);
  po::variables_map vm;
  if (!parse_flags(args, desc, pos, "plugins", vm)) return kExitBadInput;
  if (vm.count("help") || !vm.count("action")) return usage(desc);
  const std::string output = vm["output"].as<std::string>();
  if (output != "text" && output != "json" && output != "markdown") {
    std::fprintf(stderr, "nodus plugins: -o %s: expected text, json or markdown\n", output.c_str());
    return kExitBadInput;
  }
  const std::string action = vm["action"].as<std::string>();

  if (action == "inspect") {
    if (!vm.count("file")) {
      std::fprintf(stderr, "nodus plugins inspect: missing FILE\n");
      return kExitBadInput;
    }
    auto loaded = kernel::PluginLoader::open_any(vm["file"].as<std::string>());
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().message().c_str());
      return kExitBadInput;
    }
    if (output == "markdown") {
      print_catalog_markdown({*loaded});
    } else if (output == "json") {
      JsonWriter w;
      write_descriptor_json(w, *loaded);
      std::printf("%s\n", w.str().c_str());
    } else {
      print_descriptor_text(*loaded);
    }
    return kExitOk;
  }
  if (action != "list") {
    std::fprintf(stderr, "nodus plugins: unknown action '%s' (list | inspect)\n", action.c_str());
    return kExitBadInput;
  }
  auto options = profile_options(vm);
  auto dirs =
      options.ok() ? search_dirs(*options) : Result<std::vector<fs::path>>(options.status());
  if (!dirs.ok()) {
    std::fprintf(stderr, "%s\n", dirs.status().message().c_str());
    return kExitBadInput;
  }
  // The loader drops a directory named twice (--plugin-dir of the default one).
  kernel::PluginLoader loader(*dirs);
  kernel::ScanResult scan = loader.scan();
  const std::vector<std::string> shadowed_by = shadowing(scan.plugins);
  for (const auto& problem : scan.problems) {
    std::fprintf(stderr, "warning: %s\n", problem.status.message().c_str());
  }
  if (output == "markdown") {
    // The catalogue must cover every file: a plugin that does not load is an error here, not
    // a line missing from the page.
    if (!scan.problems.empty()) return kExitBadInput;
    std::vector<kernel::LoadedPlugin> loaded;
    for (size_t i = 0; i < scan.plugins.size(); ++i) {
      if (shadowed_by[i].empty()) loaded.push_back(scan.plugins[i]);
    }
    print_catalog_markdown(loaded);
    return kExitOk;
  }
  if (output == "json") {
    JsonWriter w;
    w.begin_object().key("plugins").begin_array();
    for (size_t i = 0; i < scan.plugins.size(); ++i)
      write_descriptor_json(w, scan.plugins[i], shadowed_by[i]);
    w.end_array().key("problems").begin_array();
    for (const auto& problem : scan.problems) {
      w.begin_object().key("file").value(problem.file.string());
      w.key("error").value(problem.status.message()).end_object();
    }
    w.end_array().end_object();
    std::printf("%s\n", w.str().c_str());
    return kExitOk;
  }
  std::printf("%-32s %-10s %-14s %s\n", "NAME", "VERSION", "CATEGORY", "FILE");
  for (size_t i = 0; i < scan.plugins.size(); ++i) {
    const kernel::LoadedPlugin& p = scan.plugins[i];
    const std::string note = shadowed_by[i].empty() ? "" : " (shadowed by " + shadowed_by[i] + ")";
    std::printf("%-32s %-10s %-14s %s%s\n", p.name().c_str(), p.descriptor->version.c_str(),
                p.descriptor->category.c_str(), p.file.c_str(), note.c_str());
  }
  return kExitOk;
}

}  // namespace nodus::cli
