// FakeHttpClient keeps the HttpClient contract on a ManualExecutor: one callback per request,
// on the executor, never inside request(); deadlines on the fake clock; the bounds refuse.
#include "nodus/testing/fake_http_client.h"

#include <vector>

#include <gtest/gtest.h>

#include "nodus/testing/manual_executor.h"

namespace nodus::testing {
namespace {

using namespace std::chrono_literals;

HttpClientRequest get(std::string url, Duration timeout = Duration::zero()) {
  HttpClientRequest r;
  r.url = std::move(url);
  r.timeout = timeout;
  return r;
}

class FakeHttpClientTest : public ::testing::Test {
 protected:
  HttpClientCallback record() {
    return [this](Result<HttpClientResponse> r) {
      EXPECT_TRUE(exec_.in_executor());
      results_.push_back(std::move(r));
    };
  }
  ManualExecutor exec_;
  std::vector<Result<HttpClientResponse>> results_;
};

// A scripted answer arrives after its latency on the fake clock, never inside request().
TEST_F(FakeHttpClientTest, ScriptedAnswerAfterLatency) {
  FakeHttpClient http(exec_);
  http.on("GET", "http://10.0.0.1:80/x", HttpClientResponse{200, {}, "hi"}, 50ms);
  http.request(get("http://10.0.0.1:80/x"), record());
  EXPECT_TRUE(results_.empty());
  exec_.advance(49ms);
  EXPECT_TRUE(results_.empty());
  exec_.advance(1ms);
  ASSERT_EQ(results_.size(), 1u);
  ASSERT_TRUE(results_[0].ok());
  EXPECT_EQ(results_[0]->body, "hi");
  ASSERT_EQ(http.requests().size(), 1u);
  EXPECT_TRUE(http.requests()[0].answered);
}

// An unanswered request ends at its deadline, exactly once, even if answered later.
TEST_F(FakeHttpClientTest, DeadlineOnFakeClock) {
  FakeHttpClient http(exec_);
  HttpClientRequest r;
  r.address = "10.0.0.2:8545";
  r.target = "/rpc";
  r.timeout = 2s;
  http.request(std::move(r), record());
  exec_.run_until_idle();
  ASSERT_EQ(http.requests().size(), 1u);
  EXPECT_EQ(http.requests()[0].url, "http://10.0.0.2:8545/rpc");
  exec_.advance(2s);
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_EQ(results_[0].status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(http.reply(http.requests()[0].id, HttpClientResponse{200, {}, ""}));
  exec_.run_until_idle();
  EXPECT_EQ(results_.size(), 1u);
}

// reply(), cancel(), in_flight_max and response_bytes_max behave as the kernel's client.
TEST_F(FakeHttpClientTest, ReplyCancelAndBounds) {
  HttpClientLimits limits;
  limits.in_flight_max = 2;
  limits.response_bytes_max = 4;
  FakeHttpClient http(exec_, limits);
  const HttpRequestId a = http.request(get("http://h:1/a"), record());
  const HttpRequestId b = http.request(get("http://h:1/b"), record());
  http.request(get("http://h:1/c"), record());
  exec_.run_until_idle();
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_EQ(results_[0].status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(http.in_flight(), 2u);
  EXPECT_TRUE(http.reply(a, HttpClientResponse{200, {}, "12345"}));
  EXPECT_TRUE(http.cancel(b));
  EXPECT_EQ(results_.size(), 1u);  // posted, not run inside reply()/cancel()
  exec_.run_until_idle();
  ASSERT_EQ(results_.size(), 3u);
  EXPECT_EQ(results_[1].status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(results_[2].status().code(), StatusCode::kCancelled);
  EXPECT_EQ(http.in_flight(), 0u);
}

// After shutdown() nothing calls back, neither pending requests nor new ones.
TEST_F(FakeHttpClientTest, ShutdownDropsCallbacks) {
  FakeHttpClient http(exec_);
  http.on("GET", "http://h:1/late", HttpClientResponse{200, {}, ""}, 1s);
  http.request(get("http://h:1/late"), record());
  exec_.run_until_idle();
  http.shutdown();
  http.request(get("http://h:1/late"), record());
  exec_.advance(1min);
  EXPECT_TRUE(results_.empty());
  EXPECT_EQ(http.in_flight(), 0u);
}

}  // namespace
}  // namespace nodus::testing
