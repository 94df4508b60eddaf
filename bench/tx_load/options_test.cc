// Unit tests of nodus-tx-load's argument parsing and of what --tx-bytes means.
#include "options.h"

#include <gtest/gtest.h>

#include "ledger_backend.h"
#include "payload.h"

namespace nodus::bench {
namespace {

// Goal: every flag lands in its field, in both "--flag value" and "--flag=value" forms.
TEST(OptionsTest, ParsesEveryFlag) {
  auto o = parse_args({"--targets",
                       "127.0.0.1:9004,localhost:9014",
                       "--clients=16",
                       "--batch",
                       "8",
                       "--inflight",
                       "4",
                       "--rate",
                       "5000.5",
                       "--duration",
                       "3",
                       "--warmup=0.5",
                       "--tx-bytes",
                       "120",
                       "--connections",
                       "2",
                       "--rpc-timeout-ms",
                       "750",
                       "--drain",
                       "2",
                       "--verify",
                       "--verify-concurrency",
                       "8",
                       "--json",
                       "-",
                       "--timeline",
                       "t.csv",
                       "--run-id",
                       "abc",
                       "--no-progress"});
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->target, TargetKind::kLedger);
  EXPECT_EQ(o->endpoints, (std::vector<std::string>{"127.0.0.1:9004", "localhost:9014"}));
  EXPECT_EQ(o->clients, 16u);
  EXPECT_EQ(o->batch, 8u);
  EXPECT_EQ(o->inflight, 4u);
  EXPECT_DOUBLE_EQ(o->rate_tx_s, 5000.5);
  EXPECT_DOUBLE_EQ(o->duration_s, 3);
  EXPECT_DOUBLE_EQ(o->warmup_s, 0.5);
  EXPECT_EQ(o->tx_bytes, 120u);
  EXPECT_EQ(o->value_bytes, 0u);
  EXPECT_EQ(o->connections, 2u);
  EXPECT_EQ(o->rpc_timeout_ms, 750u);
  EXPECT_DOUBLE_EQ(o->drain_s, 2);
  EXPECT_TRUE(o->verify);
  EXPECT_EQ(o->verify_concurrency, 8u);
  EXPECT_EQ(o->json_path, "-");
  EXPECT_EQ(o->timeline_path, "t.csv");
  EXPECT_EQ(o->run_id, "abc");
  EXPECT_FALSE(o->progress);
}

// Goal: the defaults are a closed-loop ledger run of 100-byte transactions.
TEST(OptionsTest, Defaults) {
  auto o = parse_args({"--targets", "h:1"});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->clients, 1u);
  EXPECT_EQ(o->batch, 1u);
  EXPECT_EQ(o->rate_tx_s, 0);
  EXPECT_EQ(o->tx_bytes, 100u);
  EXPECT_FALSE(o->verify);
  EXPECT_TRUE(o->progress);
}

// Goal: bad input is refused with a message that names the flag.
TEST(OptionsTest, RefusesBadInput) {
  const auto error_of = [](std::vector<std::string> args) {
    auto o = parse_args(args);
    return o.ok() ? std::string("accepted") : o.status().message();
  };
  EXPECT_NE(error_of({}).find("--targets"), std::string::npos);
  EXPECT_NE(error_of({"--targets", "nohost"}).find("--targets"), std::string::npos);
  EXPECT_NE(error_of({"--targets", "h:99999"}).find("--targets"), std::string::npos);
  EXPECT_NE(error_of({"--targets", "h:1,"}).find("--targets"), std::string::npos);
  EXPECT_NE(error_of({"--targets", "h:1", "--clients", "0"}).find("--clients"), std::string::npos);
  EXPECT_NE(error_of({"--targets", "h:1", "--clients", "x"}).find("--clients"), std::string::npos);
  EXPECT_NE(error_of({"--targets", "h:1", "--rate", "-5"}).find("--rate"), std::string::npos);
  EXPECT_NE(error_of({"--targets", "h:1", "--duration"}).find("needs a value"), std::string::npos);
  EXPECT_NE(error_of({"--targets", "h:1", "--bogus"}).find("unknown flag"), std::string::npos);
  EXPECT_NE(error_of({"--targets", "h:1", "--verify=yes"}).find("no value"), std::string::npos);
  EXPECT_NE(error_of({"--targets", "h:1", "--tx-bytes", "100", "--value-bytes", "256"})
                .find("one of them"),
            std::string::npos);
  EXPECT_NE(error_of({"--targets", "h:1", "--etcd", "--value-bytes", "256", "--batch", "2"})
                .find("--batch"),
            std::string::npos);
  EXPECT_NE(error_of({"--targets", "h:1", "--etcd"}).find("--value-bytes"), std::string::npos);
  EXPECT_NE(error_of({"--targets", "h:1", "--verify", "--key-space", "10"}).find("--key-space"),
            std::string::npos);
}

