#include "payload.h"

#include <cstdio>
#include <random>

namespace nodus::bench {

std::string Payload::client_id(uint32_t client) const {
  char index[16];
  std::snprintf(index, sizeof index, "%04x", client);
  return "tx" + run_id_ + "-" + index;
}

std::string Payload::key(uint32_t client, uint64_t seq) const {
  char tail[24];
  const uint64_t slot = key_space_ == 0 ? seq : seq % key_space_;
  std::snprintf(tail, sizeof tail, "/%08llx", static_cast<unsigned long long>(slot));
  return client_id(client) + tail;
}

std::string Payload::value(uint32_t client, uint64_t seq) const {
  std::string v(value_bytes_, 'a');
  char head[24];
  const int n = std::snprintf(head, sizeof head, "%llx:", static_cast<unsigned long long>(seq));
  v.replace(0, std::min<size_t>(static_cast<size_t>(n), v.size()), head,
            std::min<size_t>(static_cast<size_t>(n), v.size()));
  // The pattern differs between clients and seqs so that a value read back under the wrong
  // key does not pass verification.
  for (size_t i = static_cast<size_t>(n); i < v.size(); ++i) {
    v[i] = static_cast<char>('a' + (client * 7 + seq * 13 + i) % 26);
  }
  return v;
}

std::string Payload::random_run_id() {
  std::random_device rd;
  char id[16];
  std::snprintf(id, sizeof id, "%08x", static_cast<unsigned>(rd()));
  return id;
}

}  // namespace nodus::bench
