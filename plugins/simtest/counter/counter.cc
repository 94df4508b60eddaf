// io.nodus.simtest.counter: a replicated counter with a fixed leader (see README.md).
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "counter_api.h"
#include "nodus/plugin.h"

namespace nodus::simtest {
namespace {

constexpr const char* kOp = "io.nodus.simtest.counter.op";
constexpr const char* kReplicate = "io.nodus.simtest.counter.replicate";

Result<int64_t> parse_i64(const std::string& s) {
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0') return invalid_argument("not a number: '" + s + "'");
  return static_cast<int64_t>(v);
}

class ReplicatedCounter final : public Plugin, public CounterService {
 public:
  explicit ReplicatedCounter(PluginContext& ctx)
      : ctx_(ctx),
        ops_(ctx.metrics().counter("nodus_counter_ops_total", "Operations served by the leader")),
        replication_failed_(ctx.metrics().counter("nodus_counter_replication_failures_total",
                                                  "Adds whose replication missed a majority")) {}

  Status configure(const ConfigNode& c) override {
    NODUS_ASSIGN_OR_RETURN(int64_t leader, c.get_int("leader", 0));
    if (leader < 0 || leader >= static_cast<int64_t>(ctx_.instance().instances)) {
      return c.at("leader").error("must name an instance (0.." +
                                  std::to_string(ctx_.instance().instances - 1) + ")");
    }
    leader_ = static_cast<PeerId>(leader);
    NODUS_ASSIGN_OR_RETURN(int64_t timeout_ms, c.get_int("timeout_ms", 200));
    if (timeout_ms <= 0) return c.at("timeout_ms").error("must be positive");
    timeout_ = std::chrono::milliseconds(timeout_ms);
    NODUS_ASSIGN_OR_RETURN(unsafe_, c.get_bool("unsafe_ack_before_replication", false));
    return {};
  }

  Status start() override {
    NODUS_ASSIGN_OR_RETURN(log_, ctx_.storage().open_log("counter"));
    // Recovery: the newest record on disk is the value (every record is a whole value).
    if (log_->last_index() >= log_->first_index()) {
      NODUS_ASSIGN_OR_RETURN(std::string last, log_->read(log_->last_index()));
      NODUS_ASSIGN_OR_RETURN(value_, parse_i64(last));
    }
    Transport& t = ctx_.transport();
    NODUS_RETURN_IF_ERROR(t.on_call(kOp, [this](PeerId, std::string req, CallReply reply) {
      serve(req, [reply](Result<int64_t> r) {
        if (!r.ok()) return reply(r.status());
        reply(std::to_string(r.value()));
      });
    }));
    NODUS_RETURN_IF_ERROR(t.on_call(kReplicate, [this](PeerId, std::string req, CallReply reply) {
      auto v = parse_i64(req);
      if (!v.ok()) return reply(v.status());
      last_heard_ = ctx_.clock().now();
      if (v.value() > value_) {
        Status st = persist(v.value(), /*sync=*/true);
        if (!st.ok()) return reply(st);
      }
      reply(std::string("ok"));
    }));
    ctx_.set_role(is_leader() ? "leader" : "follower");
    last_heard_ = ctx_.clock().now();
    if (is_leader()) {
      for (const auto& p : ctx_.transport().peers())
        acked_at_[p.id] = ctx_.clock().now();
      heartbeat();
    }
    return {};
  }

  Status stop() override {
    ctx_.executor().cancel(heartbeat_timer_);
    return {};
  }

  CapabilityRef provide(std::string_view capability) override {
    if (capability == std::string_view(kCapability)) return offer<CounterService>(this);
    return {};
  }

  void add(int64_t delta, Done done) override { route("add:" + std::to_string(delta), done); }
  void read(Done done) override { route("get", std::move(done)); }
  int64_t local_value() const override { return value_; }
  int64_t durable_value() const override {
    if (!log_ || log_->synced_index() < log_->first_index()) return 0;
    auto r = log_->read(log_->synced_index());
    return r.ok() ? parse_i64(r.value()).value_or(0) : 0;
  }

 private:
  bool is_leader() const { return ctx_.transport().self() == leader_; }

  // Serves locally on the leader, forwards elsewhere.
  void route(const std::string& op, Done done) {
    if (is_leader()) return serve(op, std::move(done));
    // Fail fast while the leader is silent: the operation is certainly not forwarded.
    if (ctx_.clock().now() - last_heard_ > 3 * timeout_) {
      return done(failed_precondition("leader unreachable"));
    }
    ctx_.transport().call(leader_, kOp, op, timeout_, [done](Result<std::string> r) {
      if (!r.ok()) return done(r.status());
      done(parse_i64(r.value()));
    });
  }