// Goal: a key space folds seqs onto a bounded set of keys of the same size.
TEST(OptionsTest, KeySpaceBoundsKeys) {
  auto o = parse_args({"--targets", "h:1", "--key-space", "1000"});
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->key_space, 1000u);
  Payload p("r", 10);
  p.set_key_space(1000);
  EXPECT_EQ(p.key(3, 5), p.key(3, 1005));
  EXPECT_NE(p.key(3, 5), p.key(3, 6));
  EXPECT_EQ(p.key(3, 5).size(), p.key(3, 999).size());
}

// Goal: --help short-circuits, whatever else is missing.
TEST(OptionsTest, Help) {
  auto o = parse_args({"--help"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->help);
  EXPECT_NE(usage_text().find("--verify"), std::string::npos);
}

// Goal: "100-byte transaction" means the encoded Transaction is exactly 100 bytes for typical
// seqs, and one byte more of --tx-bytes is one byte more of value.
TEST(OptionsTest, TxBytesSizesTheEncodedTransaction) {
  auto value = LedgerBackend::value_bytes_for_tx_bytes("a1b2c3d4", 100);
  ASSERT_TRUE(value.ok()) << value.status().to_string();
  const Payload payload("a1b2c3d4", *value);
  EXPECT_EQ(LedgerBackend::make_tx(payload, 0, 16384).ByteSizeLong(), 100u);
  EXPECT_EQ(LedgerBackend::make_tx(payload, 255, 2'000'000).ByteSizeLong(), 100u);
  EXPECT_LE(LedgerBackend::make_tx(payload, 3, 1).ByteSizeLong(), 100u);
  EXPECT_GE(LedgerBackend::make_tx(payload, 3, 1).ByteSizeLong(), 98u);
  auto bigger = LedgerBackend::value_bytes_for_tx_bytes("a1b2c3d4", 101);
  ASSERT_TRUE(bigger.ok());
  EXPECT_EQ(*bigger, *value + 1);
  EXPECT_FALSE(LedgerBackend::value_bytes_for_tx_bytes("a1b2c3d4", 10).ok());
}

// Goal: --workload picks Puts or transfers; a bad value, or transfers where they cannot work
// (etcd, --key-space), is refused naming the flag.
TEST(OptionsTest, Workload) {
  auto t = parse_args({"--targets", "127.0.0.1:1", "--workload", "transfer"});
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_TRUE(t->transfers);
  auto p = parse_args({"--targets", "127.0.0.1:1"});
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->transfers);
  auto bad = parse_args({"--targets", "127.0.0.1:1", "--workload", "swap"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--workload"), std::string::npos);
  auto etcd = parse_args({"--targets", "127.0.0.1:1", "--etcd", "--workload", "transfer"});
  ASSERT_FALSE(etcd.ok());
  EXPECT_NE(etcd.status().message().find("--workload"), std::string::npos);
}

}  // namespace
}  // namespace nodus::bench
