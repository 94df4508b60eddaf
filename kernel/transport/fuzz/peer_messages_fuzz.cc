// Fuzz target: every decoder of the node-to-node wire protocol (sdk/proto/nodus/v1/
// transport.proto). The first byte picks the message; the rest is decoded. Whatever decodes
// must re-encode and decode to the same message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "nodus/v1/transport.pb.h"

namespace {

template <class Message>
void round_trip(const uint8_t* data, size_t size) {
  Message m;
  if (!m.ParseFromArray(data, static_cast<int>(size))) return;
  const std::string again = m.SerializeAsString();
  Message m2;
  if (!m2.ParseFromString(again) || m2.SerializeAsString() != again) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > (1u << 20)) return 0;
  const uint8_t which = data[0] % 4;
  ++data;
  --size;
  switch (which) {
    case 0:
      round_trip<nodus::v1::Envelope>(data, size);
      break;
    case 1:
      round_trip<nodus::v1::CallRequest>(data, size);
      break;
    case 2:
      round_trip<nodus::v1::CallResponse>(data, size);
      break;
    default:
      round_trip<nodus::v1::StreamAck>(data, size);
      break;
  }
  return 0;
}
