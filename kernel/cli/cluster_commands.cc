// The verbs that operate a running cluster through its supervisor's Control API:
// status, health, scale, restart, down, cleanup. Each finds the cluster from --run-dir,
// NODUS_RUN_DIR, --profile, or the one running below .nodus/ here, and says so when none is.
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "kernel/cli/commands.h"
#include "kernel/cli/options.h"
#include "kernel/supervisor/control_client.h"
#include "kernel/supervisor/preflight.h"
#include "nodus/json.h"

namespace nodus::cli {
namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

struct VerbArgs {
  po::variables_map vm;
  std::vector<std::string> positional;
};

// Parses the common flags (--run-dir, --profile, -o) plus positional arguments; nullopt after
// printing an error or the help (exit code in *code).
std::optional<VerbArgs> parse(const char* verb, const char* usage,
                              const std::vector<std::string>& args, int* code) {
  po::options_description desc("options");
  desc.add_options()("help,h", "show this help")("run-dir", po::value<std::string>(),
                                                 "the cluster's run directory (NODUS_RUN_DIR)")(
      "profile,p", po::value<std::string>(), "find the run directory from this profile")(
      "output,o", po::value<std::string>()->default_value("text"), "text | json")(
      "wait-ms", po::value<uint32_t>()->default_value(60000),
      "down: how long to wait for the stop");
  po::options_description hidden;
  hidden.add_options()("args", po::value<std::vector<std::string>>(), "");
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("args", -1);
  VerbArgs out;
  if (!parse_flags(args, all, pos, verb, out.vm)) {
    *code = kExitBadInput;
    return std::nullopt;
  }
  if (out.vm.count("help")) {
    std::cout << "usage: nodus " << verb << " " << usage << "\n" << desc;
    *code = kExitOk;
    return std::nullopt;
  }
  if (out.vm.count("args")) out.positional = out.vm["args"].as<std::vector<std::string>>();
  const std::string o = out.vm["output"].as<std::string>();
  if (o != "text" && o != "json") {
    std::fprintf(stderr, "nodus %s: -o: expected text or json, got '%s'\n", verb, o.c_str());
    *code = kExitBadInput;
    return std::nullopt;
  }
  return out;
}

std::string flag(const po::variables_map& vm, const char* name) {
  return vm.count(name) ? vm[name].as<std::string>() : std::string();
}

Result<fs::path> run_dir_of(const po::variables_map& vm) {
  return kernel::find_run_dir(flag(vm, "run-dir"), flag(vm, "profile"));
}

Result<std::unique_ptr<kernel::ControlClient>> connect(const po::variables_map& vm) {
  NODUS_ASSIGN_OR_RETURN(fs::path run_dir, run_dir_of(vm));
  return kernel::ControlClient::connect(run_dir);
}

int fail(const char* verb, const Status& st) {
  std::fprintf(stderr, "nodus %s: %s\n", verb, st.message().c_str());
  return st.code() == StatusCode::kInvalidArgument ? kExitBadInput : kExitFailure;
}

Result<uint32_t> parse_count(const std::vector<std::string>& pos, const char* what) {
  if (pos.size() != 1) return invalid_argument(std::string("expected one argument: ") + what);
  try {
    size_t used = 0;
    const unsigned long v = std::stoul(pos[0], &used);
    if (used == pos[0].size() && v <= 1000000) return static_cast<uint32_t>(v);
  } catch (const std::exception&) {
  }
  return invalid_argument(std::string(what) + ": not a number: '" + pos[0] + "'");
}

std::string status_json(const nodus::v1::StatusReply& s) {
  JsonWriter w;
  w.begin_object().key("profile").value(s.profile());
  w.key("supervisor_pid").value(static_cast<int64_t>(s.supervisor_pid()));
  w.key("instances").begin_array();
  for (const auto& i : s.instances()) {
    w.begin_object();
    w.key("index").value(static_cast<uint64_t>(i.index())).key("node").value(i.node());
    w.key("pid").value(static_cast<int64_t>(i.pid())).key("state").value(i.state());
    w.key("role").value(i.role()).key("restarts").value(static_cast<uint64_t>(i.restarts()));
    w.key("uptime_s").value(i.uptime_s()).key("cpu_s").value(i.cpu_s());
    w.key("rss_bytes").value(static_cast<uint64_t>(i.rss_bytes()));
    w.key("heartbeat_age_ms").value(static_cast<int64_t>(i.heartbeat_age_ms()));
    w.key("last_failure").value(i.last_failure());
    w.key("ports").begin_object();
    std::map<std::string, uint32_t> ports(i.ports().begin(), i.ports().end());
    for (const auto& [name, port] : ports)
      w.key(name).value(static_cast<uint64_t>(port));
    w.end_object();
    // Each plugin's own section (nodus/services/admin.h), a JSON object the instance bounded.
    w.key("plugins").begin_object();
    std::map<std::string, std::string> sections;
    for (const auto& [plugin, section] : i.plugins())
      sections[plugin] = section.json();
    for (const auto& [plugin, json] : sections)
      w.key(plugin).raw(json);
    w.end_object();
    if (!i.plugins_error().empty()) w.key("plugins_error").value(i.plugins_error());
    w.end_object();
  }
  w.end_array().end_object();
  return w.str();
}

// `v` with `decimals` digits after the point, then `unit` ("1.5s").
std::string format_fixed(double v, int decimals, const char* unit) {
  std::array<char, 32> buf{};
  std::snprintf(buf.data(), buf.size(), "%.*f%s", decimals, v, unit);
  return buf.data();
}

void print_status_table(const nodus::v1::StatusReply& s) {
  std::printf("%-5s %-16s %-8s %-10s %-10s %-8s %-9s %-8s %-8s %s\n", "INDEX", "NODE", "PID",
              "STATE", "ROLE", "RESTARTS", "UPTIME", "CPU", "RSS", "PORTS");

  for (const auto& i : s.instances()) {
    std::map<std::string, uint32_t> ports(i.ports().begin(), i.ports().end());
    std::string port_text;
    for (const auto& [name, port] : ports)
      port_text += (port_text.empty() ? "" : " ") + name + "=" + std::to_string(port);
    const std::string uptime = format_fixed(i.uptime_s(), 1, "s");
    const std::string cpu = format_fixed(i.cpu_s(), 2, "s");
    const std::string rss = format_fixed(static_cast<double>(i.rss_bytes()) / 1048576.0, 1, "MiB");
    std::printf("%-5u %-16s %-8d %-10s %-10s %-8u %-9s %-8s %-8s %s\n", i.index(), i.node().c_str(),
                i.pid(), i.state().c_str(), i.role().empty() ? "-" : i.role().c_str(), i.restarts(),
                uptime.c_str(), cpu.c_str(), rss.c_str(), port_text.c_str());
    if (!i.last_failure().empty() && i.state() != "ready") {
      std::printf("      last failure: %s\n", i.last_failure().c_str());
    }
    // Plugin columns (nodus/services/admin.h), each at most kStatusColumnMaxChars, named by
    // the last part of the plugin's name ("io.nodus.consensus.raft" -> "raft").
    std::map<std::string, std::string> columns;
    for (const auto& [plugin, section] : i.plugins()) {
      if (!section.column().empty())
        columns[plugin.substr(plugin.rfind('.') + 1)] = section.column();
    }
    std::string line;
    for (const auto& [name, column] : columns)
      line += (line.empty() ? "" : "  ") + name + ": " + column;
    if (!line.empty()) {
      std::printf("      %s\n", line.c_str());
    }
  }
}

}  // namespace

