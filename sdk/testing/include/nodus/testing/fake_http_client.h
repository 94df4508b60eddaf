// nodus/testing/fake_http_client.h: an HttpClient for plugin unit tests. It records every
// request, answers from a script or lets the test answer by hand, and keeps the interface's
// contract: each callback runs exactly once, on the executor, never inside request(); the
// deadline is a timer on the executor's clock (a ManualExecutor's fake time); in_flight_max and
// response_bytes_max refuse as the kernel's client does; after shutdown() (the plugin stopped)
// nothing calls back.
//
//   ManualExecutor exec;
//   FakeHttpClient http(exec);
//   http.on("POST", "http://127.0.0.1:8545/", HttpClientResponse{200, {}, R"({"result":"0x10"})"});
//   plugin_code_that_calls(http);
//   exec.run_until_idle();                       // the scripted answer is delivered
//   ASSERT_EQ(http.requests().size(), 1u);
//   http.reply(http.requests()[1].id, unavailable("down"));  // answer an unscripted one
//   exec.advance(std::chrono::seconds(30));      // or let its deadline pass
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nodus/services/executor.h"
#include "nodus/services/http_client.h"

namespace nodus::testing {

// "http://host:port/target" of a request given as url or as address + target, as the fakes and
// the simulator match it; INVALID_ARGUMENT (naming the request) when neither parses.
Result<std::string> normalized_url(const HttpClientRequest& request);

class FakeHttpClient final : public HttpClient {
 public:
  struct Recorded {
    HttpRequestId id = 0;
    std::string url;  // normalized_url()
    HttpClientRequest request;
    bool answered = false;  // called back (by script, reply(), deadline or cancel)
  };

  explicit FakeHttpClient(Executor& executor, HttpClientLimits limits = {});
  ~FakeHttpClient() override;  // shutdown()
  FakeHttpClient(const FakeHttpClient&) = delete;
  FakeHttpClient& operator=(const FakeHttpClient&) = delete;

  // Answers every later request whose method and normalized URL match, after `latency` on the
  // executor's clock (0: at the next run of the executor). A later on() for the same pair
  // replaces the earlier one.
  void on(std::string method, std::string url, Result<HttpClientResponse> response,
          Duration latency = Duration::zero());
  // Answers a pending request by hand. False when it already finished (or never existed).
  bool reply(HttpRequestId id, Result<HttpClientResponse> response);
  // The plugin stopped: drops pending requests without calling back; later ones do nothing.
  void shutdown();

  // Every request made, in order (from the executor's thread).
  const std::vector<Recorded>& requests() const { return recorded_; }

  HttpRequestId request(HttpClientRequest request, HttpClientCallback done) override;
  bool cancel(HttpRequestId id) override;
  size_t in_flight() const override { return in_flight_.load(); }
  const HttpClientLimits& limits() const override { return limits_; }

 private:
  struct Pending {
    HttpClientCallback done;
    TimerId deadline = kNoTimer;
    TimerId scripted = kNoTimer;
  };
  void start(HttpRequestId id, HttpClientRequest request, HttpClientCallback done);
  void finish(HttpRequestId id, Result<HttpClientResponse> response);
  Recorded* find(HttpRequestId id);

  Executor& executor_;
  const HttpClientLimits limits_;
  std::atomic<HttpRequestId> next_id_{1};
  std::atomic<size_t> in_flight_{0};
  // Shared with every task the fake posts, which may outlive it in the executor's queue.
  std::shared_ptr<std::atomic<bool>> shut_ = std::make_shared<std::atomic<bool>>(false);
  // Below: on the executor only.
  std::map<std::pair<std::string, std::string>, std::pair<Result<HttpClientResponse>, Duration>>
      script_;
  std::map<HttpRequestId, Pending> pending_;
  std::vector<Recorded> recorded_;
};

}  // namespace nodus::testing
