#include "raft_storage.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include "nodus/check.h"

namespace nodus::raft {
namespace {

constexpr size_t kSnapshotHeaderBytes = 4;

// Snapshot blob: [u32 little-endian meta length][SnapshotMeta][state-machine image].
std::string encode_snapshot(const pb::SnapshotMeta& meta, std::string_view image) {
  const std::string m = meta.SerializeAsString();
  std::string out;
  out.reserve(kSnapshotHeaderBytes + m.size() + image.size());
  const auto len = static_cast<uint32_t>(m.size());
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  out += m;
  out += image;
  return out;
}

Result<std::pair<pb::SnapshotMeta, std::string>> decode_snapshot(const std::string& blob) {
  if (blob.size() < kSnapshotHeaderBytes) {
    return data_loss("snapshot '" + std::string(kSnapshotName) + "' is shorter than its header");
  }
  uint32_t len = 0;
  for (int i = 0; i < 4; ++i)
    len |= static_cast<uint32_t>(static_cast<unsigned char>(blob[i])) << (8 * i);
  if (len > blob.size() - kSnapshotHeaderBytes) {
    return data_loss("snapshot '" + std::string(kSnapshotName) + "' has a truncated header");
  }
  pb::SnapshotMeta meta;
  if (!meta.ParseFromArray(blob.data() + kSnapshotHeaderBytes, static_cast<int>(len))) {
    return data_loss("snapshot '" + std::string(kSnapshotName) + "' metadata does not parse");
  }
  return std::make_pair(std::move(meta), blob.substr(kSnapshotHeaderBytes + len));
}

}  // namespace

Result<FsyncMode> parse_fsync_mode(std::string_view text) {
  if (text == "always") return FsyncMode::kAlways;
  if (text == "batch") return FsyncMode::kBatch;
  if (text == "never") return FsyncMode::kNever;
  return invalid_argument("must be always, batch or never (got '" + std::string(text) + "')");
}

std::string_view fsync_mode_name(FsyncMode mode) {
  switch (mode) {
    case FsyncMode::kAlways:
      return "always";
    case FsyncMode::kBatch:
      return "batch";
    case FsyncMode::kNever:
      return "never";
  }
  return "batch";
}

RaftStorage::RaftStorage(Storage& storage, std::unique_ptr<AppendLog> log, FsyncMode mode,
                         const Clock& clock)
    : storage_(storage), log_(std::move(log)), mode_(mode), clock_(clock) {}

RaftStorage::~RaftStorage() {
  *alive_ = false;
}

Result<std::unique_ptr<RaftStorage>> RaftStorage::open(Storage& storage, FsyncMode mode,
                                                       const Clock& clock) {
  NODUS_ASSIGN_OR_RETURN(std::unique_ptr<AppendLog> log, storage.open_log(kLogName));
  return std::unique_ptr<RaftStorage>(new RaftStorage(storage, std::move(log), mode, clock));
}

std::string RaftStorage::log_path() const {
  return (storage_.directory() / "logs" / std::string(kLogName)).string();
}

Result<std::optional<std::pair<pb::SnapshotMeta, std::string>>> RaftStorage::read_snapshot() const {
  NODUS_ASSIGN_OR_RETURN(std::optional<std::string> blob, storage_.read_snapshot(kSnapshotName));
  if (!blob) return std::optional<std::pair<pb::SnapshotMeta, std::string>>();
  NODUS_ASSIGN_OR_RETURN(auto decoded, decode_snapshot(*blob));
  return std::optional<std::pair<pb::SnapshotMeta, std::string>>(std::move(decoded));
}

Status RaftStorage::drop_whole_log_and_restart_at(uint64_t next_index) {
  NODUS_RETURN_IF_ERROR(log_->truncate_suffix(log_->first_index()));
  NODUS_RETURN_IF_ERROR(log_->truncate_prefix(next_index));
  if (log_->first_index() != next_index || log_->last_index() + 1 != next_index) {
    return internal_error("raft log " + log_path() + " could not restart at index " +
                          std::to_string(next_index) + " (first " +
                          std::to_string(log_->first_index()) + ")");
  }
  return {};
}

Status RaftStorage::save_initial_conf(const pb::ConfState& conf) {
  return storage_.put_state(kInitialConfKey, conf.SerializeAsString());
}

Result<uint64_t> RaftStorage::take_read_epoch() {
  NODUS_ASSIGN_OR_RETURN(std::optional<std::string> stored, storage_.get_state(kReadEpochKey));
  uint64_t last = 0;
  if (stored) {
    const auto [end, ec] = std::from_chars(stored->data(), stored->data() + stored->size(), last);
    if (ec != std::errc() || end != stored->data() + stored->size()) {
      return data_loss("raft read epoch '" + std::string(kReadEpochKey) + "' under " +
                       storage_.directory().string() + " is not a number");
    }
  }
  // 2^24 epochs of 2^40 reads each: far beyond any node's life, and refused rather than reused.
  if (last + 1 >= (uint64_t{1} << (64 - kReadIdEpochShift))) {
    return failed_precondition("raft read epochs under " + storage_.directory().string() +
                               " are used up");
  }
  NODUS_RETURN_IF_ERROR(storage_.put_state(kReadEpochKey, std::to_string(last + 1)));
  return last + 1;
}

Result<LoadedState> RaftStorage::load(const pb::ConfState& bootstrap, bool store_bootstrap) {
  LoadedState out;
  NODUS_ASSIGN_OR_RETURN(std::optional<std::string> initial, storage_.get_state(kInitialConfKey));
  if (initial) {
    if (!out.persisted.bootstrap.ParseFromString(*initial)) {
      return data_loss("raft initial configuration '" + std::string(kInitialConfKey) + "' under " +
                       storage_.directory().string() + " does not parse");
    }
    out.initial_conf_from_disk = true;
  } else {
    out.persisted.bootstrap = bootstrap;
  }

  NODUS_ASSIGN_OR_RETURN(std::optional<std::string> hs, storage_.get_state(kHardStateKey));
  if (hs && !out.persisted.hard_state.ParseFromString(*hs)) {
    return data_loss("raft hard state '" + std::string(kHardStateKey) + "' under " +
                     storage_.directory().string() + " does not parse");
  }
  NODUS_ASSIGN_OR_RETURN(auto snap, read_snapshot());
  if (snap) {
    out.persisted.snapshot = std::move(snap->first);
    out.snapshot_image = std::move(snap->second);
  }
  const uint64_t snap_index = out.persisted.snapshot.index();
  const uint64_t snap_term = out.persisted.snapshot.term();

  // Reconcile the log with the snapshot. A crash between writing a snapshot and truncating
  // the log leaves records the snapshot already covers, possibly from a stale leader.
  const uint64_t first = log_->first_index();
  const uint64_t last = log_->last_index();
  if (first <= snap_index) {
    bool keep_tail = false;
    if (last >= snap_index) {
      NODUS_ASSIGN_OR_RETURN(std::string rec, log_->read(snap_index));
      pb::Entry e;
      if (!e.ParseFromString(rec)) {
        return data_loss("raft log " + log_path() + ": record " + std::to_string(snap_index) +
                         " does not parse as an entry");
      }
      keep_tail = e.term() == snap_term;
    }
    if (keep_tail) {
      NODUS_RETURN_IF_ERROR(log_->truncate_prefix(snap_index + 1));
    } else {
      out.repaired = "dropped log records " + std::to_string(first) + ".." + std::to_string(last) +
                     " that the snapshot at " + std::to_string(snap_index) + " supersedes";
      NODUS_RETURN_IF_ERROR(drop_whole_log_and_restart_at(snap_index + 1));
    }
  } else if (first > snap_index + 1) {
    if (last >= first) {
      return data_loss("raft log " + log_path() + " starts at " + std::to_string(first) +
                       " but the snapshot ends at " + std::to_string(snap_index) +
                       ": entries in between are missing");
    }
    return data_loss("raft log " + log_path() + " is empty at " + std::to_string(first) +
                     " past the snapshot at " + std::to_string(snap_index));
  }

  uint64_t prev_index = snap_index;
  uint64_t prev_term = snap_term;
  const uint64_t from = std::max(log_->first_index(), snap_index + 1);
  for (uint64_t i = from; i <= log_->last_index(); ++i) {
    NODUS_ASSIGN_OR_RETURN(std::string rec, log_->read(i));
    pb::Entry e;
    if (!e.ParseFromString(rec)) {
      return data_loss("raft log " + log_path() + ": record " + std::to_string(i) +
                       " does not parse as an entry");
    }
    if (e.index() != i || e.index() != prev_index + 1) {
      return data_loss("raft log " + log_path() + ": record " + std::to_string(i) +
                       " holds entry " + std::to_string(e.index()) + " (entries not dense)");
    }
    if (e.term() < prev_term) {
      return data_loss("raft log " + log_path() + ": entry " + std::to_string(i) + " has term " +
                       std::to_string(e.term()) + " below the previous term " +
                       std::to_string(prev_term));
    }
    prev_index = e.index();
    prev_term = e.term();
    out.persisted.entries.push_back(std::move(e));
  }
  last_appended_index_ = prev_index;
  last_appended_term_ = prev_term;

  // The commit index may name entries that were not yet durable here when the node stopped
  // (a follower learns commit before its own fsync). They are committed on a majority, so
  // clamping loses nothing; the leader sends them again.
  pb::HardState& h = out.persisted.hard_state;
  if (h.commit() > prev_index) h.set_commit(prev_index);
  if (h.commit() < snap_index) h.set_commit(snap_index);
  out.fresh = !hs && snap_index == 0 && out.persisted.entries.empty();
  if (!out.initial_conf_from_disk && store_bootstrap) {
    // Durable before the core runs: a crash right after must not let the next start pick a
    // different configuration.
    NODUS_RETURN_IF_ERROR(save_initial_conf(out.persisted.bootstrap));
  }
  return out;
}

Status RaftStorage::save_hard_state(const pb::HardState& hs) {
  return storage_.put_state(kHardStateKey, hs.SerializeAsString());
}

Status RaftStorage::append(const std::vector<pb::Entry>& entries) {
  if (entries.empty()) return {};
  const uint64_t first = entries.front().index();
  if (first <= log_->last_index()) {
    if (first < log_->first_index()) {
      return internal_error("raft log " + log_path() + ": cannot overwrite entry " +
                            std::to_string(first) + " before the first retained record " +
                            std::to_string(log_->first_index()));
    }
    NODUS_RETURN_IF_ERROR(log_->truncate_suffix(first));
  }
  if (first != log_->last_index() + 1) {
    return internal_error("raft log " + log_path() + ": entry " + std::to_string(first) +
                          " would leave a gap after " + std::to_string(log_->last_index()));
  }
  std::string buf;
  for (size_t i = 0; i < entries.size(); ++i) {
    const pb::Entry& e = entries[i];
    if (i > 0) {
      // The core hands out a contiguous run whose terms never go down (raft_log.h).
      NODUS_CHECK_EQ(e.index(), entries[i - 1].index() + 1) << "log indexes are contiguous";
      NODUS_CHECK_GE(e.term(), entries[i - 1].term()) << "log terms never go down";
    }
    buf.clear();
    e.SerializeToString(&buf);
    NODUS_ASSIGN_OR_RETURN(uint64_t index, log_->append(buf));
    if (index != e.index()) {
      return internal_error("raft log " + log_path() + ": entry " + std::to_string(e.index()) +
                            " landed at record " + std::to_string(index));
    }
  }
  last_appended_index_ = entries.back().index();
  last_appended_term_ = entries.back().term();
  return {};
}

void RaftStorage::request_sync() {
  if (last_appended_index_ == 0) return;
  switch (mode_) {
    case FsyncMode::kNever:
      if (on_synced_) on_synced_(last_appended_index_, last_appended_term_, Duration::zero());
      return;
    case FsyncMode::kAlways:
      start_sync();
      return;
    case FsyncMode::kBatch:
      if (in_flight_ > 0) {
        sync_wanted_ = true;
      } else {
        start_sync();
      }
      return;
  }
}

void RaftStorage::start_sync() {
  const uint64_t index = last_appended_index_;
  const uint64_t term = last_appended_term_;
  const TimePoint started = clock_.now();
  ++in_flight_;
  log_->sync_async([this, alive = alive_, index, term, started](Status st) {
    if (!*alive) return;
    NODUS_CHECK_GT(in_flight_, 0) << "every sync callback matches one start_sync()";
    --in_flight_;
    if (!st.ok()) {
      if (on_sync_failed_) on_sync_failed_(st);
    } else if (on_synced_) {
      on_synced_(index, term, clock_.now() - started);
    }
    if (!*alive) return;  // the callback may have torn the node down
    if (mode_ == FsyncMode::kBatch && sync_wanted_ && in_flight_ == 0) {
      sync_wanted_ = false;
      start_sync();
    }
  });
}

Status RaftStorage::install_snapshot(const pb::SnapshotMeta& meta, std::string_view image) {
  if (snapshot_writes_ > 0) {
    return unavailable("a local snapshot is still being written; the leader will resend");
  }
  NODUS_RETURN_IF_ERROR(storage_.write_snapshot(kSnapshotName, encode_snapshot(meta, image)));
  NODUS_RETURN_IF_ERROR(drop_whole_log_and_restart_at(meta.index() + 1));
  last_appended_index_ = meta.index();
  last_appended_term_ = meta.term();
  return {};
}

Status RaftStorage::save_local_snapshot(const pb::SnapshotMeta& meta, std::string_view image) {
  NODUS_RETURN_IF_ERROR(storage_.write_snapshot(kSnapshotName, encode_snapshot(meta, image)));
  if (meta.index() + 1 > log_->first_index() && meta.index() <= log_->last_index()) {
    NODUS_RETURN_IF_ERROR(log_->truncate_prefix(meta.index() + 1));
  }
  return {};
}

void RaftStorage::save_local_snapshot_async(const pb::SnapshotMeta& meta,
                                            std::shared_ptr<const std::string> image,
                                            std::function<void(Status)> done) {
  ++snapshot_writes_;
  auto encoded = std::make_shared<const std::string>(encode_snapshot(meta, *image));
  storage_.write_snapshot_async(std::string(kSnapshotName), std::move(encoded),
                                [this, alive = alive_, meta, done = std::move(done)](Status st) {
                                  if (!*alive) return;
                                  --snapshot_writes_;
                                  if (st.ok() && meta.index() + 1 > log_->first_index() &&
                                      meta.index() <= log_->last_index()) {
                                    st = log_->truncate_prefix(meta.index() + 1);
                                  }
                                  done(st);
                                });
}

}  // namespace nodus::raft