int run_status(const std::vector<std::string>& args) {
  int code = 0;
  auto a = parse("status", "[--run-dir DIR] [-o json]", args, &code);
  if (!a) return code;
  auto client = connect(a->vm);
  if (!client.ok()) return fail("status", client.status());
  auto s = (*client)->status(/*plugins=*/true);
  if (!s.ok()) return fail("status", s.status());
  if (a->vm["output"].as<std::string>() == "json") {
    std::printf("%s\n", status_json(*s).c_str());
  } else {
    print_status_table(*s);
  }
  return kExitOk;
}

int run_health(const std::vector<std::string>& args) {
  int code = 0;
  auto a = parse("health", "[--run-dir DIR] [-o json]", args, &code);
  if (!a) return code;
  auto client = connect(a->vm);
  if (!client.ok()) return fail("health", client.status());
  auto h = (*client)->health();
  if (!h.ok()) return fail("health", h.status());
  if (a->vm["output"].as<std::string>() == "json") {
    JsonWriter w;
    w.begin_object().key("healthy").value(h->healthy()).key("instances").begin_array();
    for (const auto& i : h->instances()) {
      w.begin_object().key("index").value(static_cast<uint64_t>(i.index()));
      w.key("state").value(i.state()).key("healthy").value(i.healthy());
      w.key("heartbeat_age_ms").value(static_cast<int64_t>(i.heartbeat_age_ms()));
      w.key("readyz").value(static_cast<int64_t>(i.readyz())).end_object();
    }
    w.end_array().end_object();
    std::printf("%s\n", w.str().c_str());
  } else {
    std::printf("%-5s %-10s %-8s %-14s %s\n", "INDEX", "STATE", "HEALTHY", "HEARTBEAT_AGE",
                "READYZ");
    for (const auto& i : h->instances()) {
      std::printf("%-5u %-10s %-8s %-14s %d\n", i.index(), i.state().c_str(),
                  i.healthy() ? "yes" : "no",
                  (std::to_string(i.heartbeat_age_ms()) + " ms").c_str(), i.readyz());
    }
    std::printf("cluster: %s\n", h->healthy() ? "healthy" : "NOT healthy");
  }
  return h->healthy() ? kExitOk : kExitFailure;
}

