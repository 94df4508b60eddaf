// Supervisor figures, side by side with supervisord managing the same `nodus node` command:
//   cold start of N instances until every /readyz answers 200,
//   kill -9 of one instance until it is ready again (p50, p99),
//   the supervisor's own RSS and CPU with N idle instances.
// Both supervisors are measured the same way from outside: through each instance's own
// health endpoint. Runs alternate (ours, supervisord, ours, ...) so drift hits both.
//
//   supervisor_benchmark --nodus build/release/bin/nodus --plugin-dir build/release/bench-plugins
//                        [--instances 8] [--kills 100] [--anchor-kills 20] [--supervisord PATH]
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli/process.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nodus::test::Child;

struct Config {
  std::string nodus = "nodus";
  std::string plugin_dir;
  std::string supervisord = "/usr/bin/supervisord";
  int instances = 8;
  int kills = 100;
  int anchor_kills = 20;
  int cold_runs = 5;
  fs::path dir;
  uint16_t base = 0;
};

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

uint16_t health_port(const Config& c, int i) {
  return static_cast<uint16_t>(c.base + 2 * i);
}

// The pid an instance reports on /status, or 0 while it does not answer.
long instance_pid(const Config& c, int i) {
  std::string body;
  if (nodus::test::http_get(health_port(c, i), "/status", &body) != 200) return 0;
  const auto at = body.find("\"pid\":");
  return at == std::string::npos ? 0 : std::stol(body.substr(at + 6));
}

bool all_ready(const Config& c) {
  for (int i = 0; i < c.instances; ++i) {
    if (nodus::test::http_get(health_port(c, i), "/readyz") != 200) return false;
  }
  return true;
}

void wait_all_down(const Config& c) {
  for (int n = 0; n < 500; ++n) {
    bool any = false;
    for (int i = 0; i < c.instances && !any; ++i)
      any = instance_pid(c, i) != 0;
    if (!any) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void write_profile(const Config& c) {
  std::ofstream(c.dir / "bench.yaml")
      << "profile: bench\ninstances: " << c.instances << "\nports: {base: " << c.base
      << ", stride: 2, offsets: {health: 0, peer: 1}}\n"
      << "data_dir: " << (c.dir / "data").string() << "\nrun_dir: " << (c.dir / "run").string()
      << "\nplugin_dirs: [" << c.plugin_dir << "]\n"
      << "supervisor: {restart: always, backoff_ms: {initial: 10, max: 100}, heartbeat_ms: 100,"
         " stop_timeout_ms: 2000, crash_loop: {deaths: 1000, window_s: 1}}\n"
      << "plugins:\n  - name: io.nodus.bench.p0\n";
  std::ofstream conf(c.dir / "supervisord.conf");
  conf << "[supervisord]\nnodaemon=true\nlogfile=" << (c.dir / "supervisord.log").string()
       << "\npidfile=" << (c.dir / "supervisord.pid").string() << "\n";
  for (int i = 0; i < c.instances; ++i) {
    conf << "\n[program:n" << i << "]\ncommand=" << c.nodus << " node --profile "
         << (c.dir / "bench.yaml").string() << " --instance " << i
         << "\nautorestart=true\nstartsecs=0\nstopasgroup=true\nkillasgroup=true\n"
         << "redirect_stderr=true\nstdout_logfile="
         << (c.dir / ("n" + std::to_string(i) + ".log")).string() << "\n";
  }
}

std::unique_ptr<Child> start(const Config& c, bool ours) {
  std::vector<std::string> argv =
      ours ? std::vector<std::string>{c.nodus, "up", "--profile", (c.dir / "bench.yaml").string(),
                                      "-q"}
           : std::vector<std::string>{c.supervisord, "-n", "-c",
                                      (c.dir / "supervisord.conf").string()};
  return std::make_unique<Child>(argv, c.dir / (ours ? "up.out" : "supervisord.out"));
}

void stop(const Config& c, std::unique_ptr<Child>& sup) {
  sup->signal(SIGTERM);
  sup->wait(std::chrono::seconds(20));
  sup.reset();
  wait_all_down(c);
}

double cold_start_ms(const Config& c, bool ours) {
  const auto t0 = Clock::now();
  auto sup = start(c, ours);
  while (!all_ready(c) && ms_since(t0) < 30000)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double ms = ms_since(t0);
  stop(c, sup);
  return ms;
}

// kill -9 of instance (k % N) until it answers /readyz 200 with a new pid, `kills` times.
std::vector<double> restart_ms(const Config& c, bool ours, int kills) {
  auto sup = start(c, ours);
  while (!all_ready(c))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::vector<double> out;
  for (int k = 0; k < kills; ++k) {
    const int i = k % c.instances;
    const long pid = instance_pid(c, i);
    if (pid <= 0) continue;
    const auto t0 = Clock::now();
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    while (ms_since(t0) < 30000) {
      const long now = instance_pid(c, i);
      if (now != 0 && now != pid && nodus::test::http_get(health_port(c, i), "/readyz") == 200)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    out.push_back(ms_since(t0));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));  // let it settle (backoff reset)
  }
  stop(c, sup);
  return out;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1,
                    static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5))];
}

