#include "etcd_backend.h"

#include <chrono>

namespace nodus::bench {

EtcdBackend::EtcdBackend(const std::vector<std::string>& endpoints, uint32_t connections,
                         uint32_t rpc_timeout_ms, const Payload& payload)
    : stubs_(endpoints, connections), rpc_timeout_ms_(rpc_timeout_ms), payload_(payload) {}

void EtcdBackend::submit(size_t endpoint, uint32_t client, const std::vector<uint64_t>& seqs,
                         std::function<void(BatchReply)> done) {
  // The options refuse --batch > 1 with --etcd: one Put carries one key.
  struct Call {
    grpc::ClientContext ctx;
    etcdserverpb::PutRequest req;
    etcdserverpb::PutResponse resp;
    std::function<void(BatchReply)> done;
  };
  auto* call = new Call;
  call->done = std::move(done);
  call->ctx.set_deadline(deadline_after(rpc_timeout_ms_));
  call->req.set_key(payload_.key(client, seqs.at(0)));
  call->req.set_value(payload_.value(client, seqs.at(0)));
  stubs_.stub(endpoint, client)
      ->async()
      ->Put(&call->ctx, &call->req, &call->resp, [call](grpc::Status s) {
        BatchReply reply;
        reply.rpc = from_grpc(s);
        if (s.ok()) reply.results.push_back({TxFate::kCommitted, "OK"});
        auto finish = std::move(call->done);
        delete call;
        finish(std::move(reply));
      });
}

void EtcdBackend::read(size_t endpoint, const std::string& key,
                       std::function<void(ReadResult)> done) {
  struct Call {
    grpc::ClientContext ctx;
    etcdserverpb::RangeRequest req;
    etcdserverpb::RangeResponse resp;
    std::function<void(ReadResult)> done;
  };
  auto* call = new Call;
  call->done = std::move(done);
  call->ctx.set_deadline(deadline_after(rpc_timeout_ms_));
  call->req.set_key(key);
  call->req.set_serializable(false);  // linearizable: through the leader
  stubs_.stub(endpoint, 0)
      ->async()
      ->Range(&call->ctx, &call->req, &call->resp, [call](grpc::Status s) {
        ReadResult result = std::optional<std::string>();
        if (!s.ok()) {
          result = from_grpc(s);
        } else if (call->resp.kvs_size() > 0) {
          result = std::optional<std::string>(call->resp.kvs(0).value());
        }
        auto finish = std::move(call->done);
        delete call;
        finish(std::move(result));
      });
}

}  // namespace nodus::bench
