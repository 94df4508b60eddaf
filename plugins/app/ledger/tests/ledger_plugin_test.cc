// End-to-end tests of the real ledger .so in a TestNode, against the fake consensus plugin:
// the gRPC and HTTP front ends, bad input, retries on leader change, config errors.
//
// The test process does not link the generated ledger.proto code (the plugin .so holds it, and
// protobuf refuses a second copy of a file in one process), so the gRPC client here builds
// messages by reflection from the pool the plugin registered, and uses gRPC's generic stub.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <future>
#include <set>
#include <thread>
#include <tuple>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "fake_consensus.h"
#include "nodus/harness/test_node.h"

namespace nodus::ledger {
namespace {

namespace pb = google::protobuf;
using namespace std::chrono_literals;

// Messages of ledger.proto through reflection. The plugin .so registered ledger.proto in the
// process-wide generated pool when TestNode loaded it; the test reaches those classes only
// through the pb::Message interface.
class Schema {
 public:
  std::unique_ptr<pb::Message> make(const std::string& type, const std::string& text = "") {
    const pb::Descriptor* d =
        pb::DescriptorPool::generated_pool()->FindMessageTypeByName("nodus.ledger.v1." + type);
    EXPECT_NE(d, nullptr) << type;
    if (d == nullptr) return nullptr;
    std::unique_ptr<pb::Message> m(pb::MessageFactory::generated_factory()->GetPrototype(d)->New());
    EXPECT_TRUE(pb::TextFormat::ParseFromString(text, m.get())) << text;
    return m;
  }
  bool ok() const {
    return pb::DescriptorPool::generated_pool()->FindMessageTypeByName(
               "nodus.ledger.v1.SubmitRequest") != nullptr;
  }
};

grpc::ByteBuffer to_buffer(const std::string& bytes) {
  grpc::Slice s(bytes);
  return grpc::ByteBuffer(&s, 1);
}

std::string from_buffer(const grpc::ByteBuffer& b) {
  std::vector<grpc::Slice> slices;
  (void)b.Dump(&slices);
  std::string out;
  for (const auto& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

struct Unary {
  grpc::Status status;
  std::string reply;  // serialized
};

Unary call_unary(const std::string& target, const std::string& method, const std::string& req) {
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  auto call = stub.PrepareUnaryCall(&ctx, "/nodus.ledger.v1.Ledger/" + method, to_buffer(req), &cq);
  call->StartCall();
  grpc::ByteBuffer resp;
  Unary out;
  call->Finish(&resp, &out.status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  EXPECT_TRUE(cq.Next(&tag, &ok));
  out.reply = from_buffer(resp);
  return out;
}

// A node with the fake consensus and the ledger. The ledger's I/O threads post to TestNode's
// executor like to a real one; run() drives it on this thread while a client waits.
class LedgerNode : public ::testing::Test {
 protected:
  // More config lines for fixtures that test a bound.
  virtual std::string extra_config() const { return ""; }

  void SetUp() override {
    ASSERT_TRUE(node_.add_plugin(FAKE_CONSENSUS_PLUGIN).ok());
    ASSERT_TRUE(node_
                    .add_plugin(LEDGER_PLUGIN,
                                "max_tx_bytes: 256\n"
                                "batch_delay_us: 200\n"
                                "genesis: {treasury: 1000}\n" +
                                    extra_config())
                    .ok());
    Status s = node_.start();
    ASSERT_TRUE(s.ok()) << s.to_string();
    ASSERT_TRUE(schema_.ok());
    fake_ = static_cast<testing::FakeConsensus*>(node_.find<Consensus>());
    ASSERT_NE(fake_, nullptr);
    for (const auto& line : node_.logs().lines()) {
      if (auto p = line.find("grpc_port="); p != std::string::npos) {
        grpc_port_ = std::stoi(line.substr(p + 10));
        http_port_ = std::stoi(line.substr(line.find("http_port=") + 10));
      }
    }
    ASSERT_GT(grpc_port_, 0);
    ASSERT_GT(http_port_, 0);
  }

  // Runs `f` on a client thread while this thread drives the node's executor.
  template <class F>
  auto run(F f) {
    auto fut = std::async(std::launch::async, std::move(f));
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    while (fut.wait_for(0ms) != std::future_status::ready &&
           std::chrono::steady_clock::now() < give_up) {
      node_.executor().advance(100us);
      std::this_thread::sleep_for(100us);
    }
    return fut.get();
  }

  std::unique_ptr<pb::Message> submit(const std::string& text) {
    const std::string req = schema_.make("SubmitRequest", text)->SerializeAsString();
    const std::string target = "127.0.0.1:" + std::to_string(grpc_port_);
    Unary u = run([&] { return call_unary(target, "Submit", req); });
    EXPECT_TRUE(u.status.ok()) << u.status.error_message();
    auto reply = schema_.make("SubmitReply");
    EXPECT_TRUE(reply->ParseFromString(u.reply));
    return reply;
  }

  std::string text(const pb::Message& m) {
    std::string out;
    pb::TextFormat::PrintToString(m, &out);
    return out;
  }

  struct Http {
    unsigned status = 0;
    std::string body;
    std::string retry_after;
  };
  Http http(const std::string& method, const std::string& target, const std::string& body = "") {
    namespace beast = boost::beast;
    const uint16_t port = static_cast<uint16_t>(http_port_);
    return run([=] {
      boost::asio::io_context ioc;
      boost::asio::ip::tcp::socket sock(ioc);
      sock.connect({boost::asio::ip::make_address("127.0.0.1"), port});
      beast::http::request<beast::http::string_body> req(beast::http::string_to_verb(method),
                                                         target, 11);
      req.set(beast::http::field::host, "127.0.0.1");
      req.body() = body;
      req.prepare_payload();
      beast::http::write(sock, req);
      beast::flat_buffer buf;
      beast::http::response<beast::http::string_body> res;
      beast::http::read(sock, buf, res);
      Http out;
      out.status = res.result_int();
      out.body = res.body();
      out.retry_after = std::string(res[beast::http::field::retry_after]);
      return out;
    });
  }

  Schema schema_;
  nodus::testing::TestNode node_{{.index = 0, .instances = 3, .ports = {{"http", 0}, {"grpc", 0}}}};
  testing::FakeConsensus* fake_ = nullptr;
  int grpc_port_ = 0;
  int http_port_ = 0;
};

// Goal: Submit over gRPC applies good transactions and rejects bad ones with their reasons.
TEST_F(LedgerNode, GrpcSubmitAndRejections) {
  auto reply = submit(R"(batch_id: 7
    txs { client_id: "c" seq: 1 transfer { from: "treasury" to: "alice" amount: 100 } }
    txs { client_id: "c" seq: 2 transfer { from: "alice" to: "bob" amount: 30 } }
    txs { client_id: "c" seq: 3 transfer { from: "nobody" to: "bob" amount: 1 } }
    txs { client_id: "c" seq: 4 transfer { from: "bob" to: "alice" amount: 31 } }
    txs { client_id: "c" seq: 5 put { key: "k" value: "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" } }
    txs { client_id: "" seq: 6 mint { account: "x" amount: 1 } })");
  const std::string t = text(*reply);
  EXPECT_NE(t.find("batch_id: 7"), std::string::npos) << t;
  EXPECT_NE(t.find("TX_UNKNOWN_ACCOUNT"), std::string::npos) << t;
  EXPECT_NE(t.find("holds 30, transfer needs 31"), std::string::npos) << t;
  EXPECT_NE(t.find("TX_TOO_LARGE"), std::string::npos) << t;
  EXPECT_NE(t.find("TX_MALFORMED"), std::string::npos) << t;
  EXPECT_NE(t.find("leader_hint: \"127.0.0.1:" + std::to_string(grpc_port_)), std::string::npos);
  EXPECT_EQ(node_.metric_value("nodus_ledger_tx_committed_total"), 2);
  EXPECT_EQ(node_.metric_value("nodus_ledger_tx_rejected_total"), 4);
  EXPECT_EQ(node_.metric_value("nodus_ledger_accounts"), 3);  // treasury, alice, bob
  EXPECT_EQ(node_.metric_value("nodus_ledger_pending_txs"), 0);
  bool saw_batch = false, saw_latency = false;
  for (const auto& f : node_.metrics().collect()) {
    if (f.name == "nodus_ledger_batch_txs")
      saw_batch = !f.samples.empty() && f.samples[0].count == 1;
    if (f.name == "nodus_ledger_commit_latency_seconds") saw_latency = !f.samples.empty();
  }
  EXPECT_TRUE(saw_batch);  // one proposal carried the four valid transactions
  EXPECT_TRUE(saw_latency);

  const std::string target = "127.0.0.1:" + std::to_string(grpc_port_);
  const std::string get = schema_.make("GetAccountRequest", R"(account: "bob" linearizable: true)")
                              ->SerializeAsString();
  Unary u = run([&] { return call_unary(target, "GetAccount", get); });
  ASSERT_TRUE(u.status.ok()) << u.status.error_message();
  auto acct = schema_.make("GetAccountReply");
  ASSERT_TRUE(acct->ParseFromString(u.reply));
  EXPECT_NE(text(*acct).find("balance: 30"), std::string::npos) << text(*acct);

  // A resend of the same batch changes nothing: the applied ones are duplicates.
  auto again =
      submit(R"(txs { client_id: "c" seq: 2 transfer { from: "alice" to: "bob" amount: 30 } })");
  EXPECT_NE(text(*again).find("TX_DUPLICATE"), std::string::npos);
  EXPECT_EQ(node_.metric_value("nodus_ledger_tx_committed_total"), 2);
}

// Goal: a body that is not a protobuf is refused by gRPC and proposes nothing.
TEST_F(LedgerNode, CorruptProtobufIsRejected) {
  const std::string target = "127.0.0.1:" + std::to_string(grpc_port_);
  const size_t before = fake_->commands().size();
  Unary u =
      run([&] { return call_unary(target, "Submit", std::string("\xff\xff\xff\x0f\x01", 5)); });
  EXPECT_EQ(u.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << u.status.error_code();
  EXPECT_NE(u.status.error_message().find("SubmitRequest"), std::string::npos);
  node_.executor().advance(10ms);
  EXPECT_EQ(fake_->commands().size(), before);
}

// Goal: SubmitStream carries several batches in flight and answers each by batch_id.
TEST_F(LedgerNode, StreamAnswersEveryBatch) {
  const std::string target = "127.0.0.1:" + std::to_string(grpc_port_);
  std::vector<std::string> reqs;
  for (int b = 1; b <= 3; ++b) {
    reqs.push_back(schema_
                       .make("SubmitRequest",
                             "batch_id: " + std::to_string(b) + " txs { client_id: \"s\" seq: " +
                                 std::to_string(b) + " mint { account: \"m\" amount: 5 } }")
                       ->SerializeAsString());
  }
  auto replies = run([&] {
    auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
    grpc::GenericStub stub(channel);
    grpc::CompletionQueue cq;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    void* tag = nullptr;
    bool ok = false;
    auto rw = stub.PrepareCall(&ctx, "/nodus.ledger.v1.Ledger/SubmitStream", &cq);
    rw->StartCall(reinterpret_cast<void*>(1));
    cq.Next(&tag, &ok);
    for (const auto& r : reqs) {
      rw->Write(to_buffer(r), reinterpret_cast<void*>(2));
      cq.Next(&tag, &ok);
    }
    std::vector<std::string> out;
    for (size_t i = 0; i < reqs.size(); ++i) {
      grpc::ByteBuffer b;
      rw->Read(&b, reinterpret_cast<void*>(3));
      cq.Next(&tag, &ok);
      if (!ok) break;
      out.push_back(from_buffer(b));
    }
    rw->WritesDone(reinterpret_cast<void*>(4));
    cq.Next(&tag, &ok);
    grpc::Status st;
    rw->Finish(&st, reinterpret_cast<void*>(5));
    cq.Next(&tag, &ok);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  });
  ASSERT_EQ(replies.size(), 3u);
  std::set<std::string> ids;
  for (const auto& r : replies) {
    auto m = schema_.make("SubmitReply");
    ASSERT_TRUE(m->ParseFromString(r));
    const std::string t = text(*m);
    EXPECT_EQ(t.find("code:"), std::string::npos) << t;    // TX_OK is the default, not printed
    EXPECT_NE(t.find("index: "), std::string::npos) << t;  // committed (index > 0)
    ids.insert(t.substr(0, t.find('\n')));
  }
  EXPECT_EQ(ids.size(), 3u);  // three distinct batch ids
}

// Goal: leadership moving away mid-submission gives TX_UNKNOWN (the entry may still commit)
// and a hint at the new leader; the resend learns the outcome.
TEST_F(LedgerNode, LeaderChangeGivesUnknownWithHint) {
  fake_->set_hold(true);
  const std::string target = "127.0.0.1:" + std::to_string(grpc_port_);
  const std::string req =
      schema_
          .make("SubmitRequest", R"(txs { client_id: "r" seq: 1 mint { account: "a" amount: 1 } })")
          ->SerializeAsString();
  auto fut = std::async(std::launch::async, [&] { return call_unary(target, "Submit", req); });
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (fake_->held() == 0 && std::chrono::steady_clock::now() < give_up) {
    node_.executor().advance(100us);
    std::this_thread::sleep_for(100us);
  }
  ASSERT_EQ(fake_->held(), 1u);
  fake_->set_leader(1, ConsensusRole::kFollower);
  fake_->fail_held(unavailable("leadership lost"));
  Unary u = run([&] { return fut.get(); });
  ASSERT_TRUE(u.status.ok());
  auto reply = schema_.make("SubmitReply");
  ASSERT_TRUE(reply->ParseFromString(u.reply));
  const std::string t = text(*reply);
  EXPECT_NE(t.find("TX_UNKNOWN"), std::string::npos) << t;
  EXPECT_NE(t.find("leadership lost"), std::string::npos) << t;
  EXPECT_NE(t.find("leader_hint: \"127.0.0.1:" + std::to_string(grpc_port_ + 10) + "\""),
            std::string::npos)
      << t;

  // Still a follower: the resend goes through consensus (which forwards it) and commits once.
  fake_->set_hold(false);
  auto again = submit(R"(txs { client_id: "r" seq: 1 mint { account: "a" amount: 1 } })");
  const std::string t2 = text(*again);
  EXPECT_EQ(t2.find("code:"), std::string::npos) << t2;  // TX_OK
  EXPECT_NE(t2.find(std::to_string(grpc_port_ + 10)), std::string::npos) << t2;
  EXPECT_EQ(node_.metric_value("nodus_ledger_tx_committed_total"), 1);
}

// Goal: the HTTP API answers 200 / 400 / 422 / 503 as documented, with reasons.
TEST_F(LedgerNode, HttpEndToEnd) {
  auto r =
      http("POST", "/v1/tx",
           R"({"client_id":"h","seq":1,"transfer":{"from":"treasury","to":"carol","amount":40}})");
  EXPECT_EQ(r.status, 200u) << r.body;
  r = http("POST", "/v1/tx", R"({"client_id":"h","seq":2,"transfer":)");
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.body.find("\"error\""), std::string::npos) << r.body;
  r = http("POST", "/v1/tx",
           R"({"client_id":"h","seq":3,"transfer":{"from":"carol","to":"dave","amount":41}})");
  EXPECT_EQ(r.status, 422u);
  EXPECT_NE(r.body.find("holds 40, transfer needs 41"), std::string::npos) << r.body;
  r = http("POST", "/v1/tx",
           R"({"client_id":"h","seq":4,"transfer":{"from":"ghost","to":"dave","amount":1}})");
  EXPECT_EQ(r.status, 422u);
  EXPECT_NE(r.body.find("TX_UNKNOWN_ACCOUNT"), std::string::npos);
  r = http("POST", "/v1/tx",
           R"({"client_id":"h","seq":5,"put":{"key":"a2V5","value":")" + std::string(400, 'A') +
               R"("}})");
  EXPECT_EQ(r.status, 422u);
  EXPECT_NE(r.body.find("TX_TOO_LARGE"), std::string::npos) << r.body;
  r = http("POST", "/v1/tx", R"({"client_id":"h","seq":7,"put":{"key":"a2V5","value":"dmFs"}})");
  EXPECT_EQ(r.status, 200u) << r.body;
  r = http("GET", "/v1/kv/key");
  EXPECT_EQ(r.status, 200u);
  EXPECT_NE(r.body.find("\"value\":\"dmFs\""), std::string::npos) << r.body;
  EXPECT_EQ(http("GET", "/v1/kv/nokey").status, 404u);
  r = http("GET", "/v1/accounts/carol?linearizable=true");
  EXPECT_EQ(r.status, 200u);
  EXPECT_NE(r.body.find("\"balance\":\"40\""), std::string::npos) << r.body;
  r = http("GET", "/v1/leader");
  EXPECT_EQ(r.status, 200u);
  EXPECT_NE(r.body.find("\"grpc\":\"127.0.0.1:" + std::to_string(grpc_port_)), std::string::npos)
      << r.body;
  fake_->set_fail_new(unavailable("no leader"));
  r = http("POST", "/v1/tx", R"({"client_id":"h","seq":6,"mint":{"account":"carol","amount":1}})");
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.retry_after, "1");
  EXPECT_EQ(node_.metric_value("nodus_ledger_tx_committed_total"), 2);
}

// Goal: many clients submitting at once over gRPC all get their own results, each applied once.
TEST_F(LedgerNode, ConcurrentClients) {
  const std::string target = "127.0.0.1:" + std::to_string(grpc_port_);
  constexpr int kClients = 8, kRequests = 20, kTxs = 10;
  std::vector<std::vector<std::string>> reqs(kClients);
  for (int c = 0; c < kClients; ++c) {
    for (int q = 0; q < kRequests; ++q) {
      std::string t = "batch_id: " + std::to_string(q);
      for (int i = 0; i < kTxs; ++i) {
        t += " txs { client_id: \"cc" + std::to_string(c) +
             "\" seq: " + std::to_string(q * kTxs + i + 1) +
             " mint { account: \"pool\" amount: 1 } }";
      }
      reqs[c].push_back(schema_.make("SubmitRequest", t)->SerializeAsString());
    }
  }
  auto replies = run([&] {
    std::vector<std::future<std::vector<Unary>>> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.push_back(std::async(std::launch::async, [&, c] {
        std::vector<Unary> out;
        for (const auto& r : reqs[c])
          out.push_back(call_unary(target, "Submit", r));
        return out;
      }));
    }
    std::vector<Unary> all;
    for (auto& f : clients) {
      for (auto& u : f.get())
        all.push_back(std::move(u));
    }
    return all;
  });
  ASSERT_EQ(replies.size(), static_cast<size_t>(kClients * kRequests));
  for (const auto& u : replies) {
    ASSERT_TRUE(u.status.ok()) << u.status.error_message();
    auto m = schema_.make("SubmitReply");
    ASSERT_TRUE(m->ParseFromString(u.reply));
    EXPECT_EQ(text(*m).find("code:"), std::string::npos) << text(*m);  // all TX_OK
  }
  EXPECT_EQ(node_.metric_value("nodus_ledger_tx_committed_total"), kClients * kRequests * kTxs);
  EXPECT_EQ(node_.metric_value("nodus_ledger_pending_txs"), 0);
}

