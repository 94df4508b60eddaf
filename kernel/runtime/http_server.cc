#include "kernel/runtime/http_server.h"

#include <pthread.h>

#include <array>
#include <exception>
#include <future>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace nodus::kernel {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kWriteTimeout = std::chrono::seconds(5);
// After the response, unread request bytes are drained for a moment before closing: closing
// a socket with unread input sends RST, which can destroy the response in flight.
constexpr auto kLingerTimeout = std::chrono::seconds(1);
constexpr size_t kLingerBytesMax = 64 * 1024;
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);
constexpr auto kStopGrace = std::chrono::seconds(1);

}  // namespace

class HttpServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpServer& server, tcp::socket socket)
      : server_(server), stream_(std::move(socket)), buffer_(kHeaderBytesMax + 1024) {
    parser_.header_limit(static_cast<std::uint32_t>(kHeaderBytesMax));
  }
  ~Session() {
    server_.sessions_.erase(this);
    server_.connections_.fetch_sub(1, std::memory_order_relaxed);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start() {
    stream_.expires_after(kReadTimeout);
    http::async_read_header(
        stream_, buffer_, parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

 private:
  void on_header(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        server_.stopping_) {
      return close();
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return respond(false, {431, "text/plain; charset=utf-8", "request header too large\n"});
    }
    if (ec) return respond(false, {400, "text/plain; charset=utf-8", "bad request\n"});

    const auto& req = parser_.get();
    const bool head = req.method() == http::verb::head;
    const std::string target(req.target());
    if (target.empty() || target[0] != '/') {
      return respond(head, {400, "text/plain; charset=utf-8", "bad request target\n"});
    }
    HttpRequest request;
    request.method = std::string(req.method_string());
    const size_t q = target.find('?');
    request.path = target.substr(0, q);
    if (q != std::string::npos) request.query = target.substr(q + 1);

    HttpHandler handler = server_.find_handler(request.path);
    if (!handler) return respond(head, {404, "text/plain; charset=utf-8", "not found\n"});
    if (!head && req.method() != http::verb::get) {
      return respond(false, {405, "text/plain; charset=utf-8", "method not allowed\n"});
    }
    HttpResponse response;
    try {
      response = handler(request);
    } catch (const std::exception& e) {
      response = {500, "text/plain; charset=utf-8",
                  std::string("internal error: ") + e.what() + "\n"};
    } catch (...) {
      response = {500, "text/plain; charset=utf-8", "internal error\n"};
    }
    respond(head, std::move(response));
  }

  void respond(bool head, HttpResponse r) {
    const unsigned status =
        (r.status >= 100 && r.status <= 599) ? static_cast<unsigned>(r.status) : 500u;
    auto fill = [&](auto& res) {
      res.version(11);
      res.result(status);
      res.set(http::field::server, "nodus");
      res.set(http::field::content_type, r.content_type);
      res.set(http::field::connection, "close");
      if (status == 405) res.set(http::field::allow, "GET, HEAD");
      res.keep_alive(false);
    };
    if (head) {
      auto res = std::make_shared<http::response<http::empty_body>>();
      fill(*res);
      res->content_length(r.body.size());
      write(res);
    } else {
      auto res = std::make_shared<http::response<http::string_body>>();
      fill(*res);
      res->body() = std::move(r.body);
      res->prepare_payload();
      write(res);
    }
  }

  template <class Response>
  void write(std::shared_ptr<Response> res) {
    stream_.expires_after(kWriteTimeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec) return self->close();
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
  http::request_parser<http::empty_body> parser_;
  std::array<char, 1024> drain_buf_{};
  size_t drained_bytes_ = 0;
};

HttpServer::HttpServer() : acceptor_(io_), accept_retry_timer_(io_) {}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::route(std::string path, HttpHandler handler) {
  std::lock_guard lock(routes_mu_);
  routes_[std::move(path)] = std::move(handler);
}

HttpHandler HttpServer::find_handler(const std::string& path) const {
  std::lock_guard lock(routes_mu_);
  auto it = routes_.find(path);
  return it == routes_.end() ? HttpHandler() : it->second;
}

nodus::Status HttpServer::listen(const std::string& host, uint16_t port) {
  std::lock_guard lock(lifecycle_mu_);
  const std::string where = "listen " + host + ":" + std::to_string(port);
  if (listened_) return nodus::failed_precondition(where + ": server is already listening");
  boost::system::error_code ec;
  tcp::endpoint endpoint;
  const auto address = asio::ip::make_address(host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, port);
  } else {
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      return nodus::invalid_argument(where + ": cannot resolve host: " + ec.message());
    }
    endpoint = *results.begin();
  }
  auto fail = [&](std::string_view step) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    std::string msg = where + ": " + std::string(step) + ec.message();
    if (ec == asio::error::access_denied) return nodus::permission_denied(std::move(msg));
    return nodus::unavailable(std::move(msg));
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
        io_.run();
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
      // Out of descriptors or similar: back off instead of spinning on the error.
      accept_retry_timer_.expires_after(kAcceptRetryDelay);
      accept_retry_timer_.async_wait([this](boost::system::error_code wait_ec) {
        if (!wait_ec && !stopping_) accept_next();
      });
      return;
    }
    if (connections_.load(std::memory_order_relaxed) >= kConnectionsMax) {
      // Over the bound: shed load rather than queue without limit, with one short answer that
      // says why (non-blocking: a client that does not read gets nothing and a close).
      static const std::string kBody =
          "too many connections (" + std::to_string(kConnectionsMax) + "); retry later\n";
      static const std::string kBusy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
          "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
          std::to_string(kBody.size()) + "\r\n\r\n" + kBody;
      boost::system::error_code ignored;
      socket.non_blocking(true, ignored);
      (void)socket.write_some(asio::buffer(kBusy), ignored);
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
    } else {
      connections_.fetch_add(1, std::memory_order_relaxed);
      auto session = std::make_shared<Session>(*this, std::move(socket));
      sessions_.emplace(session.get(), session);
      session->start();
    }
    accept_next();
  });
}

void HttpServer::close_all() {
  stopping_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  accept_retry_timer_.cancel();
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
  asio::post(io_, [this] { close_all(); });
  if (loop_done_.wait_for(kStopGrace) != std::future_status::ready) io_.stop();
  thread_.join();
}

}  // namespace nodus::kernel
