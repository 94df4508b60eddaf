// Unit tests of the ledger's HTTP routes and JSON handling, on the SDK's in-memory HTTP server
// (no sockets).
#include <gtest/gtest.h>

#include <optional>

#include "batcher.h"
#include "fake_consensus.h"
#include "http_routes.h"
#include "ledger_state.h"
#include "nodus/testing/fake_http.h"
#include "nodus/testing/manual_executor.h"

namespace nodus::ledger {
namespace {

// A LedgerCore over a Batcher and FakeConsensus, all on one ManualExecutor.
class Core final : public LedgerCore {
 public:
  Core() : batcher_(exec_, exec_, fake_, {.max_tx_bytes = 128}, nullptr) {
    (void)fake_.set_state_machine(&state_);
    Status st = register_http_routes(http_, "http", *this, {});
    EXPECT_TRUE(st.ok()) << st.to_string();
  }
  void post(Task t) override { exec_.post(std::move(t)); }
  bool accepting() const override { return true; }
  bool admit(size_t) override { return admit_; }
  bool admit_ = true;
  bool admit_read() override { return admit_read_; }
  bool admit_read_ = true;
  void submit(std::vector<Transaction> txs, SubmitDone done, Duration) override {
    batcher_.submit(std::move(txs), [done](std::vector<TxResult> r) { done(std::move(r), ""); });
  }
  void get_account(const std::string& a, bool, ReadDone<GetAccountReply> done) override {
    GetAccountReply r;
    if (auto b = state_.balance(a)) {
      r.set_found(true);
      r.set_balance(*b);
    }
    done({}, r);
  }
  void get(const std::string& k, bool, ReadDone<GetReply> done) override {
    GetReply r;
    if (auto v = state_.get(k)) {
      r.set_found(true);
      r.set_value(*v);
    }
    done({}, r);
  }
  LeaderInfo leader() const override { return {}; }

  struct Answer {
    unsigned status = 0;
    std::string body;
    bool retry_after = false;
  };
  Answer call(const std::string& method, const std::string& target, const std::string& body = "") {
    auto exchange = http_.send("http", method, target, body);
    exec_.advance(std::chrono::milliseconds(1));
    EXPECT_TRUE(exchange->done()) << method << " " << target;
    const HttpResponse r = exchange->response();
    Answer out{static_cast<unsigned>(r.status), r.body, false};
    for (const auto& [name, value] : r.headers)
      out.retry_after = out.retry_after || name == "Retry-After";
    return out;
  }

  nodus::testing::ManualExecutor exec_;
  testing::FakeConsensus fake_{exec_};
  LedgerState state_{LedgerState::Options{}};
  Batcher batcher_;
  nodus::testing::FakeHttpServer http_{exec_, {{"http", 9003}}};
};

// Goal: each request shape maps to the documented status code and JSON body.
TEST(HttpRoutes, StatusCodes) {
  Core core;
  auto r = core.call("POST", "/v1/tx",
                     R"({"client_id":"c","seq":1,"mint":{"account":"alice","amount":10}})");
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_NE(r.body.find("TX_OK"), std::string::npos);

  r = core.call("POST", "/v1/tx", R"({"client_id":"c","seq":)");
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.body.find("\"error\""), std::string::npos);

  r = core.call("POST", "/v1/tx", R"({"client_id":"c","seq":2,"bogus":1})");
  EXPECT_EQ(r.status, 400u) << r.body;  // unknown fields are errors

  r = core.call("POST", "/v1/tx",
                R"({"client_id":"c","seq":3,"transfer":{"from":"alice","to":"bob","amount":70}})");
  EXPECT_EQ(r.status, 422u);
  EXPECT_NE(r.body.find("holds 10, transfer needs 70"), std::string::npos) << r.body;

  r = core.call("POST", "/v1/tx",
                R"({"txs":[{"client_id":"d","seq":1,"mint":{"account":"x","amount":1}},
                          {"client_id":"d","seq":2,"mint":{"account":"x","amount":2}}]})");
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_NE(r.body.find("\"results\""), std::string::npos);

  // A client id that happens to be "txs" is still one transaction.
  r = core.call("POST", "/v1/tx",
                R"({"client_id":"txs","seq":1,"mint":{"account":"y","amount":1}})");
  EXPECT_EQ(r.status, 200u) << r.body;
  r = core.call("POST", "/v1/tx", R"({"txs":[{"client_id":"d","seq":"x"}]})");
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.body.find("malformed JSON batch"), std::string::npos) << r.body;

  r = core.call("GET", "/v1/accounts/alice");
  EXPECT_EQ(r.status, 200u);
  EXPECT_NE(r.body.find("\"balance\":\"10\""), std::string::npos) << r.body;
  EXPECT_EQ(core.call("GET", "/v1/accounts/nobody").status, 404u);
  EXPECT_EQ(core.call("GET", "/v1/nothing").status, 404u);
  EXPECT_EQ(core.call("DELETE", "/v1/tx").status, 405u);
  EXPECT_EQ(core.call("GET", "/v1/leader").status, 503u);  // no leader known
}

// Goal: a failed proposal is 503 with Retry-After: TX_RETRY when it certainly did not
// commit (flow control), TX_UNKNOWN when it may have (no answer from the leader).
TEST(HttpRoutes, RetryIs503) {
  Core core;
  core.fake_.set_fail_new(resource_exhausted("raft flow control"));
  auto r = core.call("POST", "/v1/tx",
                     R"({"client_id":"c","seq":1,"mint":{"account":"alice","amount":10}})");
  EXPECT_EQ(r.status, 503u);
  EXPECT_TRUE(r.retry_after);
  EXPECT_NE(r.body.find("TX_RETRY"), std::string::npos) << r.body;
  core.fake_.set_fail_new(unavailable("leadership lost"));
  r = core.call("POST", "/v1/tx",
                R"({"client_id":"c","seq":1,"mint":{"account":"alice","amount":10}})");
  EXPECT_EQ(r.status, 503u);
  EXPECT_TRUE(r.retry_after);
  EXPECT_NE(r.body.find("TX_UNKNOWN"), std::string::npos) << r.body;
}

// Goal: reads pass admission control too: over max_pending_reads a GET is 503 at once.
TEST(HttpRoutes, FullReadAdmissionIs503) {
  Core core;
  core.admit_read_ = false;
  auto r = core.call("GET", "/v1/accounts/alice");
  EXPECT_EQ(r.status, 503u);
  EXPECT_TRUE(r.retry_after);
  EXPECT_NE(r.body.find("too many reads"), std::string::npos) << r.body;
  EXPECT_EQ(core.call("GET", "/v1/kv/a2V5").status, 503u);
}

// Goal: when the hand-off queue is full a POST is refused at once with 503, never queued.
TEST(HttpRoutes, FullHandoffIs503) {
  Core core;
  core.admit_ = false;
  auto r = core.call("POST", "/v1/tx",
                     R"({"client_id":"c","seq":1,"mint":{"account":"alice","amount":10}})");
  EXPECT_EQ(r.status, 503u);
  EXPECT_TRUE(r.retry_after);
  EXPECT_NE(r.body.find("overloaded"), std::string::npos);
  EXPECT_TRUE(core.fake_.commands().empty());
}

}  // namespace
}  // namespace nodus::ledger
