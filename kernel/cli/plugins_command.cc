// `nodus plugins list` and `nodus plugins inspect FILE`.
#include <cstdio>
#include <iostream>

#include "kernel/cli/commands.h"
#include "kernel/cli/options.h"
#include "kernel/loader/plugin_loader.h"
#include "kernel/runtime/json_writer.h"

namespace nodus::cli {
namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

void write_descriptor_json(kernel::JsonWriter& w, const kernel::LoadedPlugin& p) {
  const PluginDescriptor& d = *p.descriptor;
  w.begin_object();
  w.key("name").value(d.name).key("version").value(d.version);
  w.key("category").value(d.category).key("description").value(d.description);
  w.key("file").value(p.file.string());
  w.key("abi_version").value(static_cast<unsigned>(kAbiVersion));
  w.key("abi_fingerprint").value(abi_fingerprint());
  for (const auto& [key, list] : {std::pair{"provides", &d.provides},
                                  std::pair{"requires", &d.needs}, std::pair{"uses", &d.uses}}) {
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
    w.end_object();
  }
  w.end_array();
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
  std::printf("file:         %s\n", p.file.c_str());
  std::printf("abi:          %u (%s)\n", kAbiVersion, abi_fingerprint());
  std::printf("provides:     %s\n", join(d.provides).c_str());
  std::printf("requires:     %s\n", join(d.needs).c_str());
  std::printf("uses:         %s\n", join(d.uses).c_str());
  std::printf("config keys:%s\n", d.config.empty() ? "  -" : "");
  for (const auto& k : d.config) {
    std::printf("  %-20s %-8s %s%s%s\n", k.name.c_str(),
                std::string(config_type_name(k.type)).c_str(), k.required ? "(required) " : "",
                k.default_value.empty() ? "" : ("[default " + k.default_value + "] ").c_str(),
                k.description.c_str());
  }
}

int usage(const po::options_description& desc) {
  std::cout << "usage: nodus plugins list [options]\n       nodus plugins inspect FILE [-o json]\n"
            << desc;
  return kExitOk;
}

}  // namespace

int run_plugins(const std::vector<std::string>& args) {
  po::options_description desc("options");
  desc.add_options()("help,h", "show this help")(
      "output,o", po::value<std::string>()->default_value("text"), "text | json")(
      "plugin-dir", po::value<std::vector<std::string>>()->composing(),
      "plugin directory, repeatable (default: the kernel's, plus NODUS_PLUGIN_DIR)")(
      "action", po::value<std::string>(), "list | inspect")("file", po::value<std::string>(),
                                                            "plugin file for inspect");
  po::positional_options_description pos;
  pos.add("action", 1).add("file", 1);
  po::variables_map vm;
  if (!parse_flags(args, desc, pos, "plugins", vm)) return kExitBadInput;
  if (vm.count("help") || !vm.count("action")) return usage(desc);
  const std::string output = vm["output"].as<std::string>();
  if (output != "text" && output != "json") {
    std::fprintf(stderr, "nodus plugins: -o %s: expected text or json\n", output.c_str());
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
    if (output == "json") {
      kernel::JsonWriter w;
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
  std::vector<fs::path> dirs = options.ok() ? options->plugin_dirs : std::vector<fs::path>{};
  dirs.push_back(kernel::PluginLoader::default_plugin_dir());
  kernel::PluginLoader loader(dirs);
  kernel::ScanResult scan = loader.scan();
  for (const auto& problem : scan.problems) {
    std::fprintf(stderr, "warning: %s\n", problem.status.message().c_str());
  }
  if (output == "json") {
    kernel::JsonWriter w;
    w.begin_object().key("plugins").begin_array();
    for (const auto& p : scan.plugins)
      write_descriptor_json(w, p);
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
  for (const auto& p : scan.plugins) {
    std::printf("%-32s %-10s %-14s %s\n", p.name().c_str(), p.descriptor->version.c_str(),
                p.descriptor->category.c_str(), p.file.c_str());
  }
  return kExitOk;
}

}  // namespace nodus::cli
