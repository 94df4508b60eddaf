#include "http_frontend.h"

#include <utility>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "nodus/json.h"

namespace nodus::ledger {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string error_json(std::string_view message) {
  return "{\"error\":" + json_quote(message) + "}";
}

std::string to_json(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.always_print_primitive_fields = true;
  opts.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
  return out;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const std::string hex(s.substr(i + 1, 2));
      char* end = nullptr;
      const long v = std::strtol(hex.c_str(), &end, 16);
      if (end == hex.c_str() + 2) {
        out += static_cast<char>(v);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

unsigned status_for(const std::vector<TxResult>& results) {
  unsigned status = 200;
  for (const auto& r : results) {
    if (r.code() == TX_RETRY || r.code() == TX_NOT_LEADER || r.code() == TX_UNKNOWN) return 503;
    if (r.code() != TX_OK) status = 422;
  }
  return status;
}

// Parses a POST /v1/tx body: {"txs": [...]} or one transaction. Strict proto3 JSON: each shape
// is tried, and the error reported is the one of the shape the body looks like.
Status parse_tx_body(const std::string& body, std::vector<Transaction>* txs, bool* batch) {
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  SubmitRequest req;
  auto as_batch = google::protobuf::util::JsonStringToMessage(body, &req, opts);
  if (as_batch.ok() && req.txs_size() > 0) {
    txs->assign(req.txs().begin(), req.txs().end());
    *batch = true;
    return {};
  }
  Transaction tx;
  auto as_tx = google::protobuf::util::JsonStringToMessage(body, &tx, opts);
  if (as_tx.ok()) {
    txs->push_back(std::move(tx));
    *batch = false;
    return {};
  }
  if (body.find("\"txs\"") != std::string::npos) {
    return invalid_argument("malformed JSON batch: " + std::string(as_batch.message()));
  }
  return invalid_argument("malformed JSON transaction: " + std::string(as_tx.message()));
}

}  // namespace

void handle_http(LedgerCore& core, const std::string& method, const std::string& raw_target,
                 const std::string& body, std::function<void(HttpResponse)> respond) {
  std::string target = raw_target;
  bool linearizable = false;
  if (auto q = target.find('?'); q != std::string::npos) {
    linearizable = target.find("linearizable=true", q) != std::string::npos;
    target.resize(q);
  }
  if (!core.accepting()) {
    respond({503, error_json("ledger is shutting down"), true});
    return;
  }
  if (method == "POST" && target == "/v1/tx") {
    std::vector<Transaction> txs;
    bool batch = false;
    if (Status s = parse_tx_body(body, &txs, &batch); !s.ok()) {
      respond({400, error_json(s.message()), false});
      return;
    }
    if (!core.admit(txs.size())) {
      respond({503, error_json("ledger overloaded: too many transactions waiting; resend later"),
               true});
      return;
    }
    core.post([&core, txs = std::move(txs), batch, respond = std::move(respond)]() mutable {
      core.submit(
          std::move(txs),
          [batch, respond = std::move(respond)](std::vector<TxResult> results, std::string hint) {
            HttpResponse res;
            res.status = status_for(results);
            res.retry_after = res.status == 503;
            if (batch || results.size() != 1) {
              SubmitReply reply;
              for (auto& r : results)
                *reply.add_results() = std::move(r);
              reply.set_leader_hint(std::move(hint));
              res.body = to_json(reply);
            } else {
              res.body = to_json(results[0]);
            }
            respond(std::move(res));
          },
          Duration::max());
    });
    return;
  }
  if (method != "GET") {
    respond({405, error_json("method " + method + " is not allowed on " + target), false});
    return;
  }
  constexpr std::string_view kAccounts = "/v1/accounts/";
  constexpr std::string_view kKv = "/v1/kv/";
  const bool is_read = (target.rfind(kAccounts, 0) == 0 && target.size() > kAccounts.size()) ||
                       (target.rfind(kKv, 0) == 0 && target.size() > kKv.size());
  if (is_read && !core.admit_read()) {
    respond({503, error_json("ledger overloaded: too many reads waiting; resend later"), true});
    return;
  }
  if (target.rfind(kAccounts, 0) == 0 && target.size() > kAccounts.size()) {
    core.post([&core, name = percent_decode(target.substr(kAccounts.size())), linearizable,
               respond = std::move(respond)]() mutable {
      core.get_account(
          name, linearizable,
          [respond = std::move(respond)](const Status& s, const GetAccountReply& reply) {
            if (!s.ok()) {
              respond({503, error_json(s.to_string()), true});
            } else {
              respond({reply.found() ? 200u : 404u, to_json(reply), false});
            }
          });
    });
    return;
  }
  if (target.rfind(kKv, 0) == 0 && target.size() > kKv.size()) {
    core.post([&core, key = percent_decode(target.substr(kKv.size())), linearizable,
               respond = std::move(respond)]() mutable {
      core.get(key, linearizable,
               [respond = std::move(respond)](const Status& s, const GetReply& reply) {
                 if (!s.ok()) {
                   respond({503, error_json(s.to_string()), true});
                 } else {
                   respond({reply.found() ? 200u : 404u, to_json(reply), false});
                 }
               });
    });
    return;
  }
  if (target == "/v1/leader") {
    core.post([&core, respond = std::move(respond)] {
      LeaderInfo l = core.leader();
      std::string body_out = "{\"known\":" + std::string(l.known ? "true" : "false");
      if (l.known) {
        body_out += ",\"leader\":" + std::to_string(l.id) +
                    ",\"self\":" + std::string(l.self ? "true" : "false") +
                    ",\"grpc\":" + json_quote(l.grpc_address) +
                    ",\"http\":" + json_quote(l.http_address);
      }
      body_out += ",\"role\":" + json_quote(l.role) + ",\"term\":" + std::to_string(l.term) + "}";
      respond({l.known ? 200u : 503u, std::move(body_out), !l.known});
    });
    return;
  }
  respond({404, error_json("no route for " + method + " " + target), false});
}

// One keep-alive connection: read a request, answer it, read the next.
class HttpFrontend::Session : public std::enable_shared_from_this<HttpFrontend::Session> {
 public:
  Session(HttpFrontend& server, tcp::socket socket) : server_(server), stream_(std::move(socket)) {}
  ~Session() { server_.closed(); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void read() {
    parser_.emplace();
    parser_->body_limit(server_.options().max_body_bytes);
    // Covers the whole request (a client that stops mid-request too); expiry closes the socket
    // and ends the read with an error, which drops the session.
    stream_.expires_after(server_.options().idle_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void write(HttpResponse r) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), version_);
    res->set(http::field::content_type, "application/json");
    if (r.retry_after) res->set(http::field::retry_after, "1");
    res->keep_alive(keep_alive_);
    res->body() = std::move(r.body);
    res->body() += "\n";
    res->prepare_payload();
    stream_.expires_after(server_.options().idle_timeout);  // a client that never reads
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec || !self->keep_alive_) {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                          return;
                        }
                        self->read();
                      });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      version_ = 11;
      write({413, error_json("request body is over the limit"), false});
      return;
    }
    if (ec) return;           // closed, idle too long or garbage: drop the connection
    stream_.expires_never();  // waiting for the executor is the ledger's time, not the client's
    auto req = parser_->release();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    const uint64_t id = server_.park(shared_from_this());
    HttpFrontend* server = &server_;
    handle_http(server_.core(), std::string(req.method_string()), std::string(req.target()),
                req.body(), [server, id](HttpResponse r) {
                  auto self = server->unpark(id);
                  if (!self) return;  // the server stopped
                  asio::post(self->stream_.get_executor(),
                             [self, r = std::move(r)]() mutable { self->write(std::move(r)); });
                });
  }

  HttpFrontend& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = false;
  unsigned version_ = 11;
};