// Goal: stopping the node answers a call still waiting for its commit instead of hanging, and
// does not claim the proposed transaction was not committed (TX_UNKNOWN).
TEST_F(LedgerNode, StopAnswersWaitingCalls) {
  fake_->set_hold(true);
  const std::string target = "127.0.0.1:" + std::to_string(grpc_port_);
  const std::string req =
      schema_
          .make("SubmitRequest", R"(txs { client_id: "z" seq: 1 mint { account: "a" amount: 1 } })")
          ->SerializeAsString();
  auto fut = std::async(std::launch::async, [&] { return call_unary(target, "Submit", req); });
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (fake_->held() == 0 && std::chrono::steady_clock::now() < give_up) {
    node_.executor().advance(100us);
    std::this_thread::sleep_for(100us);
  }
  ASSERT_EQ(fake_->held(), 1u);
  ASSERT_TRUE(node_.stop().ok());
  Unary u = fut.get();
  if (u.status.ok()) {
    auto reply = schema_.make("SubmitReply");
    ASSERT_TRUE(reply->ParseFromString(u.reply));
    EXPECT_NE(text(*reply).find("TX_UNKNOWN"), std::string::npos) << text(*reply);
  } else {
    EXPECT_EQ(u.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  }
}

// The ledger with small bounds, to test what happens at each.
class LedgerBounds : public LedgerNode {
 protected:
  std::string extra_config() const override {
    return "http_idle_timeout_ms: 300\nmax_stream_inflight: 2\n";
  }

  // A blocking client socket to the HTTP port that gives up reading after 10 s (so a test
  // whose server never answers fails instead of hanging).
  int connect_http() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(http_port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }
  // Everything the server sends until it closes (or the 10 s receive timeout: "<timeout>").
  static std::string read_all(int fd) {
    std::string out;
    char buf[4096];
    while (true) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) out += "<timeout>";
      return out;
    }
  }
  static std::string get_leader_request() {
    return "GET /v1/leader HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  }
};

