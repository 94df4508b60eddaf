// bench/tx_load/etcd_backend.h: the Backend for etcd v3 (KV.Put, and KV.Range for --verify),
// through bench/etcd/etcd_kv.proto, our wire-compatible declaration of etcd's API.
//
// A "transaction" is one Put of (payload key, payload value); any answer acknowledges it.
// etcd followers forward writes to their leader themselves, so there are no redirects.
#pragma once

#include "backend.h"
#include "etcd_kv.grpc.pb.h"
#include "payload.h"
#include "stub_pool.h"

namespace nodus::bench {

class EtcdBackend final : public Backend {
 public:
  EtcdBackend(const std::vector<std::string>& endpoints, uint32_t connections,
              uint32_t rpc_timeout_ms, const Payload& payload);

  void submit(size_t endpoint, uint32_t client, const std::vector<uint64_t>& seqs,
              std::function<void(BatchReply)> done) override;
  void read(size_t endpoint, const std::string& key, std::function<void(ReadResult)> done) override;
  size_t endpoint_index(const std::string& host_port) override {
    return stubs_.index_of(host_port);
  }
  size_t endpoint_count() const override { return stubs_.size(); }

 private:
  StubPool<etcdserverpb::KV> stubs_;
  const uint32_t rpc_timeout_ms_;
  const Payload& payload_;
};

}  // namespace nodus::bench
