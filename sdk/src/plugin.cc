#include "nodus/plugin.h"

#include <cstdio>
#include <cstdlib>

namespace nodus {

namespace {
// A host that predates a service never hands it out: calling the accessor is a bug in the
// host, not in the plugin, and there is no object to return.
[[noreturn]] void unavailable(const char* service) {
  std::fprintf(stderr, "nodus: this plugin host does not provide %s\n", service);
  std::abort();
}
}  // namespace

Datagrams& PluginContext::datagrams() {
  unavailable("datagrams");
}
HttpServer& PluginContext::http() {
  unavailable("the HTTP server");
}
HttpClient& PluginContext::http_client() {
  unavailable("the HTTP client");
}
Processes& PluginContext::processes() {
  unavailable("processes");
}
Admin& PluginContext::admin() {
  unavailable("admin");
}
Membership& PluginContext::membership() {
  unavailable("membership");
}

}  // namespace nodus