// Reads one HTTP response (headers and Content-Length body) from a blocking socket.
std::string read_response(int fd) {
  std::string out;
  char buf[4096];
  while (true) {
    const size_t end = out.find("\r\n\r\n");
    if (end != std::string::npos) {
      const size_t cl = out.find("Content-Length: ");
      const size_t body = cl == std::string::npos ? 0 : std::stoul(out.substr(cl + 16));
      if (out.size() >= end + 4 + body) return out;
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out + "<closed>";
    out.append(buf, static_cast<size_t>(n));
  }
}

class LedgerConnectionCap : public LedgerBounds {
 protected:
  std::string extra_config() const override { return "http_max_connections: 2\n"; }
};

// Goal: past http_max_connections a new connection gets a 503 naming the bound and is closed;
// once the others close, new connections are served again.
TEST_F(LedgerConnectionCap, HttpConnectionCap) {
  auto result = run([this] {
    const std::string keep = "GET /v1/leader HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n";
    std::vector<int> held;
    std::string answers;
    for (int i = 0; i < 2; ++i) {  // two open connections, each proven accepted by an answer
      held.push_back(connect_http());
      (void)::send(held.back(), keep.data(), keep.size(), 0);
      answers += read_response(held.back());
    }
    const int extra = connect_http();
    std::string refused = read_all(extra);  // the refusal arrives unasked, then the close
    ::close(extra);
    for (int fd : held)
      ::close(fd);
    // The server counts the closed ones out when it sees them close; then it serves again.
    std::string served;
    for (int attempt = 0; attempt < 500 && served.find("HTTP/1.1 200") == std::string::npos;
         ++attempt) {
      const int fd = connect_http();
      const std::string req = get_leader_request();
      (void)::send(fd, req.data(), req.size(), 0);
      served = read_all(fd);
      ::close(fd);
      if (served.find("HTTP/1.1 200") == std::string::npos) std::this_thread::sleep_for(10ms);
    }
    return std::make_tuple(answers, refused, served);
  });
  EXPECT_EQ(std::get<0>(result).find("<closed>"), std::string::npos) << std::get<0>(result);
  EXPECT_NE(std::get<1>(result).find("HTTP/1.1 503"), std::string::npos) << std::get<1>(result);
  EXPECT_NE(std::get<1>(result).find("http_max_connections"), std::string::npos);
  EXPECT_NE(std::get<2>(result).find("HTTP/1.1 200"), std::string::npos) << std::get<2>(result);
}

// Goal: a connection that goes silent, between requests or in the middle of one, is closed
// after http_idle_timeout_ms instead of holding its slot for ever.
TEST_F(LedgerBounds, HttpIdleConnectionIsClosed) {
  auto result = run([this] {
    const int idle = connect_http();
    const std::string idle_seen = read_all(idle);  // closed by the server: empty, no timeout
    ::close(idle);
    const int partial = connect_http();
    const std::string half = "POST /v1/tx HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{";
    (void)::send(partial, half.data(), half.size(), 0);
    const std::string partial_seen = read_all(partial);
    ::close(partial);
    return std::make_pair(idle_seen, partial_seen);
  });
  EXPECT_EQ(result.first, "");
  EXPECT_EQ(result.second, "");
}

// Goal: after accept() fails for lack of file descriptors (EMFILE) the HTTP server keeps
// accepting once descriptors are free again (it used to stop for good).
TEST_F(LedgerBounds, HttpAcceptSurvivesEmfile) {
  auto served = run([this] {
    rlimit old{};
    ::getrlimit(RLIMIT_NOFILE, &old);
    int open_fds = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
      (void)e;
      ++open_fds;
    }
    // Room for a few sockets only: the client's last connect leaves none for accept().
    rlimit tight = old;
    tight.rlim_cur = static_cast<rlim_t>(open_fds + 4);
    ::setrlimit(RLIMIT_NOFILE, &tight);
    std::vector<int> fds;
    for (int i = 0; i < 16; ++i) {
      const int fd = connect_http();
      if (fd < 0) break;
      fds.push_back(fd);
      std::this_thread::sleep_for(20ms);  // let the server try to accept it
    }
    // Free one descriptor and connect once more: that connection waits for an accept() that
    // has no descriptor left.
    if (!fds.empty()) {
      ::close(fds.back());
      fds.pop_back();
    }
    if (const int fd = connect_http(); fd >= 0) fds.push_back(fd);
    std::this_thread::sleep_for(200ms);
    ::setrlimit(RLIMIT_NOFILE, &old);
    for (int fd : fds)
      ::close(fd);
    const int fd = connect_http();
    const std::string req = get_leader_request();
    (void)::send(fd, req.data(), req.size(), 0);
    std::string answer = read_all(fd);
    ::close(fd);
    return answer;
  });
  EXPECT_NE(served.find("HTTP/1.1 200"), std::string::npos) << served;
}