// RSS (KiB) now and CPU ms used over `seconds` by process `pid` with idle instances.
std::pair<long, double> idle_cost(pid_t pid, int seconds) {
  const auto cpu = [pid] {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string rest = text.substr(text.rfind(')') + 2);
    std::vector<std::string> f;
    size_t pos = 0;
    while ((pos = rest.find(' ')) != std::string::npos) {
      f.push_back(rest.substr(0, pos));
      rest.erase(0, pos + 1);
    }
    return (std::stod(f[11]) + std::stod(f[12])) * 1000.0 /
           static_cast<double>(sysconf(_SC_CLK_TCK));
  };
  const double c0 = cpu();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const double c1 = cpu();
  long rss = 0;
  std::ifstream st("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(st, line);) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::stol(line.substr(6));
  }
  return {rss, c1 - c0};
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--nodus") c.nodus = fs::absolute(v).string();
    if (k == "--plugin-dir") c.plugin_dir = fs::absolute(v).string();
    if (k == "--supervisord") c.supervisord = v;
    if (k == "--instances") c.instances = std::stoi(v);
    if (k == "--kills") c.kills = std::stoi(v);
    if (k == "--anchor-kills") c.anchor_kills = std::stoi(v);
    if (k == "--cold-runs") c.cold_runs = std::stoi(v);
  }
  const bool anchor = fs::exists(c.supervisord);
  c.dir = fs::temp_directory_path() / ("nodus-supbench-" + std::to_string(getpid()));
  fs::create_directories(c.dir);
  c.base = nodus::test::free_port_block(2 * c.instances);
  write_profile(c);
  std::printf("instances=%d kills=%d anchor_kills=%d anchor=%s\n", c.instances, c.kills,
              c.anchor_kills, anchor ? c.supervisord.c_str() : "(supervisord not installed)");

  std::vector<double> cold_ours, cold_sd;
  for (int r = 0; r < c.cold_runs; ++r) {
    cold_ours.push_back(cold_start_ms(c, true));
    if (anchor) cold_sd.push_back(cold_start_ms(c, false));
  }
  std::printf("cold_start_all_ready_ms: nodus up median %.1f | supervisord median %.1f\n",
              percentile(cold_ours, 0.5), percentile(cold_sd, 0.5));

  const auto ours = restart_ms(c, true, c.kills);
  std::vector<double> sd;
  if (anchor) sd = restart_ms(c, false, c.anchor_kills);
  std::printf(
      "restart_kill9_to_ready_ms: nodus up p50 %.1f p99 %.1f (n=%zu) | supervisord p50 %.1f "
      "p99 %.1f (n=%zu) | ratio p50 %.3f\n",
      percentile(ours, 0.5), percentile(ours, 0.99), ours.size(), percentile(sd, 0.5),
      percentile(sd, 0.99), sd.size(),
      sd.empty() ? 0.0 : percentile(ours, 0.5) / percentile(sd, 0.5));

  for (bool mine : {true, false}) {
    if (!mine && !anchor) break;
    auto sup = start(c, mine);
    while (!all_ready(c))
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const auto [rss_kib, cpu_ms] = idle_cost(sup->pid(), 10);
    std::printf("idle_supervisor_%s: rss %ld KiB, cpu %.1f ms over 10 s with %d idle instances\n",
                mine ? "nodus_up" : "supervisord", rss_kib, cpu_ms, c.instances);
    stop(c, sup);
  }
  fs::remove_all(c.dir);
  return 0;
}
