// Implementation of nodus/services/http.h (value types, HttpResponder) and nodus/http_routing.h.
#include <algorithm>
#include <cctype>
#include <exception>

#include "nodus/http_routing.h"
#include "nodus/json.h"

namespace nodus {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// "/a/b/" -> {"a", "b", ""}; "/" -> {""}. The caller checked the leading '/'.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  size_t at = 1;
  for (;;) {
    const size_t slash = path.find('/', at);
    out.push_back(path.substr(at, slash == std::string_view::npos ? path.npos : slash - at));
    if (slash == std::string_view::npos) return out;
    at = slash + 1;
  }
}

bool valid_method(std::string_view m) {
  return !m.empty() && m.size() <= 16 && std::all_of(m.begin(), m.end(), [](char c) {
    return std::isupper(static_cast<unsigned char>(c)) != 0;
  });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class OwnerView final : public HttpServer {
 public:
  OwnerView(HttpRouteHost& host, std::string owner) : host_(host), owner_(std::move(owner)) {}
  ~OwnerView() override { host_.remove_owner(owner_); }
  OwnerView(const OwnerView&) = delete;
  OwnerView& operator=(const OwnerView&) = delete;

  Status route(std::string_view port, std::string_view method, std::string_view pattern,
               HttpHandler handler, HttpRouteOptions options) override {
    return host_.route_as(owner_, port, method, pattern, std::move(handler), options);
  }
  Status configure_port(std::string_view port, const HttpPortOptions& options) override {
    return host_.configure_port(port, options);
  }
  Status remove_route(std::string_view port, std::string_view method,
                      std::string_view pattern) override {
    return host_.remove_as(owner_, port, method, pattern);
  }
  uint16_t bound_port(std::string_view port) const override { return host_.bound_port(port); }

 private:
  HttpRouteHost& host_;
  std::string owner_;
};

}  // namespace

std::unique_ptr<HttpServer> HttpRouteHost::view(std::string owner) {
  return std::make_unique<OwnerView>(*this, std::move(owner));
}

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return {};
}

std::string_view HttpRequest::param(std::string_view name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string_view() : std::string_view(it->second);
}

std::string_view HttpRequest::query_param(std::string_view name, std::string_view fallback) const {
  auto it = query.find(name);
  return it == query.end() ? fallback : std::string_view(it->second);
}

HttpResponse HttpResponse::error(int status, std::string_view message) {
  JsonWriter w;
  w.begin_object().key("error").value(message).end_object();
  return json(status, w.release());
}

struct HttpResponder::State {
  explicit State(Send s) : send(std::move(s)) {}
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    if (!answered.exchange(true) && send) {
      send(HttpResponse::error(500, "the handler dropped the request without answering"));
    }
  }
  Send send;
  std::atomic<bool> answered{false};
};

HttpResponder::HttpResponder(Send send) : state_(std::make_shared<State>(std::move(send))) {}

void HttpResponder::respond(HttpResponse response) const {
  if (!state_ || state_->answered.exchange(true)) return;
  // Taken out first: `send` may release the last reference to the connection.
  Send send = std::move(state_->send);
  state_->send = nullptr;
  if (send) send(std::move(response));
}

bool HttpResponder::responded() const {
  return state_ && state_->answered.load();
}

Status HttpRouteTable::add(HttpRoute route) {
  const std::string name = route.method + " " + route.pattern;
  if (!valid_method(route.method)) {
    return invalid_argument("route " + name + ": the method must be an upper-case HTTP method");
  }
  if (route.method == "HEAD") {
    return invalid_argument("route " + name + ": HEAD is served by the GET route of the path");
  }
  if (route.pattern.empty() || route.pattern[0] != '/' ||
      route.pattern.find_first_of("?# ") != std::string::npos) {
    return invalid_argument("route " + name + ": the pattern must be a path starting with '/'");
  }
  if (!route.handler) return invalid_argument("route " + name + ": no handler");
  auto entry = std::make_shared<HttpRouteEntry>();
  for (std::string_view seg : split_path(route.pattern)) {
    if (seg.find_first_of("{}") == std::string_view::npos) {
      entry->segments_.emplace_back(seg);
      continue;
    }
    if (seg.size() < 3 || seg.front() != '{' || seg.back() != '}' ||
        seg.substr(1, seg.size() - 2).find_first_of("{}/") != std::string_view::npos) {
      return invalid_argument("route " + name + ": a parameter is a whole segment, like {id}");
    }
    const std::string param(seg.substr(1, seg.size() - 2));
    if (std::find(entry->param_names_.begin(), entry->param_names_.end(), param) !=
        entry->param_names_.end()) {
      return invalid_argument("route " + name + ": parameter {" + param + "} appears twice");
    }
    entry->segments_.emplace_back("{}");
    entry->param_names_.push_back(param);
  }
  entry->route_ = std::move(route);
  std::lock_guard lock(mu_);
  for (const auto& r : routes_) {
    if (r->route_.method == entry->route_.method && r->segments_ == entry->segments_) {
      return already_exists("route " + name + " is already registered (as " + r->route_.method +
                            " " + r->route_.pattern + " by " + r->route_.owner + ")");
    }
  }
  if (routes_.size() >= kRoutesMax) {
    return resource_exhausted("route " + name + ": this port already has " +
                              std::to_string(kRoutesMax) + " routes");
  }
  routes_.push_back(std::move(entry));
  return {};
}

