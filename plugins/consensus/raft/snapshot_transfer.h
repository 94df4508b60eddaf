// raft/snapshot_transfer.h: streaming a snapshot image to a lagging follower in chunks.
//
// The leader's SnapshotSender keeps one stream per follower: pb::SnapshotChunk messages of at
// most `chunk_bytes` on channel "raft.snap", at most `window_chunks` chunks unacknowledged, the
// next one sent when a pb::SnapshotChunkAck (channel "raft.snap.ack") moves next_offset forward. A
// stream that makes no progress for `resend_after` resends from the acknowledged offset; after
// `give_up_after_resends` resends without progress it ends as failed (the core asks again later).
// The follower's SnapshotReceiver assembles chunks in order (duplicates and gaps are answered
// with the offset it has, so a stream resumes where it broke) and reports a complete image,
// which the driver steps into the core as MSG_SNAPSHOT. Chunks travel on their own channel so
// heartbeats on "raft" never queue behind them.
//
// Both sides are plain objects driven by the plugin: no timers of their own (tick() is called
// from the Raft tick), no I/O except through the `send` function they are given.
//
//   SnapshotSender sender(self, {.chunk_bytes = 256 << 10}, send_fn, done_fn);
//   sender.start(peer, term, meta, image);  // image: shared, immutable
//   sender.on_ack(ack, now); sender.tick(now);
//   SnapshotReceiver receiver(self, send_fn);
//   if (auto complete = receiver.on_chunk(chunk)) step MSG_SNAPSHOT with complete->meta;
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/raft_core.h"
#include "nodus/services/clock.h"

namespace nodus::raft {

inline constexpr std::string_view kSnapChannel = "raft.snap";
inline constexpr std::string_view kSnapAckChannel = "raft.snap.ack";

struct SnapshotSenderOptions {
  uint64_t chunk_bytes = uint64_t{256} << 10;
  uint32_t window_chunks = 2;
  Duration resend_after = std::chrono::milliseconds(500);
  uint32_t give_up_after_resends = 10;
};

class SnapshotSender {
 public:
  // Sends one serialized pb::SnapshotChunk to a peer on kSnapChannel.
  using SendFn = std::function<void(PeerId to, std::string payload)>;
  // A stream ended: ok = the follower has the whole image.
  using DoneFn = std::function<void(PeerId peer, bool ok)>;

  SnapshotSender(PeerId self, SnapshotSenderOptions options, SendFn send, DoneFn done);

  // Starts (or keeps, when the same snapshot is already streaming) a stream to `peer`.
  void start(PeerId peer, uint64_t term, const pb::SnapshotMeta& meta,
             std::shared_ptr<const std::string> image, TimePoint now);
  void on_ack(const pb::SnapshotChunkAck& ack, TimePoint now);
  // Resends or abandons streams that made no progress.
  void tick(TimePoint now);
  // Drops every stream (leadership lost) without reporting.
  void cancel_all() { streams_.clear(); }
  size_t active() const { return streams_.size(); }
  uint64_t bytes_in_flight() const;

 private:
  struct Stream {
    uint64_t term = 0;
    pb::SnapshotMeta meta;
    std::shared_ptr<const std::string> image;
    uint64_t acked = 0;  // the follower has [0, acked)
    uint64_t sent = 0;   // chunks up to here were sent
    TimePoint progress_at{};
    uint32_t resends = 0;
  };
  void pump(PeerId peer, Stream& s);
  void send_chunk(PeerId peer, Stream& s, uint64_t offset);

  const PeerId self_;
  const SnapshotSenderOptions options_;
  SendFn send_;
  DoneFn done_;
  std::map<PeerId, Stream> streams_;
};

class SnapshotReceiver {
 public:
  // Sends one serialized pb::SnapshotChunkAck to a peer on kSnapAckChannel.
  using SendFn = std::function<void(PeerId to, std::string payload)>;

  struct Complete {
    PeerId from = 0;
    uint64_t term = 0;
    pb::SnapshotMeta meta;
  };

  SnapshotReceiver(PeerId self, SendFn send);

  // Takes one chunk and acknowledges it. Returns the snapshot once the image is whole (the
  // image stays here until take_image()), and again for the first chunk of a stream from
  // another leader or term while the whole image was not taken. A chunk of a different
  // snapshot than the one being assembled starts over.
  std::optional<Complete> on_chunk(const pb::SnapshotChunk& chunk);
  // The assembled image of `meta` (matching index and term), moved out; nullopt otherwise.
  std::optional<std::string> take_image(const pb::SnapshotMeta& meta);
  uint64_t assembled_bytes() const { return image_.size(); }

 private:
  void ack(PeerId to, uint64_t term, uint64_t offset, bool reject);

  const PeerId self_;
  SendFn send_;
  bool active_ = false;
  bool complete_ = false;
  pb::SnapshotMeta meta_;
  uint64_t total_ = 0;
  std::string image_;
  // The stream the complete image was last reported for.
  PeerId reported_from_ = 0;
  uint64_t reported_term_ = 0;
};

}  // namespace nodus::raft
