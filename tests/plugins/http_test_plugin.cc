// A plugin that serves one HTTP route through the kernel's shared server (nodus/services/http.h),
// for the HTTP service's tests: `method` `path` on the named `port`, answering
// {"plugin": NAME, "reply": REPLY, "id": PARAM} at once, or after `delay_ms` from a timer (an
// asynchronous answer through a kept responder). Built under several names (HTTP_PLUGIN_NAME).
#include <string>

#include "nodus/json.h"
#include "nodus/nodus.h"
#include "nodus/services/http.h"

#ifndef HTTP_PLUGIN_NAME
#define HTTP_PLUGIN_NAME "io.nodus.test.http"
#endif

namespace {

class HttpTestPlugin final : public nodus::Plugin {
 public:
  explicit HttpTestPlugin(nodus::PluginContext& ctx) : ctx_(ctx) {}

  nodus::Status configure(const nodus::ConfigNode& c) override {
    NODUS_ASSIGN_OR_RETURN(port_, c.get_string("port", "health"));
    NODUS_ASSIGN_OR_RETURN(method_, c.get_string("method", "GET"));
    NODUS_ASSIGN_OR_RETURN(path_, c.get_string("path", "/hello"));
    NODUS_ASSIGN_OR_RETURN(reply_, c.get_string("reply", "hi"));
    NODUS_ASSIGN_OR_RETURN(delay_ms_, c.get_int("delay_ms", 0));
    return {};
  }

  nodus::Status start() override {
    return ctx_.http().route(
        port_, method_, path_, [this](const nodus::HttpRequest& req, nodus::HttpResponder res) {
          nodus::JsonWriter w;
          w.begin_object().key("plugin").value(HTTP_PLUGIN_NAME);
          w.key("reply").value(reply_).key("id").value(req.param("id"));
          w.key("body").value(req.body).end_object();
          auto answer = nodus::HttpResponse::json(200, w.release());
          if (delay_ms_ <= 0) return res.respond(std::move(answer));
          ctx_.executor().schedule_after(std::chrono::milliseconds(delay_ms_),
                                         [res, answer] { res.respond(answer); });
        });
  }

  nodus::Status stop() override { return {}; }

 private:
  nodus::PluginContext& ctx_;
  std::string port_;
  std::string method_;
  std::string path_;
  std::string reply_;
  int64_t delay_ms_ = 0;
};

nodus::PluginDescriptor describe() {
  nodus::PluginDescriptor d;
  d.name = HTTP_PLUGIN_NAME;
  d.version = "1.0.0";
  d.category = "test";
  d.description = "Serves one HTTP route, for tests of the shared HTTP server";
  d.config = {
      {"port", nodus::ConfigType::kString, false, "health", "Named port of the route"},
      {"method", nodus::ConfigType::kString, false, "GET", "Method of the route"},
      {"path", nodus::ConfigType::kString, false, "/hello", "Path pattern of the route"},
      {"reply", nodus::ConfigType::kString, false, "hi", "Text put in the answer"},
      {"delay_ms", nodus::ConfigType::kInteger, false, "0", "Answer this much later"},
  };
  d.factory = [](nodus::PluginContext& ctx) { return std::make_unique<HttpTestPlugin>(ctx); };
  return d;
}

}  // namespace

NODUS_PLUGIN(describe)
