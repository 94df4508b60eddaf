#include "http_routes.h"

#include <utility>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "nodus/json.h"

namespace nodus::ledger {
namespace {

std::string to_json(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.always_print_primitive_fields = true;
  opts.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
  return out;
}

// The ledger's answers end with a newline, for curl; a 503 asks the client to come back.
HttpResponse answer(int status, std::string body) {
  HttpResponse r = HttpResponse::json(status, std::move(body) + "\n");
  if (status == 503) r.headers.emplace_back("Retry-After", "1");
  return r;
}

HttpResponse error(int status, std::string_view message) {
  JsonWriter w;
  w.begin_object().key("error").value(message).end_object();
  return answer(status, w.release());
}

int status_for(const std::vector<TxResult>& results) {
  int status = 200;
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

void post_tx(LedgerCore& core, const HttpRequest& req, const HttpResponder& res) {
  std::vector<Transaction> txs;
  bool batch = false;
  if (Status s = parse_tx_body(req.body, &txs, &batch); !s.ok()) {
    return res.respond(error(400, s.message()));
  }
  if (!core.admit(txs.size())) {
    return res.respond(
        error(503, "ledger overloaded: too many transactions waiting; resend later"));
  }
  core.post([&core, txs = std::move(txs), batch, res]() mutable {
    core.submit(
        std::move(txs),
        [batch, res](std::vector<TxResult> results, std::string hint) {
          const int status = status_for(results);
          if (batch || results.size() != 1) {
            SubmitReply reply;
            for (auto& r : results)
              *reply.add_results() = std::move(r);
            reply.set_leader_hint(std::move(hint));
            return res.respond(answer(status, to_json(reply)));
          }
          res.respond(answer(status, to_json(results[0])));
        },
        Duration::max());
  });
}

// A read of one account or key: admitted, then answered when the ledger may serve it.
template <class Reply, class Read>
void read(LedgerCore& core, const HttpRequest& req, const HttpResponder& res, Read read_fn) {
  if (!core.admit_read()) {
    return res.respond(error(503, "ledger overloaded: too many reads waiting; resend later"));
  }
  const bool linearizable = req.query_param("linearizable") == "true";
  core.post([read_fn, name = std::string(req.param("name")), linearizable, res] {
    read_fn(name, linearizable, [res](Status s, Reply reply) {
      if (!s.ok()) return res.respond(error(503, s.to_string()));
      res.respond(answer(reply.found() ? 200 : 404, to_json(reply)));
    });
  });
}

void get_leader(LedgerCore& core, const HttpResponder& res) {
  core.post([&core, res] {
    LeaderInfo l = core.leader();
    JsonWriter w;
    w.begin_object().key("known").value(l.known);
    if (l.known) {
      w.key("leader").value(l.id).key("self").value(l.self);
      w.key("grpc").value(l.grpc_address).key("http").value(l.http_address);
    }
    w.key("role").value(l.role).key("term").value(l.term).end_object();
    res.respond(answer(l.known ? 200 : 503, w.release()));
  });
}

}  // namespace

Status register_http_routes(HttpServer& http, std::string_view port, LedgerCore& core,
                            const HttpRoutesOptions& options) {
  // Every route first refuses work once the ledger stops taking it.
  auto guarded = [&core](auto fn) {
    return [&core, fn](const HttpRequest& req, HttpResponder res) {
      if (!core.accepting()) return res.respond(error(503, "ledger is shutting down"));
      fn(req, res);
    };
  };
  HttpRouteOptions post_options;
  post_options.max_body_bytes = options.max_body_bytes;
  NODUS_RETURN_IF_ERROR(http.route(
      port, "POST", "/v1/tx", guarded([&core](const HttpRequest& req, const HttpResponder& res) {
        post_tx(core, req, res);
      }),
      post_options));
  NODUS_RETURN_IF_ERROR(
      http.route(port, "GET", "/v1/accounts/{name}",
                 guarded([&core](const HttpRequest& req, const HttpResponder& res) {
                   read<GetAccountReply>(core, req, res,
                                         [&core](const std::string& name, bool lin, auto done) {
                                           core.get_account(name, lin, std::move(done));
                                         });
                 })));
  NODUS_RETURN_IF_ERROR(http.route(
      port, "GET", "/v1/kv/{name}",
      guarded([&core](const HttpRequest& req, const HttpResponder& res) {
        read<GetReply>(core, req, res, [&core](const std::string& key, bool lin, auto done) {
          core.get(key, lin, std::move(done));
        });
      })));
  return http.route(
      port, "GET", "/v1/leader",
      guarded([&core](const HttpRequest&, const HttpResponder& res) { get_leader(core, res); }));
}

}  // namespace nodus::ledger
