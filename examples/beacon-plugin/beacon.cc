// io.example.beacon: an out-of-tree plugin that uses datagrams, the HTTP server and an
// operator command.
//
// Every interval_ms each instance sends the datagram "beacon <index> <seq>" from its "beacon"
// port to the "beacon" port of every other reachable member, and counts, per sender, the
// beacons it hears. GET /v1/beacons on its "api" port shows the counts as JSON, and the
// operator command `nodus beacon-reset [--peer N]` forgets them.
#include <nodus/nodus.h>

#include <charconv>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view kDatagramPort = "beacon";
constexpr std::string_view kHttpPort = "api";

struct Heard {
  uint64_t beacons = 0;
  uint64_t last_seq = 0;
};

// "beacon <index> <seq>" -> {index, seq}; nullopt for anything else.
std::optional<std::pair<uint32_t, uint64_t>> parse_beacon(std::string_view text) {
  constexpr std::string_view kPrefix = "beacon ";
  if (text.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  const char* p = text.data() + kPrefix.size();
  const char* end = text.data() + text.size();
  uint32_t index = 0;
  uint64_t seq = 0;
  auto r = std::from_chars(p, end, index);
  if (r.ec != std::errc() || r.ptr == end || *r.ptr != ' ') return std::nullopt;
  r = std::from_chars(r.ptr + 1, end, seq);
  if (r.ec != std::errc() || r.ptr != end) return std::nullopt;
  return std::make_pair(index, seq);
}

// "1 beacon", "2 beacons".
std::string counted(uint64_t n, std::string_view noun) {
  return std::to_string(n) + " " + std::string(noun) + (n == 1 ? "" : "s");
}

class Beacon final : public nodus::Plugin {
 public:
  explicit Beacon(nodus::PluginContext& ctx)
      : ctx_(ctx),
        sent_(ctx.metrics().counter("nodus_beacon_sent_total", "Beacons sent")),
        heard_total_(ctx.metrics().counter("nodus_beacon_heard_total", "Beacons heard")) {}

  nodus::Status configure(const nodus::ConfigNode& config) override {
    NODUS_ASSIGN_OR_RETURN(interval_ms_, config.get_int("interval_ms", 500));
    if (interval_ms_ < 10 || interval_ms_ > 60'000) {
      return config.at("interval_ms").error("must be between 10 and 60000");
    }
    return {};
  }

  nodus::Status start() override {
    NODUS_RETURN_IF_ERROR(ctx_.datagrams().bind(
        kDatagramPort, [this](nodus::Datagram d) { on_datagram(d.payload); }));
    NODUS_RETURN_IF_ERROR(ctx_.http().route(
        kHttpPort, "GET", "/v1/beacons", [this](const nodus::HttpRequest&, nodus::HttpResponder r) {
          r.respond(nodus::HttpResponse::json(200, heard_json()));
        }));
    nodus::CommandSpec reset{
        "beacon-reset",
        "Forget the beacons heard so far, from every peer or from one.",
        {{"peer", nodus::ArgType::kInt, false, "", "only the beacons of this instance index"}}};
    NODUS_RETURN_IF_ERROR(ctx_.admin().add_command(
        reset, [this](const nodus::CommandArgs& args, nodus::CommandReply reply) {
          reply(forget(args));
        }));
    timer_ =
        ctx_.executor().schedule_after(std::chrono::milliseconds(interval_ms_), [this] { tick(); });
    return {};
  }

  // The binding, the route and the command end with stop() by themselves; the timer does not.
  nodus::Status stop() override {
    ctx_.executor().cancel(timer_);
    return {};
  }

 private:
  void tick() {
    const nodus::Membership& members = ctx_.membership();
    const std::string beacon =
        "beacon " + std::to_string(members.self()) + " " + std::to_string(++seq_);
    for (const nodus::Member& m : members.members()) {
      if (m.id == members.self() || !m.reachable() || m.port(kDatagramPort) == 0) continue;
      // A lost beacon is no error: UDP may lose it anyway, and the next one follows.
      if (ctx_.datagrams().send_to(kDatagramPort, m.endpoint(kDatagramPort), beacon).ok()) {
        sent_.inc();
      }
    }
    timer_ =
        ctx_.executor().schedule_after(std::chrono::milliseconds(interval_ms_), [this] { tick(); });
  }

  // Datagrams are unauthenticated: count only well-formed beacons from known members, so the
  // table stays as small as the membership.
  void on_datagram(std::string_view payload) {
    const auto beacon = parse_beacon(payload);
    if (!beacon || beacon->first == ctx_.membership().self() ||
        !ctx_.membership().member(beacon->first).ok() || heard_.size() >= nodus::kMembersMax) {
      ++ignored_;
      return;
    }
    Heard& h = heard_[beacon->first];
    ++h.beacons;
    h.last_seq = beacon->second;
    heard_total_.inc();
  }

  std::string heard_json() const {
    nodus::JsonWriter w;
    w.begin_object().key("instance").value(ctx_.instance().index);
    w.key("sent").value(seq_).key("ignored").value(ignored_);
    w.key("heard").begin_object();
    for (const auto& [id, h] : heard_) {
      w.key(std::to_string(id)).begin_object();
      w.key("beacons").value(h.beacons).key("last_seq").value(h.last_seq).end_object();
    }
    return w.end_object().end_object().release();
  }

  // The kernel has checked that --peer, when given, is an integer; the range is ours to check.
  nodus::Result<nodus::CommandResult> forget(const nodus::CommandArgs& args) {
    const bool one = args.has("peer");
    if (one && args.get_int("peer") < 0) {
      return nodus::invalid_argument(
          "command 'beacon-reset': argument --peer must be an "
          "instance index, got " +
          std::to_string(args.get_int("peer")));
    }
    uint64_t beacons = 0;
    uint64_t peers = 0;
    for (auto it = heard_.begin(); it != heard_.end();) {
      if (one && it->first != static_cast<uint64_t>(args.get_int("peer"))) {
        ++it;
        continue;
      }
      beacons += it->second.beacons;
      ++peers;
      it = heard_.erase(it);
    }
    nodus::JsonWriter w;
    w.begin_object().key("forgot").value(beacons).key("peers").value(peers).end_object();
    return nodus::CommandResult{
        "forgot " + counted(beacons, "beacon") + " from " + counted(peers, "peer"), w.release(),
        std::nullopt};
  }

  nodus::PluginContext& ctx_;
  nodus::Counter& sent_;
  nodus::Counter& heard_total_;
  int64_t interval_ms_ = 500;
  nodus::TimerId timer_ = nodus::kNoTimer;
  uint64_t seq_ = 0;  // beacon rounds so far
  uint64_t ignored_ = 0;
  std::map<uint32_t, Heard> heard_;  // by sender index; at most kMembersMax entries
};

nodus::PluginDescriptor describe() {
  nodus::PluginDescriptor d;
  d.name = "io.example.beacon";
  d.version = "1.0.0";
  d.category = "example";
  d.status = nodus::PluginStatus::kExperimental;
  d.description = "Sends UDP beacons to its peers and shows what it heard over HTTP";
  d.config = {{"interval_ms", nodus::ConfigType::kInteger, false, "500",
               "Time between two beacon rounds (10..60000)"}};
  d.factory = [](nodus::PluginContext& ctx) { return std::make_unique<Beacon>(ctx); };
  return d;
}

}  // namespace

NODUS_PLUGIN(describe)