  void serve(const std::string& op, Done done) {
    if (!is_leader()) return done(failed_precondition("not the leader"));
    ops_.inc();
    if (op == "get") return done(value_);
    if (op.rfind("add:", 0) != 0) return done(invalid_argument("unknown op '" + op + "'"));
    auto delta = parse_i64(op.substr(4));
    if (!delta.ok()) return done(delta.status());
    // Fail fast, before applying anything, when a majority has not answered lately: the
    // client then knows for sure the add did not happen.
    if (!quorum_recently()) return done(failed_precondition("leader has no quorum"));
    const int64_t next = value_ + delta.value();
    if (unsafe_) {
      // THE PLANTED BUG: acknowledge before the value is durable or replicated. A crash that
      // loses unsynced writes forgets an acknowledged add.
      Status st = persist(next, /*sync=*/false);
      if (!st.ok()) return done(st);
      done(next);
      replicate(next, [](bool) {});
      return;
    }
    Status st = persist(next, /*sync=*/true);
    if (!st.ok()) return done(st);
    replicate(next, [this, next, done](bool majority) {
      if (majority) return done(next);
      replication_failed_.inc();
      done(unavailable("add " + std::to_string(next) + " reached no majority"));
    });
  }

  Status persist(int64_t v, bool sync) {
    NODUS_ASSIGN_OR_RETURN(uint64_t index, log_->append(std::to_string(v)));
    (void)index;
    if (sync) NODUS_RETURN_IF_ERROR(log_->sync());
    value_ = v;
    return {};
  }

  // Sends `v` to every follower; `done(true)` once a majority (counting the leader) has it,
  // `done(false)` once that can no longer happen. Runs `done` exactly once.
  void replicate(int64_t v, std::function<void(bool)> done) {
    struct Round {
      size_t acks = 1;  // the leader itself
      size_t answers = 0;
      bool reported = false;
    };
    const auto peers = ctx_.transport().peers();
    const size_t majority = ctx_.instance().instances / 2 + 1;
    auto round = std::make_shared<Round>();
    auto check = [round, majority, total = peers.size(), done] {
      if (round->reported) return;
      if (round->acks >= majority || round->answers == total) {
        round->reported = true;
        done(round->acks >= majority);
      }
    };
    check();
    for (const auto& p : peers) {
      ctx_.transport().call(p.id, kReplicate, std::to_string(v), timeout_,
                            [this, id = p.id, round, check](Result<std::string> r) {
                              ++round->answers;
                              if (r.ok()) {
                                ++round->acks;
                                acked_at_[id] = ctx_.clock().now();
                              }
                              check();
                            });
    }
  }

  bool quorum_recently() const {
    size_t fresh = 1;  // the leader itself
    const TimePoint now = ctx_.clock().now();
    for (const auto& [peer, at] : acked_at_)
      fresh += now - at < 3 * timeout_ ? 1 : 0;
    return fresh >= ctx_.instance().instances / 2 + 1;
  }

  // Keeps followers' acknowledgements fresh while no adds arrive.
  void heartbeat() {
    replicate(value_, [](bool) {});
    heartbeat_timer_ = ctx_.executor().schedule_after(timeout_, [this] { heartbeat(); });
  }

  PluginContext& ctx_;
  nodus::Counter& ops_;
  nodus::Counter& replication_failed_;
  PeerId leader_ = 0;
  Duration timeout_ = std::chrono::milliseconds(200);
  bool unsafe_ = false;
  std::unique_ptr<AppendLog> log_;
  int64_t value_ = 0;
  std::map<PeerId, TimePoint> acked_at_;  // leader: last replication answer per follower
  TimerId heartbeat_timer_ = kNoTimer;
  TimePoint last_heard_{};  // follower: last replication request from the leader
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.name = "io.nodus.simtest.counter";
  d.version = "1.0.0";
  d.category = "simtest";
  d.status = nodus::PluginStatus::kExperimental;
  d.description = "Replicated counter with a fixed leader (simulation example)";
  d.provides = {CounterService::kCapability};
  d.config = {
      {"leader", ConfigType::kInteger, false, "0", "Instance index of the leader"},
      {"timeout_ms", ConfigType::kInteger, false, "200", "Forwarding and replication deadline"},
      {"unsafe_ack_before_replication", ConfigType::kBoolean, false, "false",
       "Planted bug for the simulation tests: acknowledge adds before sync and replication"},
  };
  d.factory = [](PluginContext& ctx) { return std::make_unique<ReplicatedCounter>(ctx); };
  return d;
}

}  // namespace
}  // namespace nodus::simtest

NODUS_PLUGIN(nodus::simtest::describe)