HttpFrontend::HttpFrontend(LedgerCore& core, HttpFrontendOptions options)
    : acceptor_(ioc_), accept_retry_timer_(ioc_), core_(core), options_(options) {}

HttpFrontend::~HttpFrontend() {
  stop();
  std::lock_guard lock(mu_);
  parked_.clear();
}

Status HttpFrontend::start(const std::string& host, uint16_t port) {
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return invalid_argument("ledger HTTP: bad bind address '" + host + "'");
  tcp::endpoint ep(address, port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return unavailable("ledger HTTP: cannot listen on " + host + ":" + std::to_string(port) + ": " +
                       ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  accept();
  thread_ = std::thread([this] { ioc_.run(); });
  return {};
}

void HttpFrontend::stop() {
  if (!thread_.joinable()) return;
  ioc_.stop();
  thread_.join();
  beast::error_code ignored;
  acceptor_.close(ignored);
  std::lock_guard lock(mu_);
  parked_.clear();
}

void HttpFrontend::accept() {
  acceptor_.async_accept(ioc_, [this](beast::error_code ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;  // stopping
    if (ec) {
      // EMFILE/ENFILE (or any other accept error): the listening socket is still good. Try
      // again after a pause, so that closing connections free descriptors meanwhile and the
      // loop does not spin on a full table.
      accept_errors_.fetch_add(1);
      accept_retry_timer_.expires_after(options_.accept_retry);
      accept_retry_timer_.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) accept();
      });
      return;
    }
    if (open_connections_.load() >= options_.max_connections) {
      refuse(std::move(s));
    } else {
      open_connections_.fetch_add(1);
      std::make_shared<Session>(*this, std::move(s))->read();
    }
    accept();
  });
}

void HttpFrontend::refuse(tcp::socket socket) {
  // One short answer, then close: the client learns why instead of seeing a reset.
  static const std::string kBody =
      "{\"error\":\"too many connections (http_max_connections); retry later\"}\n";
  static const std::string kBusy =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: "
      "1\r\nConnection: close\r\nContent-Length: " +
      std::to_string(kBody.size()) + "\r\n\r\n" + kBody;
  beast::error_code ignored;
  socket.non_blocking(true, ignored);
  (void)socket.write_some(asio::buffer(kBusy), ignored);
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

uint64_t HttpFrontend::park(std::shared_ptr<Session> s) {
  std::lock_guard lock(mu_);
  const uint64_t id = next_id_++;
  parked_.emplace(id, std::move(s));
  return id;
}

std::shared_ptr<HttpFrontend::Session> HttpFrontend::unpark(uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = parked_.find(id);
  if (it == parked_.end()) return nullptr;
  auto s = std::move(it->second);
  parked_.erase(it);
  return s;
}

}  // namespace nodus::ledger
