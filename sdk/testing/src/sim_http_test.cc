// SimHttpClient: requests through the simulated network to endpoints registered by address,
// deterministic per seed; partitions and unknown addresses fail as a real client would.
#include "nodus/testing/sim_http.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace nodus::testing {
namespace {

using namespace std::chrono_literals;

struct Outcome {
  StatusCode code = StatusCode::kUnknown;
  std::string body;
  TimePoint at{};
};

// Two nodes: node 1 serves "10.0.0.1:80", and "10.9.9.9:8545" is outside the cluster.
class SimHttpWorld {
 public:
  explicit SimHttpWorld(uint64_t seed)
      : world_(seed),
        n0_(world_.add_node()),
        n1_(world_.add_node()),
        network_(world_, 2, LinkFaults{}, 1 << 20),
        exec0_(world_, n0_),
        client_(world_, network_, endpoints_, n0_, exec0_) {
    EXPECT_TRUE(endpoints_
                    .add("10.0.0.1:80", n1_,
                         [](const HttpClientRequest& r, SimHttpReply reply) {
                           reply(HttpClientResponse{200, {}, "node1 " + r.target});
                         })
                    .ok());
    EXPECT_TRUE(endpoints_
                    .add("10.9.9.9:8545", kWorldNode,
                         [](const HttpClientRequest& r, SimHttpReply reply) {
                           reply(HttpClientResponse{200, {}, "eth " + r.body});
                         })
                    .ok());
  }

  void get(const std::string& url, Duration timeout = 1s) {
    HttpClientRequest r;
    r.url = url;
    r.timeout = timeout;
    client_.request(std::move(r), [this](Result<HttpClientResponse> res) {
      outcomes_.push_back({res.status().code(), res.ok() ? res->body : "", world_.now()});
    });
  }
  void run_for(Duration d) { world_.run_until(world_.now() + d); }

  SimWorld world_;
  SimNodeId n0_, n1_;
  SimNetwork network_;
  SimExecutor exec0_;
  SimHttpEndpoints endpoints_;
  SimHttpClient client_;
  std::vector<Outcome> outcomes_;
};

// The same seed gives the same outcomes at the same simulated times, with loss.
TEST(SimHttpTest, DeterministicPerSeed) {
  auto run = [](uint64_t seed) {
    SimHttpWorld w(seed);
    LinkFaults lossy;
    lossy.drop = 0.3;
    w.network_.set_all(lossy);
    w.endpoints_.external.drop = 0.3;
    for (int i = 0; i < 20; ++i) {
      w.get("http://10.0.0.1/" + std::to_string(i));
      w.get("http://10.9.9.9:8545/");
    }
    w.run_for(5s);
    EXPECT_EQ(w.outcomes_.size(), 40u);  // every callback once: a response or the deadline
    std::vector<std::pair<int, int64_t>> trace;
    for (const auto& o : w.outcomes_)
      trace.emplace_back(static_cast<int>(o.code), o.at.time_since_epoch().count());
    return trace;
  };
  const auto a = run(7);
  EXPECT_EQ(a, run(7));
  EXPECT_NE(a, run(8));
  EXPECT_GT(std::count_if(a.begin(), a.end(), [](auto& p) { return p.first == 0; }), 0);
  EXPECT_GT(std::count_if(a.begin(), a.end(), [](auto& p) { return p.first == 4; }), 0);
}

// A partition between caller and server ends in DEADLINE_EXCEEDED; after heal() it answers.
TEST(SimHttpTest, PartitionThenHeal) {
  SimHttpWorld w(1);
  w.network_.partition({0}, {1});
  w.get("http://10.0.0.1:80/x", 500ms);
  w.run_for(1s);
  ASSERT_EQ(w.outcomes_.size(), 1u);
  EXPECT_EQ(w.outcomes_[0].code, StatusCode::kDeadlineExceeded);
  w.network_.heal();
  w.get("http://10.0.0.1:80/x", 500ms);
  w.run_for(1s);
  ASSERT_EQ(w.outcomes_.size(), 2u);
  EXPECT_EQ(w.outcomes_[1].code, StatusCode::kOk);
  EXPECT_EQ(w.outcomes_[1].body, "node1 /x");
}

// An address nobody registered is UNAVAILABLE; a cut to the outside world times out.
TEST(SimHttpTest, UnknownAddressAndExternalCut) {
  SimHttpWorld w(1);
  w.get("http://10.0.0.2:80/");
  w.endpoints_.cut_from_external.insert(0);
  w.get("http://10.9.9.9:8545/", 300ms);
  w.run_for(1s);
  ASSERT_EQ(w.outcomes_.size(), 2u);
  EXPECT_EQ(w.outcomes_[0].code, StatusCode::kUnavailable);
  EXPECT_EQ(w.outcomes_[1].code, StatusCode::kDeadlineExceeded);
}

// After shutdown() (the plugin stopped) nothing calls back.
TEST(SimHttpTest, ShutdownDropsCallbacks) {
  SimHttpWorld w(1);
  w.get("http://10.0.0.1:80/x");
  w.client_.shutdown();
  w.run_for(2s);
  EXPECT_TRUE(w.outcomes_.empty());
  EXPECT_EQ(w.client_.in_flight(), 0u);
}

}  // namespace
}  // namespace nodus::testing
