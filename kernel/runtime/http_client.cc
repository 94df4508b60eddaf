#include "kernel/runtime/http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "nodus/address.h"

namespace nodus::kernel {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

// A response header larger than this is refused like an oversize body.
constexpr size_t kResponseHeaderBytesMax = 64 * 1024;

struct Target {
  bool tls = false;
  std::string host;
  uint16_t port = 0;
  std::string target;    // "/path?query"
  std::string label;     // "host:port", in every error message
  std::string pool_key;  // scheme, host:port and TLS settings: connections are shared per key
};

bool has_ctl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n' || c == 0; });
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

// Splits "http://host[:port]/target" or checks "host:port" + target.
Result<Target> parse_target(const HttpClientRequest& r) {
  Target t;
  std::string authority;
  if (!r.url.empty()) {
    std::string_view url = r.url;
    if (url.rfind("http://", 0) == 0) {
      url.remove_prefix(7);
    } else if (url.rfind("https://", 0) == 0) {
      url.remove_prefix(8);
      t.tls = true;
    } else {
      return invalid_argument("url '" + r.url + "': scheme must be http:// or https://");
    }
    const size_t slash = url.find('/');
    authority = std::string(url.substr(0, slash));
    t.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
    const bool bracketed = !authority.empty() && authority.front() == '[';
    const size_t colon = authority.rfind(':');
    const bool has_port = colon != std::string::npos && (!bracketed || authority.find(']') < colon);
    if (!has_port) {
      std::string host = authority;
      if (bracketed) {
        if (host.back() != ']') return invalid_argument("url '" + r.url + "': bad IPv6 host");
        host = host.substr(1, host.size() - 2);
      }
      authority = format_host_port(host, t.tls ? 443 : 80);
    }
  } else {
    authority = r.address;
    t.tls = r.tls;
    t.target = r.target;
  }
  auto hp = parse_host_port(authority);
  if (!hp.ok()) return hp.status();
  if (hp->host.empty() || hp->port == 0) {
    return invalid_argument("address '" + authority + "': needs a host and a non-zero port");
  }
  if (t.target.empty() || t.target.front() != '/' || has_ctl(t.target) ||
      t.target.find(' ') != std::string::npos) {
    return invalid_argument("target '" + t.target + "' of " + authority +
                            ": must start with '/' and hold no spaces or line breaks");
  }
  t.host = hp->host;
  t.port = hp->port;
  t.label = format_host_port(t.host, t.port);
  t.pool_key = (t.tls ? "https://" : "http://") + t.label;
  if (t.tls) {
    t.pool_key += "|" + r.tls_options.ca_file + "|" + (r.tls_options.verify_peer ? "v" : "-") +
                  "|" + r.tls_options.server_name;
  }
  return t;
}

bool idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "PUT" ||
         method == "DELETE";
}

// The errors a server's close of a kept-alive connection shows up as.
bool stale_connection_error(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

struct Conn {
  explicit Conn(asio::io_context& io) : idle_timer(io) {}
  std::optional<tcp::socket> plain;
  std::optional<ssl::stream<tcp::socket>> tls;
  beast::flat_buffer buffer;
  asio::steady_timer idle_timer;
  std::string pool_key;
  bool closed = false;
  bool idle = false;
  uint64_t idle_generation = 0;  // tells a stale idle watch from the current one

  tcp::socket& socket() { return tls ? tls->next_layer() : *plain; }
  template <class Fn>
  void with_stream(Fn&& fn) {
    if (tls) {
      fn(*tls);
    } else {
      fn(*plain);
    }
  }
};

struct Call {
  explicit Call(asio::io_context& io) : deadline(io), resolver(io) {}
  HttpRequestId id = 0;
  Target target;
  HttpTlsOptions tls_options;
  std::string method;
  http::request<http::string_body> request;
  HttpClientCallback done;
  asio::steady_timer deadline;
  tcp::resolver resolver;
  std::shared_ptr<Conn> conn;
  std::unique_ptr<http::response_parser<http::string_body>> parser;
  bool reused_conn = false;
  bool retried = false;
  bool waiting = false;
  bool finished = false;

  std::string what() const { return method + " " + target.label + target.target; }
};

struct Pool {
  std::vector<std::shared_ptr<Conn>> idle;  // most recently used last
  size_t open = 0;                          // busy and idle
  std::deque<HttpRequestId> waiting;        // for a connection, in arrival order
};

}  // namespace

