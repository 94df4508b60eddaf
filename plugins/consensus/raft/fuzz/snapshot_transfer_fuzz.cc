// Fuzz target of the plugin-level Raft handlers that the core's step() fuzzer does not reach:
// snapshot chunks ("raft.snap"), their acknowledgements ("raft.snap.ack") and forwarded
// proposals ("raft.propose"). The input is a sequence of [selector byte][u16 length][bytes]
// records; each record is parsed as its channel's message and handed to a SnapshotReceiver or
// to a SnapshotSender that is streaming a small snapshot. Nothing may crash, and the receiver
// must never hold more bytes than the snapshot it is assembling declared.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "raft.pb.h"
#include "snapshot_transfer.h"

namespace {

namespace pb = nodus::raft::pb;

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t sent = 0;
  nodus::raft::SnapshotReceiver receiver(1, [&sent](nodus::PeerId, std::string) { ++sent; });
  nodus::raft::SnapshotSender sender(
      0, {.chunk_bytes = 16, .window_chunks = 2}, [&sent](nodus::PeerId, std::string) { ++sent; },
      [](nodus::PeerId, bool) {});
  pb::SnapshotMeta meta;
  meta.set_index(10);
  meta.set_term(2);
  const nodus::TimePoint t0{};
  sender.start(1, 2, meta, std::make_shared<const std::string>(100, 'x'), t0);
  size_t at = 0;
  uint64_t ticks = 0;
  while (at + 3 <= size) {
    const uint8_t selector = data[at];
    const size_t len = static_cast<size_t>(data[at + 1]) | (static_cast<size_t>(data[at + 2]) << 8);
    at += 3;
    const size_t n = len < size - at ? len : size - at;
    const std::string bytes(reinterpret_cast<const char*>(data + at), n);
    at += n;
    const nodus::TimePoint now = t0 + std::chrono::milliseconds(100 * ++ticks);
    switch (selector % 4) {
      case 0: {
        pb::SnapshotChunk chunk;
        if (!chunk.ParseFromString(bytes)) break;
        auto complete = receiver.on_chunk(chunk);
        check(receiver.assembled_bytes() <= chunk.total_bytes());
        if (complete) {
          auto image = receiver.take_image(complete->meta);
          check(image.has_value() && image->size() == chunk.total_bytes());
        }
        break;
      }
      case 1: {
        pb::SnapshotChunkAck ack;
        if (ack.ParseFromString(bytes)) sender.on_ack(ack, now);
        break;
      }
      case 2:
        sender.tick(now);
        break;
      default: {
        pb::ForwardRequest forward;
        (void)forward.ParseFromString(bytes);
        break;
      }
    }
  }
  return 0;
}