// Goal: a SubmitStream whose client does not read its replies stops being read at
// max_stream_inflight batches: later batches wait in gRPC's flow control, not in the ledger.
TEST_F(LedgerBounds, StreamStopsReadingAtBound) {
  fake_->set_hold(true);
  const std::string target = "127.0.0.1:" + std::to_string(grpc_port_);
  std::vector<std::string> reqs;
  for (int b = 1; b <= 6; ++b) {
    reqs.push_back(schema_
                       .make("SubmitRequest",
                             "batch_id: " + std::to_string(b) + " txs { client_id: \"sb\" seq: " +
                                 std::to_string(b) + " mint { account: \"m\" amount: 1 } }")
                       ->SerializeAsString());
  }
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 30s);
  auto rw = stub.PrepareCall(&ctx, "/nodus.ledger.v1.Ledger/SubmitStream", &cq);
  void* tag = nullptr;
  bool ok = false;
  run([&] {
    rw->StartCall(reinterpret_cast<void*>(1));
    cq.Next(&tag, &ok);
    for (const auto& r : reqs) {  // small messages: every write completes into the window
      rw->Write(to_buffer(r), reinterpret_cast<void*>(2));
      cq.Next(&tag, &ok);
    }
    return 0;
  });
  // Give the server every chance to read more than it may.
  for (int i = 0; i < 200; ++i) {
    node_.executor().advance(100us);
    std::this_thread::sleep_for(100us);
  }
  // Transactions proposed so far: each encodes its client id as field 1, "\n\x02sb".
  size_t proposed = 0;
  for (const auto& c : fake_->commands()) {
    for (size_t at = c.find("\n\x02sb"); at != std::string::npos; at = c.find("\n\x02sb", at + 1))
      ++proposed;
  }
  EXPECT_EQ(proposed, 2u);  // two batches read, the rest not
  fake_->set_hold(false);
  fake_->commit_held();
  auto replies = run([&] {
    std::vector<std::string> out;
    for (size_t i = 0; i < reqs.size(); ++i) {
      grpc::ByteBuffer b;
      rw->Read(&b, reinterpret_cast<void*>(3));
      cq.Next(&tag, &ok);
      if (!ok) break;
      out.push_back(from_buffer(b));
    }
    rw->WritesDone(reinterpret_cast<void*>(4));
    cq.Next(&tag, &ok);
    grpc::Status st;
    rw->Finish(&st, reinterpret_cast<void*>(5));
    cq.Next(&tag, &ok);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  });
  EXPECT_EQ(replies.size(), reqs.size());  // once read, every batch is answered
  EXPECT_EQ(node_.metric_value("nodus_ledger_tx_committed_total"), 6);
}