class AsioHttpClient::Core : public std::enable_shared_from_this<Core> {
 public:
  Core(asio::io_context& io, Executor& executor, std::string owner, HttpClientLimits limits)
      : io_(io), executor_(executor), owner_(std::move(owner)), limits_(limits) {
    NODUS_CHECK(limits_.in_flight_max > 0 && limits_.connections_max > 0)
        << "an http client that may hold no request or no connection would queue forever";
  }

  const HttpClientLimits& limits() const { return limits_; }
  size_t in_flight() const { return in_flight_.load(std::memory_order_acquire); }
  Stats stats() const {
    Stats s = stats_;
    for (const auto& [key, pool] : pools_) {
      s.connections_open += pool.open;
      s.connections_idle += pool.idle.size();
    }
    return s;
  }

  HttpRequestId request(HttpClientRequest r, HttpClientCallback done) {
    const HttpRequestId id = next_id_.fetch_add(1, std::memory_order_relaxed);
    if (shut_.load(std::memory_order_acquire)) return id;  // the plugin has stopped
    size_t now = in_flight_.load(std::memory_order_acquire);
    do {
      if (now >= limits_.in_flight_max) {
        post_result(std::move(done),
                    resource_exhausted("http client of " + owner_ + ": " +
                                       std::to_string(limits_.in_flight_max) +
                                       " requests already in flight (in_flight_max)"));
        return id;
      }
    } while (!in_flight_.compare_exchange_weak(now, now + 1, std::memory_order_acq_rel));
    auto start = [self = shared_from_this(), id, r = std::move(r),
                  done = std::move(done)]() mutable {
      self->start(id, std::move(r), std::move(done));
    };
    if (executor_.in_executor()) {
      start();
    } else {
      executor_.post(std::move(start));
    }
    return id;
  }

  bool cancel(HttpRequestId id) {
    auto it = calls_.find(id);
    if (it == calls_.end()) return false;
    finish(it->second, cancelled(it->second->what() + ": cancelled"));
    return true;
  }

  void shutdown() {
    if (shut_.exchange(true)) return;
    auto calls = std::move(calls_);
    calls_.clear();
    for (auto& [id, call] : calls) {
      call->finished = true;
      call->done = nullptr;
      call->deadline.cancel();
      call->resolver.cancel();
      if (call->conn) close(*call->conn);
    }
    for (auto& [key, pool] : pools_) {
      for (auto& conn : pool.idle)
        close(*conn);
      pool.idle.clear();
    }
    pools_.clear();
    in_flight_.store(0, std::memory_order_release);
  }

 private:
  void post_result(HttpClientCallback done, Result<HttpClientResponse> result) {
    // Checked again when the task runs: a request finished just before the plugin stopped
    // must not call back into the stopped plugin.
    executor_.post(
        [self = shared_from_this(), done = std::move(done), result = std::move(result)]() mutable {
          if (!self->shut_.load(std::memory_order_acquire)) done(std::move(result));
        });
  }

  void start(HttpRequestId id, HttpClientRequest r, HttpClientCallback done) {
    if (shut_.load(std::memory_order_acquire)) return;
    auto target = parse_target(r);
    Status bad;
    if (!target.ok()) {
      bad = target.status();
    } else if (!is_token(r.method)) {
      bad =
          invalid_argument("method '" + r.method + "' of " + target->label + ": not an HTTP token");
    } else {
      for (const auto& [name, value] : r.headers) {
        if (!is_token(name) || has_ctl(value)) {
          bad = invalid_argument("header '" + name + "' of a request to " + target->label +
                                 ": bad name or a line break in the value");
          break;
        }
      }
    }
    if (!bad.ok()) {
      in_flight_.fetch_sub(1, std::memory_order_acq_rel);
      post_result(std::move(done), bad.with_context("http client"));
      return;
    }
    auto call = std::make_shared<Call>(io_);
    call->id = id;
    call->target = std::move(target).value();
    call->tls_options = std::move(r.tls_options);
    call->method = r.method;
    call->done = std::move(done);
    build_request(*call, r);
    calls_.emplace(id, call);
    const Duration timeout = r.timeout > Duration::zero() ? r.timeout : limits_.default_timeout;
    call->deadline.expires_after(timeout);
    call->deadline.async_wait([self = shared_from_this(), call, timeout](const error_code& ec) {
      if (ec || call->finished) return;
      self->finish(call,
                   deadline_exceeded(
                       call->what() + ": no response within " +
                       std::to_string(
                           std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) +
                       " ms"));
    });
    acquire(call);
  }

