// io.nodus.app.ledger: the aurigraph transaction ledger (see README.md).
//
// Wiring: the gRPC and HTTP front ends (own I/O threads) hand requests to the executor; the
// Batcher groups them into Raft proposals on the "nodus.consensus/v1" capability; LedgerState
// applies committed batches on every node and its results go back to the proposer's clients.
#include <atomic>
#include <memory>
#include <optional>

#include <boost/asio/ip/address.hpp>

#include "batcher.h"
#include "grpc_frontend.h"
#include "http_routes.h"
#include "ledger_core.h"
#include "ledger_state.h"
#include "nodus/nodus.h"
#include "nodus/services/http.h"

namespace nodus::ledger {
namespace {

constexpr std::string_view kName = "io.nodus.app.ledger";

class LedgerPlugin final : public Plugin, public LedgerCore {
 public:
  explicit LedgerPlugin(PluginContext& ctx) : ctx_(ctx) {}
  ~LedgerPlugin() override {
    alive_.reset();
    grpc_.reset();
  }
  LedgerPlugin(const LedgerPlugin&) = delete;
  LedgerPlugin& operator=(const LedgerPlugin&) = delete;

  Status configure(const ConfigNode& config) override;
  Status start() override;
  Status stop() override;

  // LedgerCore
  void post(Task task) override;
  bool accepting() const override { return accepting_.load(std::memory_order_acquire); }
  bool admit(size_t txs) override {
    const size_t before = handoff_txs_.fetch_add(txs, std::memory_order_relaxed);
    if (before + txs <= batcher_options_.max_pending_txs) return true;
    handoff_txs_.fetch_sub(txs, std::memory_order_relaxed);
    return false;
  }
  bool admit_read() override {
    const size_t before = pending_reads_.fetch_add(1, std::memory_order_relaxed);
    if (before < max_pending_reads_) return true;
    pending_reads_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  void submit(std::vector<Transaction> txs, SubmitDone done, Duration budget) override;
  void get_account(const std::string& account, bool linearizable,
                   ReadDone<GetAccountReply> done) override;
  void get(const std::string& key, bool linearizable, ReadDone<GetReply> done) override;
  LeaderInfo leader() const override;

 private:
  // Runs `read` once this node may serve a read: now, or after a ReadIndex barrier.
  void when_readable(bool linearizable, std::function<void(Status)> read);

  PluginContext& ctx_;
  std::string bind_ = "127.0.0.1";
  BatcherOptions batcher_options_;
  LedgerState::Options state_options_;
  int64_t port_stride_ = 10;
  size_t max_stream_inflight_ = 64;
  size_t max_pending_reads_ = 10000;
  HttpPortOptions http_port_options_;
  uint16_t http_port_ = 0;  // the bound port of "http", once the routes are registered

  Consensus* consensus_ = nullptr;
  std::unique_ptr<LedgerState> state_;
  std::unique_ptr<Batcher> batcher_;
  std::unique_ptr<GrpcFrontend> grpc_;
  std::atomic<bool> accepting_{false};
  std::atomic<size_t> handoff_txs_{0};    // admitted, not yet submitted (bounded like pending)
  std::atomic<size_t> pending_reads_{0};  // admitted, not yet answered
  // Callbacks handed to consensus check this first: they may outlive the plugin.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  Counter* committed_ = nullptr;
  Gauge* accounts_ = nullptr;
};

Status LedgerPlugin::configure(const ConfigNode& config) {
  NODUS_ASSIGN_OR_RETURN(bind_, config.get_string("bind", "127.0.0.1"));
  NODUS_ASSIGN_OR_RETURN(uint64_t max_tx_bytes, config.get_bytes("max_tx_bytes", 4096));
  NODUS_ASSIGN_OR_RETURN(int64_t max_batch_txs, config.get_int("max_batch_txs", 4096));
  NODUS_ASSIGN_OR_RETURN(uint64_t max_batch_bytes, config.get_bytes("max_batch_bytes", 1 << 20));
  NODUS_ASSIGN_OR_RETURN(int64_t delay_us, config.get_int("batch_delay_us", 500));
  NODUS_ASSIGN_OR_RETURN(int64_t max_pending, config.get_int("max_pending_txs", 200000));
  NODUS_ASSIGN_OR_RETURN(int64_t max_clients, config.get_int("max_clients", 65536));
  NODUS_ASSIGN_OR_RETURN(port_stride_, config.get_int("port_stride", 10));
  NODUS_ASSIGN_OR_RETURN(int64_t max_dedup_entries,
                         config.get_int("max_dedup_entries", int64_t{1} << 20));
  NODUS_ASSIGN_OR_RETURN(int64_t max_reads, config.get_int("max_pending_reads", 10000));
  NODUS_ASSIGN_OR_RETURN(int64_t max_conns, config.get_int("http_max_connections", 1024));
  NODUS_ASSIGN_OR_RETURN(int64_t idle_ms, config.get_int("http_idle_timeout_ms", 30000));
  NODUS_ASSIGN_OR_RETURN(int64_t stream_max, config.get_int("max_stream_inflight", 64));
  if (max_dedup_entries <= 0) return config.at("max_dedup_entries").error("must be positive");
  if (max_reads <= 0) return config.at("max_pending_reads").error("must be positive");
  if (max_conns <= 0) return config.at("http_max_connections").error("must be positive");
  if (idle_ms <= 0) return config.at("http_idle_timeout_ms").error("must be positive");
  if (stream_max <= 0) return config.at("max_stream_inflight").error("must be positive");
  state_options_.max_dedup_entries = static_cast<size_t>(max_dedup_entries);
  max_pending_reads_ = static_cast<size_t>(max_reads);
  http_port_options_.max_connections = static_cast<size_t>(max_conns);
  http_port_options_.idle_timeout = std::chrono::milliseconds(idle_ms);
  // The old front end's one deadline covered a whole request; so do both of the kernel's.
  http_port_options_.request_timeout = std::chrono::milliseconds(idle_ms);
  http_port_options_.connections_max_setting = "http_max_connections";
  max_stream_inflight_ = static_cast<size_t>(stream_max);
  boost::system::error_code bad_address;
  (void)boost::asio::ip::make_address(bind_, bad_address);
  if (bad_address) return config.at("bind").error("must be an IP address such as 127.0.0.1");
  if (max_tx_bytes == 0) return config.at("max_tx_bytes").error("must be positive");
  if (max_batch_txs <= 0) return config.at("max_batch_txs").error("must be positive");
  if (max_batch_bytes < max_tx_bytes) {
    return config.at("max_batch_bytes").error("must be at least max_tx_bytes");
  }
  if (delay_us < 0) return config.at("batch_delay_us").error("must not be negative");
  if (max_pending <= 0) return config.at("max_pending_txs").error("must be positive");
  if (max_clients <= 0) return config.at("max_clients").error("must be positive");
  if (port_stride_ <= 0) return config.at("port_stride").error("must be positive");
  batcher_options_.max_tx_bytes = max_tx_bytes;
  batcher_options_.max_batch_txs = static_cast<size_t>(max_batch_txs);
  batcher_options_.max_batch_bytes = max_batch_bytes;
  batcher_options_.batch_delay = std::chrono::microseconds(delay_us);
  NODUS_ASSIGN_OR_RETURN(batcher_options_.flush_when_idle,
                         config.get_bool("flush_when_idle", true));
  batcher_options_.max_pending_txs = static_cast<size_t>(max_pending);
  state_options_.max_clients = static_cast<size_t>(max_clients);
  if (const ConfigNode* genesis = config.find("genesis");
      genesis != nullptr && !genesis->is_null()) {
    if (!genesis->is_map()) return genesis->error("must be a map of account name to balance");
    for (const auto& [account, value] : genesis->entries()) {
      NODUS_ASSIGN_OR_RETURN(int64_t balance, value.as_int());
      if (account.empty() || balance < 0) {
        return value.error("a genesis balance must be a non-negative integer");
      }
      state_options_.genesis[account] = static_cast<uint64_t>(balance);
    }
  }
  return {};
}

Status LedgerPlugin::start() {
  consensus_ = ctx_.find<Consensus>();
  if (consensus_ == nullptr) {
    return failed_precondition("io.nodus.app.ledger needs a nodus.consensus/v1 provider");
  }
  committed_ = &ctx_.metrics().counter(
      "nodus_ledger_tx_committed_total",
      "Transactions applied with TX_OK by this node's state machine (rate = cluster TPS)");
  accounts_ = &ctx_.metrics().gauge("nodus_ledger_accounts", "Accounts in the ledger");
  state_ = std::make_unique<LedgerState>(state_options_);
  state_->set_on_applied([this](uint64_t, const BatchResult& out) {
    // Only the exceptions are listed; every other transaction of the batch committed.
    const auto failed = static_cast<uint32_t>(out.results_size());
    if (out.count() > failed) committed_->inc(out.count() - failed);
    accounts_->set(static_cast<double>(state_->account_count()));
  });
  accounts_->set(static_cast<double>(state_->account_count()));
  NODUS_RETURN_IF_ERROR(consensus_->set_state_machine(state_.get()));
  batcher_ = std::make_unique<Batcher>(ctx_.executor(), ctx_.clock(), *consensus_, batcher_options_,
                                       &ctx_.metrics());

  accepting_.store(true, std::memory_order_release);
  grpc_ = std::make_unique<GrpcFrontend>(*this, max_stream_inflight_);
  NODUS_RETURN_IF_ERROR(grpc_->start(bind_, ctx_.instance().port("grpc")));
  // The routes live on the kernel's server of the "http" port, with this plugin's limits.
  NODUS_RETURN_IF_ERROR(ctx_.http().configure_port("http", http_port_options_));
  HttpRoutesOptions routes;
  // JSON is several times the size of the binary encoding.
  routes.max_body_bytes = batcher_options_.max_batch_bytes * 4;
  NODUS_RETURN_IF_ERROR(register_http_routes(ctx_.http(), "http", *this, routes));
  http_port_ = ctx_.http().bound_port("http");
  ctx_.logger().info("ledger serving", {{"grpc_port", std::to_string(grpc_->port())},
                                        {"http_port", std::to_string(http_port_)},
                                        {"bind", bind_}});
  return {};
}

Status LedgerPlugin::stop() {
  accepting_.store(false, std::memory_order_release);
  // Answer everything still pending first, so that no front end waits on the executor.
  if (batcher_) batcher_->fail_all("ledger is shutting down; resend to another node");
  if (grpc_) grpc_->stop();
  // The kernel removes this plugin's HTTP routes once stop() returns.
  return {};
}

// The I/O threads hand work over here; Executor::post() is safe from any thread.
void LedgerPlugin::post(Task task) {
  ctx_.executor().post(std::move(task));
}

void LedgerPlugin::submit(std::vector<Transaction> txs, SubmitDone done, Duration budget) {
  handoff_txs_.fetch_sub(txs.size(), std::memory_order_relaxed);
  if (!batcher_ || !accepting()) {
    std::vector<TxResult> results(txs.size());
    for (size_t i = 0; i < txs.size(); ++i) {
      results[i].set_client_id(txs[i].client_id());
      results[i].set_seq(txs[i].seq());
      results[i].set_code(TX_RETRY);
      results[i].set_reason("ledger is shutting down; resend to another node");
    }
    done(std::move(results), leader().grpc_address);
    return;
  }
  const TimePoint now = ctx_.clock().now();
  const TimePoint deadline =
      budget >= TimePoint::max() - now ? TimePoint::max() : now + std::max(budget, Duration{0});
  batcher_->submit(
      std::move(txs),
      [this, done = std::move(done)](std::vector<TxResult> r) {
        done(std::move(r), leader().grpc_address);
      },
      deadline);
}

void LedgerPlugin::when_readable(bool linearizable, std::function<void(Status)> read) {
  if (!linearizable) {
    read({});
    return;
  }
  std::weak_ptr<bool> alive = alive_;
  consensus_->read_index([alive, read = std::move(read)](Status s) {
    if (alive.expired()) return;
    read(std::move(s));
  });
}

void LedgerPlugin::get_account(const std::string& account, bool linearizable,
                               ReadDone<GetAccountReply> done) {
  when_readable(linearizable, [this, account, done = std::move(done)](Status s) {
    pending_reads_.fetch_sub(1, std::memory_order_relaxed);
    GetAccountReply reply;
    if (!s.ok()) {
      done(std::move(s), std::move(reply));
      return;
    }
    if (auto b = state_->balance(account)) {
      reply.set_found(true);
      reply.set_balance(*b);
    }
    reply.set_applied_index(state_->applied_index());
    done({}, std::move(reply));
  });
}

void LedgerPlugin::get(const std::string& key, bool linearizable, ReadDone<GetReply> done) {
  when_readable(linearizable, [this, key, done = std::move(done)](Status s) {
    pending_reads_.fetch_sub(1, std::memory_order_relaxed);
    GetReply reply;
    if (!s.ok()) {
      done(std::move(s), std::move(reply));
      return;
    }
    if (auto v = state_->get(key)) {
      reply.set_found(true);
      reply.set_value(*v);
    }
    reply.set_applied_index(state_->applied_index());
    done({}, std::move(reply));
  });
}

// Peer i's ports are this node's ports shifted by (i - self) * port_stride: the profile gives
// instance i the ports base + i * stride + offset. The host is the peer's transport host.
LeaderInfo LedgerPlugin::leader() const {
  LeaderInfo info;
  if (consensus_ == nullptr) return info;
  const ConsensusState st = consensus_->state();
  info.role = std::string(consensus_role_name(st.role));
  info.term = st.term;
  if (!st.leader) return info;
  info.known = true;
  info.id = *st.leader;
  info.self = *st.leader == ctx_.instance().index;
  std::string host = bind_ == "0.0.0.0" ? "127.0.0.1" : bind_;
  if (!info.self) {
    for (const auto& p : ctx_.transport().peers()) {
      if (p.id == info.id) {
        if (auto colon = p.address.rfind(':'); colon != std::string::npos && colon > 0) {
          host = p.address.substr(0, colon);
        }
      }
    }
  }
  const int64_t shift =
      (static_cast<int64_t>(info.id) - static_cast<int64_t>(ctx_.instance().index)) * port_stride_;
  auto port_of = [&](uint16_t own) { return std::to_string(static_cast<int64_t>(own) + shift); };
  const uint16_t grpc_port = grpc_ ? grpc_->port() : 0;
  const uint16_t http_port = http_port_;
  info.grpc_address = host + ":" + port_of(grpc_port);
  info.http_address = host + ":" + port_of(http_port);
  return info;
}

PluginDescriptor describe() {
  PluginDescriptor d;
  d.name = std::string(kName);
  d.version = "0.1.0";
  d.category = "app";
  d.status = nodus::PluginStatus::kStable;
  d.description = "Replicated transaction ledger (accounts, transfers, key-value) over Raft";
  d.needs = {std::string(Consensus::kCapability)};
  d.config = {
      {"bind", ConfigType::kString, false, "127.0.0.1", "Address the gRPC and HTTP APIs bind"},
      {"max_tx_bytes", ConfigType::kBytes, false, "4096",
       "Largest encoded transaction accepted (TX_TOO_LARGE above)"},
      ConfigKeySpec{"max_batch_txs", ConfigType::kInteger, false, "4096",
                    "Transactions per Raft proposal before it is flushed"}
          .at_least(1),
      {"max_batch_bytes", ConfigType::kBytes, false, "1MiB",
       "Encoded bytes per Raft proposal before it is flushed"},
      ConfigKeySpec{"batch_delay_us", ConfigType::kInteger, false, "500",
                    "Longest wait after a batch's first transaction before it is proposed"}
          .at_least(0),
      {"flush_when_idle", ConfigType::kBoolean, false, "true",
       "Propose at once when no proposal is in flight (no batch_delay wait when idle)"},
      ConfigKeySpec{"max_pending_txs", ConfigType::kInteger, false, "200000",
                    "Accepted, unanswered transactions; above it requests get TX_RETRY"}
          .at_least(1),
      ConfigKeySpec{"max_clients", ConfigType::kInteger, false, "65536",
                    "Dedup windows kept; the least recently applied client is evicted beyond it"}
          .at_least(1),
      {"genesis", ConfigType::kMap, false, "{}",
       "Initial balances (account: amount), identical on every node"},
      ConfigKeySpec{"port_stride", ConfigType::kInteger, false, "10",
                    "Port distance between instances, to derive the leader's address"}
          .at_least(1),
      ConfigKeySpec{
          "max_dedup_entries", ConfigType::kInteger, false, "1048576",
          "Outcomes kept over all clients' dedup windows; least recent clients are evicted beyond"}
          .at_least(1),
      ConfigKeySpec{
          "max_pending_reads", ConfigType::kInteger, false, "10000",
          "Reads waiting for the executor or a read barrier; above it RESOURCE_EXHAUSTED / 503"}
          .at_least(1),
      ConfigKeySpec{"http_max_connections", ConfigType::kInteger, false, "1024",
                    "Open connections to the HTTP port; one more is answered 503 and closed"}
          .at_least(1),
      ConfigKeySpec{
          "http_idle_timeout_ms", ConfigType::kInteger, false, "30000",
          "An HTTP connection silent this long (mid-request or between requests) is closed"}
          .at_least(1),
      ConfigKeySpec{
          "max_stream_inflight", ConfigType::kInteger, false, "64",
          "Batches of one SubmitStream read but not yet written back; reading pauses there"}
          .at_least(1),
  };
  d.factory = [](PluginContext& ctx) { return std::make_unique<LedgerPlugin>(ctx); };
  return d;
}

}  // namespace
}  // namespace nodus::ledger

NODUS_PLUGIN(nodus::ledger::describe)
