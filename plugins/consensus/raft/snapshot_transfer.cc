#include "snapshot_transfer.h"

#include <algorithm>
#include <utility>

namespace nodus::raft {
namespace {

bool same_snapshot(const pb::SnapshotMeta& a, const pb::SnapshotMeta& b) {
  return a.index() == b.index() && a.term() == b.term();
}

}  // namespace

SnapshotSender::SnapshotSender(PeerId self, SnapshotSenderOptions options, SendFn send, DoneFn done)
    : self_(self), options_(options), send_(std::move(send)), done_(std::move(done)) {}

void SnapshotSender::start(PeerId peer, uint64_t term, const pb::SnapshotMeta& meta,
                           std::shared_ptr<const std::string> image, TimePoint now) {
  auto it = streams_.find(peer);
  if (it != streams_.end() && it->second.term == term && same_snapshot(it->second.meta, meta)) {
    return;  // already streaming this one
  }
  Stream s;
  s.term = term;
  s.meta = meta;
  s.image = std::move(image);
  s.progress_at = now;
  auto& slot = streams_[peer] = std::move(s);
  pump(peer, slot);
}

void SnapshotSender::send_chunk(PeerId peer, Stream& s, uint64_t offset) {
  const uint64_t total = s.image->size();
  const uint64_t len = std::min<uint64_t>(options_.chunk_bytes, total - offset);
  pb::SnapshotChunk c;
  c.set_from(self_);
  c.set_term(s.term);
  *c.mutable_meta() = s.meta;
  c.set_offset(offset);
  c.set_total_bytes(total);
  c.set_data(s.image->substr(offset, len));
  c.set_last(offset + len == total);
  send_(peer, c.SerializeAsString());
}

void SnapshotSender::pump(PeerId peer, Stream& s) {
  const uint64_t total = s.image->size();
  const uint64_t chunk = std::max<uint64_t>(options_.chunk_bytes, 1);
  // An empty image still needs one (empty, last) chunk so the follower learns the meta.
  if (total == 0) {
    if (s.sent == 0) {
      send_chunk(peer, s, 0);
      s.sent = 1;
    }
    return;
  }
  while (s.sent < total && s.sent < s.acked + options_.window_chunks * chunk) {
    send_chunk(peer, s, s.sent);
    s.sent += std::min<uint64_t>(chunk, total - s.sent);
  }
}

void SnapshotSender::on_ack(const pb::SnapshotChunkAck& ack, TimePoint now) {
  auto it = streams_.find(ack.from());
  if (it == streams_.end()) return;
  Stream& s = it->second;
  if (ack.snapshot_index() != s.meta.index() || ack.term() != s.term) return;  // stale
  const PeerId peer = it->first;
  if (ack.reject()) {
    streams_.erase(it);
    done_(peer, false);
    return;
  }
  const uint64_t total = s.image->size();
  if (ack.next_offset() > total) return;  // malformed
  if (ack.next_offset() >= total && (total > 0 || s.sent > 0)) {
    streams_.erase(it);
    done_(peer, true);
    return;
  }
  if (ack.next_offset() > s.acked) {
    s.acked = ack.next_offset();
    s.sent = std::max(s.sent, s.acked);
    s.progress_at = now;
    s.resends = 0;
  } else if (ack.next_offset() < s.acked) {
    // The follower has less than it had (it restarted): resume where it is now.
    s.acked = ack.next_offset();
    s.sent = s.acked;
  }
  // An ack equal to the last one while chunks are in flight means a chunk was lost or is
  // still coming; the resend timer takes care of the first case.
  pump(peer, s);
}

void SnapshotSender::tick(TimePoint now) {
  for (auto it = streams_.begin(); it != streams_.end();) {
    Stream& s = it->second;
    if (now - s.progress_at < options_.resend_after) {
      ++it;
      continue;
    }
    if (++s.resends > options_.give_up_after_resends) {
      const PeerId peer = it->first;
      it = streams_.erase(it);
      done_(peer, false);
      continue;
    }
    s.progress_at = now;
    s.sent = s.acked;  // resend everything unacknowledged
    pump(it->first, s);
    ++it;
  }
}

uint64_t SnapshotSender::bytes_in_flight() const {
  uint64_t sum = 0;
  for (const auto& [peer, s] : streams_)
    sum += s.sent > s.acked ? s.sent - s.acked : 0;
  return sum;
}

SnapshotReceiver::SnapshotReceiver(PeerId self, SendFn send)
    : self_(self), send_(std::move(send)) {}

void SnapshotReceiver::ack(PeerId to, uint64_t term, uint64_t offset, bool reject) {
  pb::SnapshotChunkAck a;
  a.set_from(self_);
  a.set_term(term);
  a.set_snapshot_index(meta_.index());
  a.set_next_offset(offset);
  a.set_reject(reject);
  send_(to, a.SerializeAsString());
}

std::optional<SnapshotReceiver::Complete> SnapshotReceiver::on_chunk(
    const pb::SnapshotChunk& chunk) {
  if (!active_ || !same_snapshot(meta_, chunk.meta()) || total_ != chunk.total_bytes()) {
    // A different snapshot (or the first chunk of one): start over. Anything but offset 0 is
    // answered with 0, which makes the sender restart the stream.
    active_ = true;
    complete_ = false;
    meta_ = chunk.meta();
    total_ = chunk.total_bytes();
    image_.clear();
  }
  if (!complete_ && chunk.offset() == image_.size() &&
      chunk.data().size() <= total_ - image_.size()) {
    image_ += chunk.data();
  }
  // Past a malformed chunk (data beyond total) the offset stays where it was.
  ack(chunk.from(), chunk.term(), image_.size(), false);
  if (!complete_ && image_.size() == total_) {
    complete_ = true;
    reported_from_ = chunk.from();
    reported_term_ = chunk.term();
    return Complete{chunk.from(), chunk.term(), meta_};
  }
  if (complete_ && (chunk.from() != reported_from_ || chunk.term() != reported_term_)) {
    // The image is whole but nobody took it: the core dropped the snapshot message, say
    // because the stream's term was stale when it completed. The new stream is acknowledged
    // as whole at once, so unless the image is reported again for it the follower never
    // installs it and the leader restarts the stream forever.
    reported_from_ = chunk.from();
    reported_term_ = chunk.term();
    return Complete{chunk.from(), chunk.term(), meta_};
  }
  return std::nullopt;
}

std::optional<std::string> SnapshotReceiver::take_image(const pb::SnapshotMeta& meta) {
  if (!active_ || !complete_ || !same_snapshot(meta_, meta)) return std::nullopt;
  active_ = false;
  complete_ = false;
  return std::move(image_);
}

}  // namespace nodus::raft
