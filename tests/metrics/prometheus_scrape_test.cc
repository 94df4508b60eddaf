// io.nodus.metrics.prometheus against the real thing: a Prometheus server scrapes a 4-instance
// cluster of `nodus node` processes on loopback; promtool checks the exposition and the
// shipped scrape and alert files; the dashboard and alerts query only metrics that exist.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <thread>

#include "cli/process.h"

namespace nodus::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kNodus = NODUS_BINARY;
const fs::path kSource = NODUS_SOURCE_DIR;
const fs::path kPromtool = "/usr/bin/promtool";
const fs::path kPrometheus = "/usr/bin/prometheus";

class PrometheusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kPromtool) || !fs::exists(kPrometheus)) {
      GTEST_SKIP() << "needs the Debian prometheus package (scripts/setup.sh installs it)";
    }
    dir_ = fs::temp_directory_path() /
           ("nodus-prom-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  RunResult promtool(const std::string& args) {
    return run({"/bin/sh", "-c", kPromtool.string() + " " + args}, {}, seconds(30));
  }

  fs::path dir_;
};

// Metric names used in PromQL text: nodus_* and process_* identifiers.
std::set<std::string> names_in(const std::string& text) {
  std::set<std::string> out;
  const std::regex name("\\b((nodus|process)_[a-z0-9_]+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), name); it != std::sregex_iterator();
       ++it)
    out.insert((*it)[1]);
  return out;
}

// Sample names of an exposition ("name{..} v" or "name v").
std::set<std::string> sample_names(const std::string& exposition) {
  std::set<std::string> out;
  std::istringstream in(exposition);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    out.insert(line.substr(0, line.find_first_of("{ ")));
  }
  return out;
}

// Goal: the shipped scrape config and alert rules pass promtool, including the rule unit tests.
TEST_F(PrometheusTest, ShippedFilesPassPromtool) {
  const fs::path dir = kSource / "containers" / "prometheus";
  for (const std::string& args : {"check config " + (dir / "prometheus.yml").string(),
                                  "check rules " + (dir / "alerts.yml").string(),
                                  "test rules " + (dir / "alerts_test.yml").string()}) {
    RunResult r = promtool(args);
    EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.out << r.err;
  }
}

