// io.nodus.simtest.dgecho: binds one datagram port and answers every datagram with "echo:"
// and its payload (see README.md).
#include <memory>
#include <string>

#include "dgecho_api.h"
#include "nodus/plugin.h"
#include "nodus/services/datagram.h"

namespace nodus::simtest {
namespace {

constexpr std::string_view kEchoPrefix = "echo:";

class DatagramEchoPlugin final : public Plugin, public DatagramEcho {
 public:
  explicit DatagramEchoPlugin(PluginContext& ctx) : ctx_(ctx) {}

  Status configure(const ConfigNode& c) override {
    NODUS_ASSIGN_OR_RETURN(port_, c.get_string("port", "gossip"));
    NODUS_ASSIGN_OR_RETURN(int64_t max_bytes,
                           c.get_int("max_datagram_bytes", kDatagramBytesDefault));
    NODUS_ASSIGN_OR_RETURN(int64_t queue_max, c.get_int("receive_queue_max", 1024));
    if (max_bytes < 1 || max_bytes > static_cast<int64_t>(kDatagramBytesMax)) {
      return c.at("max_datagram_bytes")
          .error("must be between 1 and " + std::to_string(kDatagramBytesMax));
    }
    if (queue_max < 1) return c.at("receive_queue_max").error("must be at least 1");
    options_.max_datagram_bytes = static_cast<size_t>(max_bytes);
    options_.receive_queue_max = static_cast<size_t>(queue_max);
    NODUS_ASSIGN_OR_RETURN(echo_, c.get_bool("echo", true));
    NODUS_ASSIGN_OR_RETURN(greet_, c.get_string("greet", ""));
    return {};
  }

  Status start() override {
    NODUS_RETURN_IF_ERROR(ctx_.datagrams().bind(
        port_, [this](Datagram d) { on_datagram(std::move(d)); }, options_));
    if (!greet_.empty()) NODUS_RETURN_IF_ERROR(send(greet_, "hello"));
    return {};
  }

  // The binding ends with stop() (the kernel closes it); nothing else to release.
  Status stop() override { return {}; }

  CapabilityRef provide(std::string_view capability) override {
    if (capability == std::string_view(kCapability)) return offer<DatagramEcho>(this);
    return {};
  }

  Status send(std::string_view to, std::string_view payload) override {
    return ctx_.datagrams().send_to(port_, to, payload);
  }
  const std::deque<Received>& received() const override { return received_; }
  uint64_t received_total() const override { return received_total_; }
  std::string local_address() const override {
    auto a = ctx_.datagrams().local_address(port_);
    return a.ok() ? a.value() : "";
  }

 private:
  void on_datagram(Datagram d) {
    ++received_total_;
    const bool is_echo = d.payload.rfind(kEchoPrefix, 0) == 0;
    if (echo_ && !is_echo) {
      Status st = send(d.from, std::string(kEchoPrefix) + d.payload);
      if (!st.ok()) ctx_.logger().warn("echo failed", {{"error", st.to_string()}});
    }
    received_.push_back({std::move(d.from), std::move(d.payload), ctx_.clock().now()});
    if (received_.size() > kReceivedMax) received_.pop_front();
  }

  PluginContext& ctx_;
  std::string port_;
  DatagramOptions options_;
  bool echo_ = true;
  std::string greet_;
  std::deque<Received> received_;
  uint64_t received_total_ = 0;
};

}  // namespace

PluginDescriptor describe() {
  PluginDescriptor d;
  d.name = "io.nodus.simtest.dgecho";
  d.version = "1.0.0";
  d.category = "simtest";
  d.status = PluginStatus::kExperimental;
  d.description = "Datagram echo endpoint (datagram service example and test)";
  d.provides = {DatagramEcho::kCapability};
  d.config = {
      {"port", ConfigType::kString, false, "gossip", "Named port of the instance to bind"},
      {"max_datagram_bytes", ConfigType::kInteger, false, "1400",
       "Larger datagrams are refused on send and dropped on receive"},
      {"receive_queue_max", ConfigType::kInteger, false, "1024",
       "Datagrams waiting for the executor before further ones are dropped"},
      {"echo", ConfigType::kBoolean, false, "true", "Answer each datagram with echo:<payload>"},
      {"greet", ConfigType::kString, false, "", "host:port to send \"hello\" to at start"},
  };
  d.factory = [](PluginContext& ctx) { return std::make_unique<DatagramEchoPlugin>(ctx); };
  return d;
}

}  // namespace nodus::simtest

NODUS_PLUGIN(nodus::simtest::describe)