  static void build_request(Call& call, const HttpClientRequest& r) {
    auto& req = call.request;
    req.version(11);
    req.method_string(r.method);
    req.target(call.target.target);
    // The port is left out when it is the scheme's default, as browsers and curl do.
    const bool default_port = call.target.port == (call.target.tls ? 443 : 80);
    const std::string& host = call.target.host;
    const std::string bare = host.find(':') == std::string::npos ? host : "[" + host + "]";
    req.set(http::field::host, default_port ? bare : call.target.label);
    req.set(http::field::user_agent, "nodus");
    for (const auto& [name, value] : r.headers) {
      const http::field f = http::string_to_field(name);
      if (f == http::field::host || f == http::field::content_length ||
          f == http::field::connection || f == http::field::transfer_encoding) {
        continue;  // the client's to set
      }
      req.insert(name, value);
    }
    req.body() = r.body;
    req.keep_alive(true);
    req.prepare_payload();
  }

  // Gives `call` a kept-alive connection of its host, a new one, or a place in the queue.
  void acquire(const std::shared_ptr<Call>& call) {
    Pool& pool = pools_[call->target.pool_key];
    while (!pool.idle.empty()) {
      std::shared_ptr<Conn> conn = std::move(pool.idle.back());
      pool.idle.pop_back();
      conn->idle = false;
      ++conn->idle_generation;
      conn->idle_timer.cancel();
      error_code ignored;
      conn->socket().cancel(ignored);  // the idle watch
      if (conn->closed) continue;
      call->reused_conn = true;
      ++stats_.connections_reused;
      send(call, std::move(conn));
      return;
    }
    if (pool.open < limits_.connections_max) {
      ++pool.open;
      connect(call);
      return;
    }
    call->waiting = true;
    pool.waiting.push_back(call->id);
  }

  void connect(const std::shared_ptr<Call>& call) {
    auto conn = std::make_shared<Conn>(io_);
    conn->pool_key = call->target.pool_key;
    if (call->target.tls) {
      auto context = ssl_context(*call);
      if (!context.ok()) {
        conn->plain.emplace(io_);  // never connected; close() gives back the pool's slot
        close(*conn);
        finish(call, context.status());
        return;
      }
      conn->tls.emplace(io_, **context);
    } else {
      conn->plain.emplace(io_);
    }
    call->conn = conn;
    call->reused_conn = false;
    call->resolver.async_resolve(
        call->target.host, std::to_string(call->target.port),
        [self = shared_from_this(), call, conn](const error_code& ec,
                                                const tcp::resolver::results_type& results) {
          if (call->finished) return;
          if (ec) return self->fail(call, ec, "resolve");
          asio::async_connect(
              conn->socket(), results,
              [self, call, conn](const error_code& connect_ec, const tcp::endpoint&) {
                if (call->finished) return;
                if (connect_ec) return self->fail(call, connect_ec, "connect");
                ++self->stats_.connections_opened;
                self->handshake(call, conn);
              });
        });
  }

  void handshake(const std::shared_ptr<Call>& call, const std::shared_ptr<Conn>& conn) {
    if (!conn->tls) return send(call, conn);
    SSL* native = conn->tls->native_handle();
    const std::string& name =
        call->tls_options.server_name.empty() ? call->target.host : call->tls_options.server_name;
    error_code not_ip;
    (void)asio::ip::make_address(name, not_ip);
    const bool is_ip = !not_ip;
    if (!is_ip) SSL_set_tlsext_host_name(native, name.c_str());  // SNI carries names only
    if (call->tls_options.verify_peer) {
      // OpenSSL checks the certificate's subjectAltName during the handshake.
      X509_VERIFY_PARAM* param = SSL_get0_param(native);
      const int set = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                            : X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
      if (set != 1) {
        return finish(call, invalid_argument("https " + call->target.label +
                                             ": cannot verify against name '" + name + "'"));
      }
    }
    conn->tls->async_handshake(ssl::stream_base::client,
                               [self = shared_from_this(), call, conn](const error_code& ec) {
                                 if (call->finished) return;
                                 if (ec) return self->fail(call, ec, "TLS handshake");
                                 self->send(call, conn);
                               });
  }

  void send(const std::shared_ptr<Call>& call, std::shared_ptr<Conn> conn) {
    call->conn = conn;
    conn->with_stream([&](auto& stream) {
      http::async_write(stream, call->request,
                        [self = shared_from_this(), call, conn](const error_code& ec, size_t) {
                          if (call->finished) return;
                          if (ec) return self->fail(call, ec, "write");
                          self->read(call, conn);
                        });
    });
  }