// Goal: a real Prometheus scrapes four instances (all up == 1) and sees a plugin counter from
// each; the exposition passes `promtool check metrics`; the dashboard and the alert rules
// name only metrics that the instances export.
TEST_F(PrometheusTest, RealPrometheusScrapesFourInstances) {
  constexpr int kInstances = 4;
  const uint16_t base = free_port_block(kInstances * 10);
  const fs::path profile = dir_ / "cluster.yaml";
  std::ofstream(profile) << "profile: promtest\ninstances: " << kInstances
                         << "\nports: {base: " << base
                         << ", stride: 10, offsets: {health: 0, peer: 1, metrics: 2}}\n"
                         << "data_dir: " << (dir_ / "data").string() << "\n"
                         << "plugin_dirs: [" << NODUS_PLUGIN_DIR
                         << "]\nplugins:\n"
                         // No cgroups here (an empty fs_root): its metrics still exist.
                         << "  - name: io.nodus.isolation.linux\n"
                         << "    config: {fs_root: " << dir_.string()
                         << ", stats_interval_ms: 200}\n"
                         << "  - name: io.nodus.diag.peerping\n"
                         << "    config: {interval_ms: 100, timeout_ms: 500}\n"
                         << "  - name: io.nodus.metrics.prometheus\n";
  std::vector<std::unique_ptr<Child>> nodes;
  std::vector<uint16_t> metrics_ports;
  for (int i = 0; i < kInstances; ++i) {
    nodes.push_back(std::make_unique<Child>(
        std::vector<std::string>{kNodus, "node", "--profile", profile.string(), "--instance",
                                 std::to_string(i)},
        dir_ / ("node" + std::to_string(i) + ".log")));
    metrics_ports.push_back(static_cast<uint16_t>(base + i * 10 + 2));
  }
  // Each instance serves its own series once its peers answered pings.
  std::string exposition;
  for (int i = 0; i < kInstances; ++i) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(20);
    std::string body;
    while (std::chrono::steady_clock::now() < deadline) {
      if (http_get(metrics_ports[i], "/metrics", &body) == 200 &&
          body.find("nodus_transport_calls_total{") != std::string::npos)
        break;
      std::this_thread::sleep_for(milliseconds(50));
    }
    ASSERT_THAT(body, ::testing::HasSubstr("instance=\"" + std::to_string(i) + "\""))
        << read_file(dir_ / ("node" + std::to_string(i) + ".log"));
    if (i == 0) exposition = body;
  }
  std::ofstream(dir_ / "instance0.prom") << exposition;
  RunResult lint = promtool("check metrics < " + (dir_ / "instance0.prom").string());
  EXPECT_EQ(lint.exit_code, 0) << lint.out << lint.err;

  const std::set<std::string> exported = sample_names(exposition);
  for (const fs::path& file : {kSource / "containers/grafana/nodus-dashboard.json",
                               kSource / "containers/prometheus/alerts.yml"}) {
    for (const std::string& name : names_in(read_file(file)))
      EXPECT_EQ(exported.count(name), 1u)
          << file << " uses " << name << ", which no instance exports";
  }

  const uint16_t prom_port = free_port_block(1);
  std::ofstream config(dir_ / "prometheus.yml");
  config << "global: {scrape_interval: 1s, scrape_timeout: 900ms}\nscrape_configs:\n"
         << "  - job_name: nodus-promtest\n    honor_labels: true\n    static_configs:\n";
  for (int i = 0; i < kInstances; ++i) {
    config << "      - targets: ['127.0.0.1:" << metrics_ports[i]
           << "']\n        labels: {instance: '" << i << "'}\n";
  }
  config.close();
  Child prometheus({kPrometheus.string(), "--config.file=" + (dir_ / "prometheus.yml").string(),
                    "--storage.tsdb.path=" + (dir_ / "tsdb").string(),
                    "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
                   dir_ / "prometheus.log");
  auto count = [](const std::string& body, const std::string& pattern) {
    const std::regex re(pattern);
    return std::distance(std::sregex_iterator(body.begin(), body.end(), re),
                         std::sregex_iterator());
  };
  std::string up;
  std::string scrapes;
  std::string rtt;
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    http_get(prom_port, "/api/v1/query?query=up", &up);
    http_get(prom_port, "/api/v1/query?query=nodus_metrics_scrapes_total", &scrapes);
    http_get(prom_port, "/api/v1/query?query=nodus_peerping_rtt_seconds_count", &rtt);
    if (count(up, "\"value\":\\[[0-9.]+,\"1\"\\]") == kInstances &&
        count(scrapes, "\"__name__\":\"nodus_metrics_scrapes_total\"") == kInstances &&
        count(rtt, "\"__name__\"") > 0)
      break;
    std::this_thread::sleep_for(milliseconds(200));
  }
  EXPECT_EQ(count(up, "\"value\":\\[[0-9.]+,\"1\"\\]"), kInstances)
      << up << read_file(dir_ / "prometheus.log");
  for (int i = 0; i < kInstances; ++i)
    EXPECT_THAT(up, ::testing::HasSubstr("\"instance\":\"" + std::to_string(i) + "\""));
  EXPECT_EQ(count(scrapes, "\"__name__\":\"nodus_metrics_scrapes_total\""), kInstances) << scrapes;
  EXPECT_GT(count(rtt, "\"__name__\""), 0) << rtt;
  for (auto& n : nodes)
    n->signal(SIGTERM);
  for (auto& n : nodes)
    EXPECT_EQ(n->wait(seconds(10)), 0);
}

}  // namespace
}  // namespace nodus::test
