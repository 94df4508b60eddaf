// http_routes.h: the ledger's HTTP/JSON API for curl, as routes on the kernel's shared HTTP
// server (nodus/services/http.h) on the instance's "http" port.
//
//   POST /v1/tx              one proto3-JSON Transaction, or {"txs": [...]}
//   GET  /v1/accounts/{name} balance (?linearizable=true for a ReadIndex read)
//   GET  /v1/kv/{key}        value, base64 as in proto3 JSON (?linearizable=true)
//   GET  /v1/leader          who leads, and its addresses
//
// JSON is parsed with protobuf's JsonStringToMessage (strict: unknown fields are errors).
// Handlers run on the executor and answer through the responder when the ledger has the
// answer (a write after its commit); the kernel bounds connections, header and body sizes.
#pragma once

#include <cstddef>
#include <string_view>

#include "ledger_core.h"
#include "nodus/services/http.h"

namespace nodus::ledger {

struct HttpRoutesOptions {
  size_t max_body_bytes = 4 << 20;
};

// Registers the four routes on `port` of `http`. Errors name the port and the route.
Status register_http_routes(HttpServer& http, std::string_view port, LedgerCore& core,
                            const HttpRoutesOptions& options);

}  // namespace nodus::ledger