class LedgerReadBound : public LedgerNode {
 protected:
  std::string extra_config() const override { return "max_pending_reads: 1\n"; }
};

// Goal: reads pass admission control: with max_pending_reads reads waiting for their barrier,
// one more is refused at once with RESOURCE_EXHAUSTED; once the barrier passes, reads work.
TEST_F(LedgerReadBound, ReadsPastTheBoundAreRefused) {
  fake_->set_hold_reads(true);
  const std::string target = "127.0.0.1:" + std::to_string(grpc_port_);
  const std::string req =
      schema_.make("GetAccountRequest", R"(account: "treasury" linearizable: true)")
          ->SerializeAsString();
  auto waiting =
      std::async(std::launch::async, [&] { return call_unary(target, "GetAccount", req); });
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (fake_->held_reads() == 0 && std::chrono::steady_clock::now() < give_up) {
    node_.executor().advance(100us);
    std::this_thread::sleep_for(100us);
  }
  ASSERT_EQ(fake_->held_reads(), 1u);
  Unary refused = run([&] { return call_unary(target, "GetAccount", req); });
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << refused.status.error_message();
  EXPECT_NE(refused.status.error_message().find("max_pending_reads"), std::string::npos);
  fake_->set_hold_reads(false);
  fake_->release_reads();
  Unary first = run([&] { return waiting.get(); });
  EXPECT_TRUE(first.status.ok()) << first.status.error_message();
  Unary again = run([&] { return call_unary(target, "GetAccount", req); });
  EXPECT_TRUE(again.status.ok()) << again.status.error_message();
}

// Goal: a bad config value fails start with the key's name.
TEST(LedgerConfig, BadValueNamesKey) {
  for (const std::string key :
       {"max_batch_txs: 0", "bind: not-an-ip", "genesis: {a: -1}", "max_batch_bytes: 10",
        "batch_delay_us: -1", "unknown_key: 1", "max_dedup_entries: 0", "max_pending_reads: 0",
        "http_max_connections: 0", "http_idle_timeout_ms: -5", "max_stream_inflight: 0"}) {
    nodus::testing::TestNode node;
    ASSERT_TRUE(node.add_plugin(FAKE_CONSENSUS_PLUGIN).ok());
    ASSERT_TRUE(node.add_plugin(LEDGER_PLUGIN, key).ok());
    Status s = node.start();
    EXPECT_FALSE(s.ok()) << key;
    const std::string name = key.substr(0, key.find(':'));
    EXPECT_NE(s.message().find(name), std::string::npos) << s.to_string();
  }
}

}  // namespace
}  // namespace nodus::ledger