int run_scale(const std::vector<std::string>& args) {
  int code = 0;
  auto a = parse("scale", "N [--run-dir DIR]", args, &code);
  if (!a) return code;
  auto n = parse_count(a->positional, "the number of instances");
  if (!n.ok()) return fail("scale", n.status());
  auto client = connect(a->vm);
  if (!client.ok()) return fail("scale", client.status());
  auto r = (*client)->scale(*n);
  if (!r.ok()) return fail("scale", r.status());
  for (const std::string& step : r->steps())
    std::printf("  %s\n", step.c_str());
  std::printf("scaled from %u to %u instances\n", r->previous(), r->instances());
  return kExitOk;
}

int run_restart(const std::vector<std::string>& args) {
  int code = 0;
  auto a = parse("restart", "I [--run-dir DIR]", args, &code);
  if (!a) return code;
  auto i = parse_count(a->positional, "the instance index");
  if (!i.ok()) return fail("restart", i.status());
  auto client = connect(a->vm);
  if (!client.ok()) return fail("restart", client.status());
  if (Status st = (*client)->restart(*i); !st.ok()) return fail("restart", st);
  std::printf("restarting instance %u\n", *i);
  return kExitOk;
}

int run_down(const std::vector<std::string>& args) {
  int code = 0;
  auto a = parse("down", "[--run-dir DIR] [--wait-ms MS]", args, &code);
  if (!a) return code;
  auto run_dir = run_dir_of(a->vm);
  if (!run_dir.ok()) return fail("down", run_dir.status());
  auto client = kernel::ControlClient::connect(*run_dir);
  if (!client.ok()) return fail("down", client.status());
  if (Status st = (*client)->down(); !st.ok()) return fail("down", st);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(a->vm["wait-ms"].as<uint32_t>());
  while (kernel::running_supervisor(*run_dir) != 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      std::fprintf(stderr, "nodus down: the cluster in %s is still stopping\n", run_dir->c_str());
      return kExitFailure;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::printf("stopped the cluster in %s\n", run_dir->c_str());
  return kExitOk;
}

int run_cleanup(const std::vector<std::string>& args) {
  int code = 0;
  auto a = parse("cleanup", "--run-dir DIR | --profile FILE", args, &code);
  if (!a) return code;
  fs::path run_dir, data_dir;
  if (a->vm.count("profile")) {
    auto p = kernel::load_profile(flag(a->vm, "profile"));
    if (!p.ok()) return fail("cleanup", p.status());
    run_dir = p->run_dir;
    data_dir = p->data_dir;
  }
  if (a->vm.count("run-dir")) run_dir = flag(a->vm, "run-dir");
  if (run_dir.empty()) {
    return fail("cleanup", invalid_argument("say which cluster: --run-dir DIR or --profile FILE"));
  }
  if (const pid_t pid = kernel::running_supervisor(run_dir); pid != 0) {
    return fail("cleanup", failed_precondition("a cluster is running in " + run_dir.string() +
                                               " (supervisor pid " + std::to_string(pid) +
                                               "); run `nodus down` first"));
  }
  if (data_dir.empty()) {
    std::ifstream in(run_dir / "data_dir");
    std::string line;
    if (std::getline(in, line)) data_dir = line;
  }
  std::error_code ec;
  for (const fs::path& dir : {run_dir, data_dir}) {
    if (dir.empty() || !fs::exists(dir, ec)) continue;
    fs::remove_all(dir, ec);
    if (ec) return fail("cleanup", permission_denied(dir.string() + ": " + ec.message()));
    std::printf("removed %s\n", dir.c_str());
  }
  return kExitOk;
}

}  // namespace nodus::cli
