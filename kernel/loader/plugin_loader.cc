#include "loader/plugin_loader.h"

#include <dlfcn.h>
#include <elf.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "loader/sha256.h"

namespace nodus::kernel {
namespace fs = std::filesystem;

namespace {

Status file_error(const fs::path& file, StatusCode code, std::string_view what) {
  return {code, file.string() + ": " + std::string(what)};
}

// dlopen() happily maps odd files and then fails deep inside; checking the ELF header first
// gives the operator a precise reason for the common mistakes (a text file, an executable).
Status check_elf_shared_object(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return file_error(file, StatusCode::kNotFound, "cannot open plugin file");
  Elf64_Ehdr header{};
  in.read(reinterpret_cast<char*>(&header), sizeof(header));
  if (in.gcount() < static_cast<std::streamsize>(EI_NIDENT) ||
      std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0) {
    return file_error(file, StatusCode::kInvalidArgument, "not a shared object (no ELF header)");
  }
  if (in.gcount() == sizeof(header) && header.e_ident[EI_CLASS] == ELFCLASS64 &&
      header.e_type != ET_DYN) {
    return file_error(file, StatusCode::kInvalidArgument,
                      "not a shared object (ELF type is not ET_DYN)");
  }
  return {};
}

// Loads with RTLD_NOW so that unresolved symbols fail here, with dlerror()'s explanation,
// rather than at the first call into the plugin. RTLD_NODELETE keeps the code mapped after
// the last handle goes: plugins are never unloaded while the process runs (ARCHITECTURE.md),
// and they must not be, because a plugin's generated protobuf code registers its descriptors
// in libprotobuf's process-wide pool, which cannot forget them. Unloading and loading such a
// plugin again (a SimCluster per test, a node restarted in-process) registered the same
// .proto twice and aborted the process; whether it happened depended on the optimiser, since
// any STB_GNU_UNIQUE symbol in the plugin also pins it.
Result<std::shared_ptr<boost::dll::shared_library>> load_library(const fs::path& file) {
  void* probe = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (probe == nullptr) {
    const char* why = ::dlerror();
    return file_error(file, StatusCode::kInvalidArgument,
                      std::string("cannot load shared object: ") + (why ? why : "unknown error"));
  }
  boost::dll::fs::error_code ec;
  auto lib = std::make_shared<boost::dll::shared_library>(
      file.string(), ec, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  ::dlclose(probe);  // Boost.DLL holds its own reference now.
  if (ec) {
    return file_error(file, StatusCode::kInvalidArgument,
                      "cannot load shared object: " + ec.message());
  }
  return lib;
}

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// [a-z0-9][a-z0-9._-]* optionally followed by /v<digits>, e.g. "nodus.consensus/v1".
bool valid_capability_name(std::string_view cap) {
  std::string_view base = cap;
  if (const size_t slash = cap.find('/'); slash != std::string_view::npos) {
    base = cap.substr(0, slash);
    const std::string_view version = cap.substr(slash + 1);
    if (version.size() < 2 || version[0] != 'v') return false;
    for (char c : version.substr(1)) {
      if (!is_digit(c)) return false;
    }
  }
  if (base.empty() || !is_lower_alnum(base[0])) return false;
  for (char c : base) {
    if (!is_lower_alnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

// A dot-separated list of non-empty identifiers made of [0-9A-Za-z-].
bool valid_semver_identifiers(std::string_view s) {
  if (s.empty()) return false;
  size_t start = 0;
  while (true) {
    const size_t dot = std::min(s.find('.', start), s.size());
    if (dot == start) return false;
    for (size_t i = start; i < dot; ++i) {
      const char c = s[i];
      if (!is_lower_alnum(c) && !(c >= 'A' && c <= 'Z') && c != '-') return false;
    }
    if (dot == s.size()) return true;
    start = dot + 1;
  }
}

// A decimal number without leading zeros ("0", "12", not "012").
bool valid_version_number(std::string_view s) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

}  // namespace

bool is_semver(std::string_view version) {
  // MAJOR.MINOR.PATCH[-prerelease][+build], per semver.org.
  std::string_view core = version;
  if (const size_t plus = core.find('+'); plus != std::string_view::npos) {
    if (!valid_semver_identifiers(core.substr(plus + 1))) return false;
    core = core.substr(0, plus);
  }
  if (const size_t dash = core.find('-'); dash != std::string_view::npos) {
    if (!valid_semver_identifiers(core.substr(dash + 1))) return false;
    core = core.substr(0, dash);
  }
  const size_t first = core.find('.');
  const size_t second = first == std::string_view::npos ? first : core.find('.', first + 1);
  if (second == std::string_view::npos || core.find('.', second + 1) != std::string_view::npos) {
    return false;
  }
  return valid_version_number(core.substr(0, first)) &&
         valid_version_number(core.substr(first + 1, second - first - 1)) &&
         valid_version_number(core.substr(second + 1));
}

bool is_reverse_dns_name(std::string_view name) {
  // At least three dot-separated labels of [a-z0-9-].
  if (name.empty() || name.size() > 128) return false;
  size_t labels = 0;
  size_t start = 0;
  while (start <= name.size()) {
    const size_t dot = std::min(name.find('.', start), name.size());
    if (dot == start) return false;
    for (size_t i = start; i < dot; ++i) {
      if (!is_lower_alnum(name[i]) && name[i] != '-') return false;
    }
    ++labels;
    start = dot + 1;
  }
  return labels >= 3;
}

Status validate_descriptor(const PluginDescriptor& d) {
  if (d.name.empty()) return invalid_argument("descriptor has an empty name");
  if (!is_reverse_dns_name(d.name)) {
    return invalid_argument("descriptor name '" + d.name +
                            "' is not a reverse-DNS name such as io.example.hello");
  }
  if (!is_semver(d.version)) {
    return invalid_argument("plugin " + d.name + ": version '" + d.version +
                            "' is not a semantic version such as 1.2.0");
  }
  if (d.category.empty()) return invalid_argument("plugin " + d.name + ": empty category");
  if (!d.factory) return invalid_argument("plugin " + d.name + ": descriptor has no factory");
  for (const auto* list : {&d.provides, &d.needs, &d.uses}) {
    for (const auto& cap : *list) {
      if (!valid_capability_name(cap)) {
        return invalid_argument("plugin " + d.name + ": bad capability name '" + cap + "'");
      }
    }
  }
  std::set<std::string> keys;
  for (const auto& key : d.config) {
    if (key.name.empty() || !keys.insert(key.name).second) {
      return invalid_argument("plugin " + d.name + ": config key '" + key.name +
                              "' is empty or declared twice");
    }
  }
  return {};
}

PluginLoader::PluginLoader(std::vector<fs::path> plugin_dirs) {
  for (auto& dir : plugin_dirs) {
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(dir, ec);
    dirs_.push_back(ec ? dir : canonical);
  }
}

fs::path PluginLoader::default_plugin_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "/usr/local/lib/nodus/plugins";
  return exe.parent_path().parent_path() / "lib" / "nodus" / "plugins";
}

bool PluginLoader::inside_plugin_dir(const fs::path& canonical_file) const {
  for (const auto& dir : dirs_) {
    auto rel = canonical_file.lexically_relative(dir);
    if (!rel.empty() && *rel.begin() != ".." && rel.is_relative()) return true;
  }
  return false;
}

Result<LoadedPlugin> PluginLoader::open(const fs::path& file) const {
  std::error_code ec;
  const fs::path canonical = fs::canonical(file, ec);
  if (ec) return file_error(file, StatusCode::kNotFound, "plugin file not found");
  if (!inside_plugin_dir(canonical)) {
    std::string dirs;
    for (const auto& d : dirs_)
      dirs += (dirs.empty() ? "" : ", ") + d.string();
    return file_error(file, StatusCode::kPermissionDenied,
                      "refusing to load a plugin from outside the plugin directories (" +
                          (dirs.empty() ? std::string("none configured") : dirs) + ")");
  }
  return open_any(canonical);
}

Result<LoadedPlugin> PluginLoader::open_any(const fs::path& file) {
  NODUS_RETURN_IF_ERROR(check_elf_shared_object(file));
  NODUS_ASSIGN_OR_RETURN(auto library, load_library(file));
  if (!library->has(kEntryPointName)) {
    return file_error(file, StatusCode::kInvalidArgument,
                      std::string("no nodus entry point (symbol '") + kEntryPointName +
                          "'); was it built with NODUS_PLUGIN()?");
  }
  using EntryFn = const PluginAbiHeader*();
  const PluginAbiHeader* header = nullptr;
  try {
    header = library->get_alias<EntryFn>(kEntryPointName)();
  } catch (const std::exception& e) {
    return file_error(file, StatusCode::kInvalidArgument,
                      std::string("entry point threw: ") + e.what());
  }
  if (header == nullptr || header->magic != kPluginMagic) {
    return file_error(file, StatusCode::kInvalidArgument,
                      "entry point returned no valid nodus ABI header");
  }
  if (header->abi_version != kAbiVersion) {
    return file_error(file, StatusCode::kFailedPrecondition,
                      "ABI mismatch: plugin has ABI version " +
                          std::to_string(header->abi_version) + ", this kernel has " +
                          std::to_string(kAbiVersion));
  }
  const std::string fingerprint = header->fingerprint ? header->fingerprint : "";
  if (fingerprint != abi_fingerprint()) {
    return file_error(file, StatusCode::kFailedPrecondition,
                      "ABI mismatch: plugin fingerprint '" + fingerprint + "' != kernel '" +
                          abi_fingerprint() + "' (rebuild the plugin against this SDK)");
  }
  const PluginDescriptor* descriptor = header->descriptor ? header->descriptor() : nullptr;
  if (descriptor == nullptr) {
    const char* why = header->descriptor_error ? header->descriptor_error() : nullptr;
    return file_error(file, StatusCode::kInvalidArgument,
                      std::string("building the plugin descriptor failed: ") +
                          (why && *why ? why : "no descriptor"));
  }
  NODUS_RETURN_IF_ERROR(validate_descriptor(*descriptor).with_context(file.string()));
  return LoadedPlugin{file, std::move(library), descriptor};
}

ScanResult PluginLoader::scan() const {
  ScanResult out;
  for (const auto& dir : dirs_) {
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".so") files.push_back(entry.path());
    }
    if (ec) {
      out.problems.push_back(
          {dir, not_found(dir.string() + ": cannot read plugin directory: " + ec.message())});
      continue;
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      auto loaded = open_any(file);
      if (loaded.ok()) {
        out.plugins.push_back(std::move(loaded).value());
      } else {
        out.problems.push_back({file, loaded.status()});
      }
    }
  }
  std::stable_sort(
      out.plugins.begin(), out.plugins.end(),
      [](const LoadedPlugin& a, const LoadedPlugin& b) { return a.name() < b.name(); });
  return out;
}

Result<std::vector<LoadedPlugin>> PluginLoader::resolve(
    const std::vector<PluginRequest>& requests) const {
  std::optional<ScanResult> scanned;  // only when some request names no file
  std::vector<LoadedPlugin> out;
  for (const auto& request : requests) {
    LoadedPlugin chosen;
    if (!request.file.empty()) {
      if (request.file.find('/') != std::string::npos) {
        return invalid_argument("plugin " + request.name + ": file '" + request.file +
                                "' must be a file name inside a plugin directory");
      }
      Status last = not_found("plugin " + request.name + ": file " + request.file +
                              " not found in any plugin directory");
      bool found = false;
      for (const auto& dir : dirs_) {
        if (!fs::exists(dir / request.file)) continue;
        NODUS_ASSIGN_OR_RETURN(chosen, open(dir / request.file));
        found = true;
        break;
      }
      if (!found) return last;
      if (chosen.name() != request.name) {
        return invalid_argument(chosen.file.string() + ": provides plugin '" + chosen.name() +
                                "', but the profile asks for '" + request.name + "'");
      }
    } else {
      if (!scanned) scanned = scan();
      std::vector<const LoadedPlugin*> matches;
      for (const auto& p : scanned->plugins) {
        if (p.name() == request.name) matches.push_back(&p);
      }
      if (matches.empty()) {
        std::string dirs;
        for (const auto& d : dirs_)
          dirs += (dirs.empty() ? "" : ":") + d.string();
        std::string msg =
            "plugin " + request.name + " not found in plugin directories [" + dirs + "]";
        // A broken file may well be the plugin asked for; say so rather than hide it.
        for (const auto& problem : scanned->problems) {
          msg += "; skipped " + problem.status.message();
        }
        return not_found(std::move(msg));
      }
      if (matches.size() > 1) {
        return already_exists("duplicate plugin name " + request.name + ": provided by both " +
                              matches[0]->file.string() + " and " + matches[1]->file.string());
      }
      chosen = *matches.front();
    }
    if (!request.sha256.empty()) {
      NODUS_ASSIGN_OR_RETURN(std::string actual, sha256_file(chosen.file));
      if (actual != request.sha256) {
        return permission_denied(chosen.file.string() + ": SHA-256 mismatch for plugin " +
                                 request.name + ": profile pins " + request.sha256 + ", file has " +
                                 actual);
      }
    }
    for (const auto& existing : out) {
      if (existing.name() == chosen.name()) {
        return already_exists("duplicate plugin name " + chosen.name() + " in " +
                              existing.file.string() + " and " + chosen.file.string());
      }
    }
    out.push_back(std::move(chosen));
  }
  return out;
}

Result<std::vector<size_t>> order_by_dependencies(const std::vector<LoadedPlugin>& plugins) {
  std::map<std::string, size_t> provider;
  for (size_t i = 0; i < plugins.size(); ++i) {
    for (const auto& cap : plugins[i].descriptor->provides) {
      auto [it, inserted] = provider.emplace(cap, i);
      if (!inserted && it->second != i) {
        return already_exists("capability '" + cap + "' is provided by both " +
                              plugins[it->second].file.string() + " and " +
                              plugins[i].file.string());
      }
    }
  }
  // edges[i] = the plugins that must start before plugin i.
  std::vector<std::set<size_t>> before(plugins.size());
  for (size_t i = 0; i < plugins.size(); ++i) {
    const auto& d = *plugins[i].descriptor;
    for (const auto& cap : d.needs) {
      auto it = provider.find(cap);
      if (it == provider.end()) {
        return failed_precondition(plugins[i].file.string() + ": plugin " + d.name +
                                   " requires capability '" + cap +
                                   "', which no plugin in the profile provides");
      }
      if (it->second != i) before[i].insert(it->second);
    }
    for (const auto& cap : d.uses) {
      auto it = provider.find(cap);
      if (it != provider.end() && it->second != i) before[i].insert(it->second);
    }
  }
  // Kahn's algorithm, always taking the lowest-index ready plugin so that independent plugins
  // keep profile order and the result is deterministic.
  std::vector<size_t> order;
  std::vector<bool> done(plugins.size(), false);
  while (order.size() < plugins.size()) {
    bool progressed = false;
    for (size_t i = 0; i < plugins.size(); ++i) {
      if (done[i]) continue;
      const bool ready =
          std::all_of(before[i].begin(), before[i].end(), [&](size_t dep) { return done[dep]; });
      if (ready) {
        done[i] = true;
        order.push_back(i);
        progressed = true;
        break;
      }
    }
    if (!progressed) {
      // Walk the "must start before" edges from a blocked plugin until a node repeats.
      size_t at = 0;
      while (done[at])
        ++at;
      std::vector<size_t> path;
      std::vector<int> seen(plugins.size(), -1);
      while (seen[at] < 0) {
        seen[at] = static_cast<int>(path.size());
        path.push_back(at);
        for (size_t dep : before[at]) {
          if (!done[dep]) {
            at = dep;
            break;
          }
        }
      }
      std::string cycle;
      for (size_t k = static_cast<size_t>(seen[at]); k < path.size(); ++k) {
        cycle += plugins[path[k]].name() + " (" + plugins[path[k]].file.string() + ") -> ";
      }
      cycle += plugins[at].name();
      return failed_precondition("dependency cycle: " + cycle);
    }
  }
  return order;
}

}  // namespace nodus::kernel
