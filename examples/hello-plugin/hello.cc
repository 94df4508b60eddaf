// io.example.hello: the smallest useful nodus plugin, built out of tree.
//
// It answers the RPC "io.example.hello.greet" from peers with "<greeting>, <name>!", counts the
// greetings it gave, and greets every peer once when it starts.
#include <nodus/nodus.h>

#include <memory>
#include <string>

namespace {

class Hello final : public nodus::Plugin {
 public:
  explicit Hello(nodus::PluginContext& ctx)
      : ctx_(ctx),
        greeted_(ctx.metrics().counter("nodus_hello_greetings_total", "Greetings answered")) {}

  nodus::Status configure(const nodus::ConfigNode& config) override {
    NODUS_ASSIGN_OR_RETURN(greeting_, config.get_string("greeting", "hello"));
    if (greeting_.empty()) return config.at("greeting").error("must not be empty");
    return {};
  }

  nodus::Status start() override {
    NODUS_RETURN_IF_ERROR(ctx_.transport().on_call(
        "io.example.hello.greet", [this](nodus::PeerId, std::string name, nodus::CallReply reply) {
          greeted_.inc();
          reply(greeting_ + ", " + name + "!");
        }));
    for (const auto& peer : ctx_.transport().peers()) {
      ctx_.transport().call(peer.id, "io.example.hello.greet", ctx_.instance().node_name,
                            std::chrono::seconds(1), [this, peer](nodus::Result<std::string> r) {
                              if (r.ok()) {
                                ctx_.logger().info(
                                    "peer answered",
                                    {{"peer", std::to_string(peer.id)}, {"reply", r.value()}});
                              }
                            });
    }
    ctx_.logger().info("hello plugin started", {{"greeting", greeting_}});
    return {};
  }

  nodus::Status stop() override { return {}; }

 private:
  nodus::PluginContext& ctx_;
  nodus::Counter& greeted_;
  std::string greeting_;
};

nodus::PluginDescriptor describe() {
  nodus::PluginDescriptor d;
  d.name = "io.example.hello";
  d.version = "1.0.0";
  d.category = "example";
  d.status = nodus::PluginStatus::kExperimental;
  d.description = "Answers greetings from peers";
  d.provides = {"io.example.hello/v1"};
  d.config = {{"greeting", nodus::ConfigType::kString, false, "hello", "Word to greet with"}};
  d.factory = [](nodus::PluginContext& ctx) { return std::make_unique<Hello>(ctx); };
  return d;
}

}  // namespace

NODUS_PLUGIN(describe)
