#include "kernel/runtime/http_server.h"

#include <pthread.h>

#include <array>
#include <cctype>
#include <exception>
#include <optional>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "nodus/check.h"

namespace nodus::kernel {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

// After a response that ends the connection, unread request bytes are drained for a moment
// before closing: closing a socket with unread input sends RST, which can destroy the
// response in flight.
constexpr auto kLingerTimeout = std::chrono::seconds(1);
constexpr size_t kLingerBytesMax = 64 * 1024;
constexpr auto kStopGrace = std::chrono::seconds(1);

std::string_view sv(beast::string_view s) {
  return {s.data(), s.size()};
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

class HttpServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpServer& server, tcp::socket socket) : server_(server), stream_(std::move(socket)) {}
  ~Session() {
    server_.sessions_.erase(this);
    server_.connections_.fetch_sub(1, std::memory_order_relaxed);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.options_.header_bytes_max));
    stream_.expires_after(server_.options_.idle_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  // Called on the server thread with the answer of the request's handler.
  void answer(HttpResponse r) {
    server_.waiting_.erase(this);
    if (server_.stopping_) return close();
    respond(std::move(r));
  }

 private:
  static bool is_disconnect(beast::error_code ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == beast::error::timeout || ec == asio::error::operation_aborted ||
           ec == asio::error::connection_reset;
  }

  void on_header(beast::error_code ec) {
    if (is_disconnect(ec) || server_.stopping_) return close();
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return fail(431, "request header is over the limit of " +
                           std::to_string(server_.options_.header_bytes_max) + " bytes");
    }
    if (ec) return fail(400, "malformed request: " + ec.message());
    const auto& req = parser_->get();
    head_ = req.method() == http::verb::head;
    keep_alive_ = req.keep_alive();
    request_ = HttpRequest();
    request_.method = std::string(req.method_string());
    if (Status st = parse_http_target(sv(req.target()), request_); !st.ok()) {
      return fail(400, st.message());
    }
    HttpRouteMatch m = server_.routes_.match(request_.method, request_.path);
    if (m.status == 405) {
      HttpResponse r = HttpResponse::error(
          405, "method " + request_.method + " is not allowed on " + request_.path);
      r.headers.emplace_back("Allow", m.allow);
      return finish_early(std::move(r));
    }
    if (!m.route) {
      return finish_early(
          HttpResponse::error(404, "no route for " + request_.method + " " + request_.path));
    }
    route_ = std::move(m.route);
    request_.params = std::move(m.params);
    for (const auto& field : req)
      request_.headers.emplace_back(lower(sv(field.name_string())), std::string(field.value()));
    const size_t body_max = route_->route().options.max_body_bytes;
    // Beast checks an announced length against body_limit only while parsing the header,
    // before the route (and its limit) is known: compare it here. Chunked bodies are counted
    // against body_limit as they arrive.
    if (const auto length = parser_->content_length(); length && *length > body_max) {
      return finish_early(HttpResponse::error(413, "request body of " + std::to_string(*length) +
                                                       " bytes is over the limit of " +
                                                       std::to_string(body_max) + " bytes"));
    }
    if (parser_->is_done()) return dispatch();
    parser_->body_limit(body_max);
    stream_.expires_after(server_.options_.request_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code read_ec, size_t) { self->on_body(read_ec); });
  }

  void on_body(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return fail(413, "request body is over the limit of " +
                           std::to_string(route_->route().options.max_body_bytes) + " bytes");
    }
    if (is_disconnect(ec) || server_.stopping_) return close();
    if (ec) return fail(400, "malformed request body: " + ec.message());
    dispatch();
  }

  // Hands the request to its route. No deadline runs while the handler works: waiting for
  // the executor (a commit) is the server's time, and the connection cap bounds the waiting.
  void dispatch() {
    stream_.expires_never();
    request_.body = parser_->release().body();
    auto self = shared_from_this();
    server_.waiting_.emplace(this, self);
    std::weak_ptr<asio::io_context> weak_io = server_.io_;
    std::weak_ptr<Session> weak_self = self;
    HttpResponder responder([weak_io, weak_self](HttpResponse r) {
      auto io = weak_io.lock();
      if (!io) return;  // the server is gone; so is the client
      asio::post(*io, [weak_self, r = std::move(r)]() mutable {
        if (auto s = weak_self.lock()) s->answer(std::move(r));
      });
    });
    Executor* executor = route_->route().executor;
    if (executor == nullptr) {
      run_http_route(*route_, request_, std::move(responder));
      return;
    }
    executor->post(
        [route = route_, request = std::move(request_), responder = std::move(responder)] {
          run_http_route(*route, request, responder);
        });
  }

  // An answer before the body was read: the connection continues only when there is no body.
  void finish_early(HttpResponse r) {
    if (!parser_->is_done()) keep_alive_ = false;
    respond(std::move(r));
  }

  void fail(int status, const std::string& message) {
    keep_alive_ = false;
    head_ = false;
    respond(HttpResponse::error(status, message));
  }

  void respond(HttpResponse r) {
    const unsigned status =
        (r.status >= 100 && r.status <= 599) ? static_cast<unsigned>(r.status) : 500u;
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(status);
    res->set(http::field::server, "nodus");
    res->set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers)
      res->set(name, value);
    res->keep_alive(keep_alive_);
    if (head_) {
      res->content_length(r.body.size());
    } else {
      res->body() = std::move(r.body);
      res->prepare_payload();
    }
    stream_.expires_after(server_.options_.write_timeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec) return self->close();
                        if (self->keep_alive_ && !self->server_.stopping_)
                          return self->read_header();
                        self->linger();
                      });
  }

  void linger() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close();
    stream_.expires_after(kLingerTimeout);
    drain();
  }

  void drain() {
    stream_.async_read_some(
        asio::buffer(drain_buf_), [self = shared_from_this()](beast::error_code ec, size_t n) {
          self->drained_bytes_ += n;
          if (ec || self->drained_bytes_ > kLingerBytesMax || self->server_.stopping_) {
            return self->close();
          }
          self->drain();
        });
  }

  HttpServer& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest request_;
  std::shared_ptr<const HttpRouteEntry> route_;
  bool head_ = false;
  bool keep_alive_ = false;
  std::array<char, 1024> drain_buf_{};
  size_t drained_bytes_ = 0;
};