  void read(const std::shared_ptr<Call>& call, const std::shared_ptr<Conn>& conn) {
    call->parser = std::make_unique<http::response_parser<http::string_body>>();
    call->parser->body_limit(limits_.response_bytes_max);
    call->parser->header_limit(
        static_cast<uint32_t>(std::min(limits_.response_bytes_max, kResponseHeaderBytesMax)));
    if (call->method == "HEAD") call->parser->skip(true);
    // The header first: Beast 1.74's async_read lets a body past body_limit through when its
    // Content-Length arrives in the same read as the header, so the length is checked here.
    conn->with_stream([&](auto& stream) {
      http::async_read_header(
          stream, conn->buffer, *call->parser,
          [self = shared_from_this(), call, conn](const error_code& ec, size_t) {
            if (call->finished) return;
            if (ec) return self->fail(call, ec, "read");
            const auto length = call->parser->content_length();
            if (length && *length > self->limits_.response_bytes_max) {
              return self->fail(call, http::error::body_limit, "read");
            }
            self->read_body(call, conn);
          });
    });
  }

  void read_body(const std::shared_ptr<Call>& call, const std::shared_ptr<Conn>& conn) {
    conn->with_stream([&](auto& stream) {
      http::async_read(stream, conn->buffer, *call->parser,
                       [self = shared_from_this(), call, conn](const error_code& ec, size_t) {
                         if (call->finished) return;
                         if (ec) return self->fail(call, ec, "read");
                         if (call->parser->get().body().size() > self->limits_.response_bytes_max) {
                           return self->fail(call, http::error::body_limit, "read");
                         }
                         self->complete(call, conn);
                       });
    });
  }