Status HttpRouteTable::remove(std::string_view method, std::string_view pattern,
                              std::string_view owner) {
  std::lock_guard lock(mu_);
  for (auto it = routes_.begin(); it != routes_.end(); ++it) {
    const HttpRoute& r = (*it)->route_;
    if (r.method == method && r.pattern == pattern && r.owner == owner) {
      (*it)->removed_.store(true, std::memory_order_release);
      routes_.erase(it);
      return {};
    }
  }
  return not_found("route " + std::string(method) + " " + std::string(pattern) +
                   " is not registered by " + std::string(owner));
}

size_t HttpRouteTable::remove_owner(std::string_view owner) {
  std::lock_guard lock(mu_);
  const auto gone = std::stable_partition(routes_.begin(), routes_.end(),
                                          [&](const auto& r) { return r->route_.owner != owner; });
  for (auto it = gone; it != routes_.end(); ++it)
    (*it)->removed_.store(true, std::memory_order_release);
  const auto n = static_cast<size_t>(routes_.end() - gone);
  routes_.erase(gone, routes_.end());
  return n;
}

size_t HttpRouteTable::size() const {
  std::lock_guard lock(mu_);
  return routes_.size();
}

HttpRouteMatch HttpRouteTable::match(std::string_view method, std::string_view path) const {
  HttpRouteMatch out;
  if (path.empty() || path[0] != '/') return out;
  const std::vector<std::string_view> segs = split_path(path);
  const std::string_view wanted = method == "HEAD" ? std::string_view("GET") : method;
  std::vector<std::string> allowed;
  // The best route has a literal where the others have a parameter, leftmost first: compare
  // the literal masks lexicographically.
  std::vector<bool> best_mask;
  std::lock_guard lock(mu_);
  for (const auto& r : routes_) {
    if (r->segments_.size() != segs.size()) continue;
    std::vector<bool> mask(segs.size());
    bool ok = true;
    for (size_t i = 0; i < segs.size() && ok; ++i) {
      mask[i] = r->segments_[i] != "{}";
      ok = mask[i] ? r->segments_[i] == segs[i] : !segs[i].empty();
    }
    if (!ok) continue;
    if (r->route_.method != wanted) {
      allowed.push_back(r->route_.method);
      continue;
    }
    if (out.route && mask <= best_mask) continue;
    out.route = r;
    best_mask = std::move(mask);
  }
  if (out.route) {
    out.status = 200;
    size_t p = 0;
    for (size_t i = 0; i < segs.size(); ++i) {
      if (!best_mask[i]) {
        out.params[out.route->param_names_[p++]] = http_percent_decode(segs[i]);
      }
    }
    return out;
  }
  if (!allowed.empty()) {
    out.status = 405;
    if (std::find(allowed.begin(), allowed.end(), "GET") != allowed.end()) {
      allowed.emplace_back("HEAD");
    }
    std::sort(allowed.begin(), allowed.end());
    allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
    for (const auto& m : allowed)
      out.allow += (out.allow.empty() ? "" : ", ") + m;
  }
  return out;
}

void run_http_route(const HttpRouteEntry& route, const HttpRequest& request,
                    HttpResponder responder) {
  if (route.removed()) {
    responder.respond(HttpResponse::error(
        503, "route " + route.route().method + " " + route.route().pattern + " was removed"));
    return;
  }
  try {
    route.route().handler(request, responder);
  } catch (const std::exception& e) {
    responder.respond(HttpResponse::error(500, std::string("handler failed: ") + e.what()));
  } catch (...) {
    responder.respond(HttpResponse::error(500, "handler failed"));
  }
}

Status parse_http_target(std::string_view target, HttpRequest& request) {
  if (target.empty() || target[0] != '/') {
    return invalid_argument("request target '" + std::string(target.substr(0, 64)) +
                            "' is not an absolute path");
  }
  const size_t q = target.find('?');
  request.path = std::string(target.substr(0, q));
  request.query.clear();
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::string key = http_percent_decode(pair.substr(0, eq), true);
    std::string value = eq == std::string_view::npos
                            ? std::string()
                            : http_percent_decode(pair.substr(eq + 1), true);
    request.query[std::move(key)] = std::move(value);
  }
  return {};
}

std::string http_percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += (plus_is_space && s[i] == '+') ? ' ' : s[i];
  }
  return out;
}

}  // namespace nodus