HttpServer::HttpServer(HttpServerOptions options)
    : options_(std::move(options)),
      io_(std::make_shared<asio::io_context>(1)),
      acceptor_(*io_),
      accept_retry_timer_(*io_) {}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::route(const std::string& path, SyncHandler handler) {
  (void)routes_.remove("GET", path, "kernel");
  HttpRoute r;
  r.method = "GET";
  r.pattern = path;
  r.owner = "kernel";
  r.handler = [handler = std::move(handler)](const HttpRequest& req, HttpResponder res) {
    res.respond(handler(req));
  };
  Status st = routes_.add(std::move(r));
  NODUS_CHECK(st.ok()) << "kernel route " << path << ": " << st.to_string();
}

Status HttpServer::listen(const std::string& host, uint16_t port) {
  std::lock_guard lock(lifecycle_mu_);
  const std::string where = "listen " + host + ":" + std::to_string(port);
  if (listened_) return failed_precondition(where + ": server is already listening");
  boost::system::error_code ec;
  tcp::endpoint endpoint;
  const auto address = asio::ip::make_address(host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, port);
  } else {
    tcp::resolver resolver(*io_);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      return invalid_argument(where + ": cannot resolve host: " + ec.message());
    }
    endpoint = *results.begin();
  }
  auto fail = [&](std::string_view step) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    std::string msg = where + ": " + std::string(step) + ec.message();
    if (ec == asio::error::access_denied) return permission_denied(std::move(msg));
    return unavailable(std::move(msg));
  };
  if (acceptor_.open(endpoint.protocol(), ec)) return fail("open: ");
  if (acceptor_.set_option(tcp::acceptor::reuse_address(true), ec)) return fail("setsockopt: ");
  if (acceptor_.bind(endpoint, ec)) return fail("");
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec)) return fail("");
  const tcp::endpoint local = acceptor_.local_endpoint(ec);
  if (ec) return fail("local address: ");
  port_.store(local.port(), std::memory_order_release);
  listened_ = true;
  accept_next();
  auto loop_done = std::make_shared<std::promise<void>>();
  loop_done_ = loop_done->get_future();
  thread_ = std::thread([this, loop_done] {
    pthread_setname_np(pthread_self(), "nodus-http");
    for (;;) {
      try {
        io_->run();
        break;
      } catch (...) {
        // Handlers catch their own errors; keep serving whatever escaped.
      }
    }
    loop_done->set_value();
  });
  return {};
}

void HttpServer::accept_next() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || stopping_) return;
    if (ec) {
      // Out of descriptors (EMFILE) or similar: the listening socket is still good. Back off
      // instead of spinning on the error, so closing connections free descriptors meanwhile.
      accept_errors_.fetch_add(1, std::memory_order_relaxed);
      accept_retry_timer_.expires_after(options_.accept_retry);
      accept_retry_timer_.async_wait([this](boost::system::error_code wait_ec) {
        if (!wait_ec && !stopping_) accept_next();
      });
      return;
    }
    if (connections_.load(std::memory_order_relaxed) >= options_.connections_max) {
      refuse(socket);
    } else {
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      connections_.fetch_add(1, std::memory_order_relaxed);
      auto session = std::make_shared<Session>(*this, std::move(socket));
      sessions_.emplace(session.get(), session);
      session->read_header();
    }
    accept_next();
  });
}

void HttpServer::refuse(tcp::socket& socket) {
  // Over the bound: shed load rather than queue without limit, with one short answer that says
  // why (non-blocking: a client that does not read gets nothing and a close).
  const std::string body =
      HttpResponse::error(503, "too many connections (" + std::to_string(options_.connections_max) +
                                   ", " + options_.connections_max_setting + "); retry later")
          .body +
      "\n";
  const std::string busy =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
      "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  boost::system::error_code ignored;
  socket.non_blocking(true, ignored);
  (void)socket.write_some(asio::buffer(busy), ignored);
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

void HttpServer::close_all() {
  stopping_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  accept_retry_timer_.cancel();
  waiting_.clear();  // answers that come later find no session
  std::vector<std::shared_ptr<Session>> live;
  for (auto& [ptr, weak] : sessions_) {
    if (auto s = weak.lock()) live.push_back(std::move(s));
  }
  for (auto& s : live)
    s->close();
}

void HttpServer::stop() {
  std::lock_guard lock(lifecycle_mu_);
  if (!thread_.joinable()) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    return;
  }
  // Close everything on the server thread; once the aborted operations have completed, the
  // loop runs out of work and returns. If a handler is stuck in user code, io_.stop() cuts
  // the wait short after a grace period.
  asio::post(*io_, [this] { close_all(); });
  if (loop_done_.wait_for(kStopGrace) != std::future_status::ready) io_->stop();
  thread_.join();
}

}  // namespace nodus::kernel