  void complete(const std::shared_ptr<Call>& call, const std::shared_ptr<Conn>& conn) {
    auto& res = call->parser->get();
    const bool reusable = res.keep_alive() && !res.need_eof();
    HttpClientResponse out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res)
      out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    out.body = std::move(res.body());
    call->conn = nullptr;
    release(conn, reusable);
    finish(call, std::move(out));
  }

  void fail(const std::shared_ptr<Call>& call, const error_code& ec, std::string_view stage) {
    std::shared_ptr<Conn> conn = std::move(call->conn);
    if (conn) close(*conn);
    if (call->reused_conn && !call->retried && stale_connection_error(ec) &&
        idempotent(call->method)) {
      // The server closed the kept-alive connection before it read this request; sending it
      // again on a fresh connection is what the method's idempotence allows.
      call->retried = true;
      call->reused_conn = false;
      acquire(call);
      return;
    }
    if (ec == http::error::body_limit || ec == http::error::header_limit ||
        ec == http::error::buffer_overflow) {
      return finish(call, resource_exhausted(call->what() + ": response exceeds " +
                                             std::to_string(limits_.response_bytes_max) +
                                             " bytes (response_bytes_max)"));
    }
    finish(call, unavailable(call->what() + ": " + std::string(stage) + " " + call->target.label +
                             ": " + ec.message()));
  }

  // `call` by value: callers may pass the calls_ entry itself (cancel()), which the erase
  // below destroys while the call is still needed.
  // NOLINTNEXTLINE(performance-unnecessary-value-param): the copy keeps the call alive
  void finish(std::shared_ptr<Call> call, Result<HttpClientResponse> result) {
    if (call->finished) return;
    call->finished = true;
    call->deadline.cancel();
    call->resolver.cancel();
    if (call->conn) close(*call->conn);  // a request ended mid-way leaves its stream unusable
    call->conn = nullptr;
    if (call->waiting) {
      auto pool = pools_.find(call->target.pool_key);
      if (pool != pools_.end()) {
        auto& w = pool->second.waiting;
        w.erase(std::remove(w.begin(), w.end(), call->id), w.end());
      }
    }
    calls_.erase(call->id);
    in_flight_.fetch_sub(1, std::memory_order_acq_rel);
    post_result(std::move(call->done), std::move(result));
  }

  // Returns a connection that served its request: kept idle for reuse, or closed.
  void release(const std::shared_ptr<Conn>& conn, bool reusable) {
    auto it = pools_.find(conn->pool_key);
    if (it == pools_.end() || shut_.load(std::memory_order_acquire)) return close(*conn);
    Pool& pool = it->second;
    if (!reusable || pool.idle.size() >= limits_.idle_connections_max) {
      close(*conn);
      return;
    }
    conn->idle = true;
    const uint64_t generation = ++conn->idle_generation;
    pool.idle.push_back(conn);
    conn->idle_timer.expires_after(limits_.idle_timeout);
    conn->idle_timer.async_wait([self = shared_from_this(), conn, generation](const error_code&) {
      if (conn->idle && conn->idle_generation == generation) self->close(*conn);
    });
    // A server that closes an idle connection makes it readable; drop it then rather than
    // fail the next request on it.
    conn->socket().async_wait(tcp::socket::wait_read,
                              [self = shared_from_this(), conn, generation](const error_code&) {
                                if (conn->idle && conn->idle_generation == generation) {
                                  self->close(*conn);
                                }
                              });
    pump(conn->pool_key);
  }

  // Closes a connection once and gives its slot to the next waiting request.
  void close(Conn& conn) {
    if (conn.closed) return;
    conn.closed = true;
    error_code ignored;
    conn.idle_timer.cancel();
    conn.socket().shutdown(tcp::socket::shutdown_both, ignored);
    conn.socket().close(ignored);
    if (shut_.load(std::memory_order_acquire)) return;  // shutdown() forgets every pool at once
    auto it = pools_.find(conn.pool_key);
    if (it == pools_.end()) return;
    Pool& pool = it->second;
    if (conn.idle) {
      conn.idle = false;
      pool.idle.erase(std::remove_if(pool.idle.begin(), pool.idle.end(),
                                     [&](const auto& c) { return c.get() == &conn; }),
                      pool.idle.end());
    }
    NODUS_CHECK_GT(pool.open, 0u) << "a connection of " << conn.pool_key
                                  << " closed twice: the pool's count would wrap";
    --pool.open;
    pump(conn.pool_key);
  }

  // Hands freed connection slots to waiting requests, and forgets a host with nothing left.
  // acquire() may close a connection and so re-enter pump(): the pool is looked up afresh on
  // every turn instead of held by reference.
  void pump(const std::string& pool_key) {
    for (;;) {
      auto it = pools_.find(pool_key);
      if (it == pools_.end()) return;
      Pool& pool = it->second;
      const bool slot_free = !pool.idle.empty() || pool.open < limits_.connections_max;
      if (pool.waiting.empty() || !slot_free) break;
      const HttpRequestId id = pool.waiting.front();
      pool.waiting.pop_front();
      auto call = calls_.find(id);
      if (call == calls_.end()) continue;
      call->second->waiting = false;
      acquire(call->second);
    }
    auto it = pools_.find(pool_key);
    if (it != pools_.end() && it->second.open == 0 && it->second.waiting.empty()) {
      pools_.erase(it);
    }
  }

  Result<std::shared_ptr<ssl::context>> ssl_context(const Call& call) {
    const std::string key = call.tls_options.ca_file + (call.tls_options.verify_peer ? "|v" : "|-");
    auto& slot = ssl_contexts_[key];
    if (slot) return slot;
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    error_code ec;
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                             ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                             ssl::context::no_tlsv1_1,
                         ec);
    if (call.tls_options.ca_file.empty()) {
      context->set_default_verify_paths(ec);
    } else {
      context->load_verify_file(call.tls_options.ca_file, ec);
    }
    if (ec) {
      ssl_contexts_.erase(key);
      return invalid_argument("https " + call.target.label + ": CA file '" +
                              call.tls_options.ca_file + "': " + ec.message());
    }
    context->set_verify_mode(call.tls_options.verify_peer ? ssl::verify_peer : ssl::verify_none);
    slot = context;
    return slot;
  }

  asio::io_context& io_;
  Executor& executor_;
  const std::string owner_;
  const HttpClientLimits limits_;
  std::atomic<HttpRequestId> next_id_{1};
  std::atomic<size_t> in_flight_{0};
  std::atomic<bool> shut_{false};
  // Below: touched on the executor thread only.
  std::map<HttpRequestId, std::shared_ptr<Call>> calls_;
  std::map<std::string, Pool> pools_;
  std::map<std::string, std::shared_ptr<ssl::context>> ssl_contexts_;
  Stats stats_;
};

AsioHttpClient::AsioHttpClient(asio::io_context& io, Executor& executor, std::string owner,
                               HttpClientLimits limits)
    : core_(std::make_shared<Core>(io, executor, std::move(owner), limits)) {}

AsioHttpClient::~AsioHttpClient() {
  core_->shutdown();
}

HttpRequestId AsioHttpClient::request(HttpClientRequest request, HttpClientCallback done) {
  return core_->request(std::move(request), std::move(done));
}

bool AsioHttpClient::cancel(HttpRequestId id) {
  return core_->cancel(id);
}

size_t AsioHttpClient::in_flight() const {
  return core_->in_flight();
}

const HttpClientLimits& AsioHttpClient::limits() const {
  return core_->limits();
}

void AsioHttpClient::shutdown() {
  core_->shutdown();
}

AsioHttpClient::Stats AsioHttpClient::stats() const {
  return core_->stats();
}

}  // namespace nodus::kernel
