#include "kernel/runtime/file_append_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <system_error>
#include <utility>

#include "kernel/runtime/crc32c.h"
#include "nodus/check.h"

namespace nodus::kernel {
namespace {

constexpr size_t kSegmentNameDigits = 20;
constexpr std::string_view kSegmentSuffix = ".seg";
constexpr std::string_view kCutSuffix = ".cut";
constexpr size_t kScanChunkBytes = size_t{1} << 20;

std::string segment_file_name(uint64_t first_index) {
  std::array<char, 32> buf{};
  std::snprintf(buf.data(), buf.size(), "%020llu.seg",
                static_cast<unsigned long long>(first_index));
  return buf.data();
}

// The marker of a prefix truncation that empties the log: "<next index, 20 digits>.cut".
std::string cut_file_name(uint64_t next_index) {
  std::array<char, 32> buf{};
  std::snprintf(buf.data(), buf.size(), "%020llu.cut", static_cast<unsigned long long>(next_index));
  return buf.data();
}

// Parses "<20 digits><suffix>"; false for any other file.
bool parse_indexed_name(const std::string& name, std::string_view suffix, uint64_t* first_index) {
  if (name.size() != kSegmentNameDigits + suffix.size()) return false;
  if (name.compare(kSegmentNameDigits, suffix.size(), suffix) != 0) return false;
  const char* end = name.data() + kSegmentNameDigits;
  auto [ptr, ec] = std::from_chars(name.data(), end, *first_index);
  return ec == std::errc() && ptr == end;
}

uint32_t record_crc(const char* len_bytes, std::string_view payload) {
  return crc32c(payload, crc32c(std::string_view(len_bytes, 4)));
}

struct ScanResult {
  std::vector<uint64_t> offsets;
  uint64_t valid_bytes = 0;
  std::string problem;  // empty when every byte of the file is a valid record
};

// Verifies every record of one segment, reading it in bounded chunks.
nodus::Result<ScanResult> scan_segment(int fd, const std::filesystem::path& path,
                                       uint64_t file_size) {
  ScanResult out;
  std::string buf;
  uint64_t buf_offset = 0;
  // Makes buf hold the file bytes [start, start + n).
  auto fill = [&](uint64_t start, uint64_t n) -> nodus::Status {
    if (start >= buf_offset && start + n <= buf_offset + buf.size()) return {};
    const uint64_t want = std::min(std::max<uint64_t>(n, kScanChunkBytes), file_size - start);
    buf.resize(want);
    buf_offset = start;
    return pread_exact(fd, buf.data(), buf.size(), start, path);
  };
  constexpr uint64_t kHeader = FileAppendLog::kRecordHeaderBytes;
  uint64_t off = 0;
  while (off < file_size) {
    if (file_size - off < kHeader) {
      out.problem = "torn record header";
      break;
    }
    NODUS_RETURN_IF_ERROR(fill(off, kHeader));
    const char* header = buf.data() + (off - buf_offset);
    const uint32_t len = get_u32_le(header);
    const uint32_t crc = get_u32_le(header + 4);
    if (len > FileAppendLog::kRecordBytesMax) {
      out.problem = "record length " + std::to_string(len) + " exceeds the limit";
      break;
    }
    if (file_size - off - kHeader < len) {
      out.problem = "torn record: payload runs past the end of the file";
      break;
    }
    NODUS_RETURN_IF_ERROR(fill(off, kHeader + len));
    const char* rec = buf.data() + (off - buf_offset);
    if (record_crc(rec, std::string_view(rec + kHeader, len)) != crc) {
      out.problem = "record checksum mismatch";
      break;
    }
    out.offsets.push_back(off);
    off += kHeader + len;
  }
  out.valid_bytes = off;
  return out;
}

}  // namespace

FileAppendLog::FileAppendLog(std::filesystem::path dir, FileAppendLogOptions options,
                             UniqueFd lock_fd)
    : dir_(std::move(dir)),
      options_(options),
      io_(options.io != nullptr ? *options.io : posix_file_io()),
      lock_fd_(std::move(lock_fd)) {}

nodus::Result<std::unique_ptr<FileAppendLog>> FileAppendLog::open(std::filesystem::path dir,
                                                                  FileAppendLogOptions options) {
  if (options.segment_size_bytes == 0 || options.segment_size_bytes > kSegmentSizeBytesMax) {
    return nodus::invalid_argument("log " + dir.string() + ": segment_size_bytes " +
                                   std::to_string(options.segment_size_bytes) +
                                   " is outside [1, 1 GiB]");
  }
  FileIo& io = options.io != nullptr ? *options.io : posix_file_io();
  NODUS_RETURN_IF_ERROR(ensure_durable_directory(io, dir));
  const std::filesystem::path lock_path = dir / "LOCK";
  NODUS_ASSIGN_OR_RETURN(UniqueFd lock_fd, io.open(lock_path, O_RDWR | O_CREAT));
  if (::flock(lock_fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return nodus::failed_precondition("log " + dir.string() + " is already open");
    }
    return errno_status(errno, "lock", lock_path);
  }
  std::unique_ptr<FileAppendLog> log(
      new FileAppendLog(std::move(dir), options, std::move(lock_fd)));
  NODUS_RETURN_IF_ERROR(log->recover());
  return log;
}

nodus::Result<FileAppendLog::Segment> FileAppendLog::open_segment(uint64_t first_index,
                                                                  bool create) {
  Segment seg;
  seg.first_index = first_index;
  seg.path = dir_ / segment_file_name(first_index);
  const int flags = O_RDWR | (create ? O_CREAT | O_TRUNC : 0);
  NODUS_ASSIGN_OR_RETURN(UniqueFd fd, io_.open(seg.path, flags));
  seg.fd = std::make_shared<UniqueFd>(std::move(fd));
  return seg;
}

nodus::Status FileAppendLog::recover() {
  std::vector<uint64_t> firsts;
  std::vector<uint64_t> cuts;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    uint64_t index = 0;
    if (parse_indexed_name(name, kSegmentSuffix, &index)) firsts.push_back(index);
    if (parse_indexed_name(name, kCutSuffix, &index)) cuts.push_back(index);
  }
  if (ec) return errno_status(ec.value(), "list", dir_);
  std::sort(firsts.begin(), firsts.end());
  if (!cuts.empty()) NODUS_RETURN_IF_ERROR(finish_cut(cuts, firsts));
  if (firsts.empty()) {
    NODUS_ASSIGN_OR_RETURN(Segment seg, open_segment(1, /*create=*/true));
    segments_.push_back(std::move(seg));
    NODUS_RETURN_IF_ERROR(io_.sync_dir(dir_));
    recovery_.segments = 1;
    return {};
  }
  for (size_t i = 0; i < firsts.size(); ++i) {
    const bool last = i + 1 == firsts.size();
    NODUS_ASSIGN_OR_RETURN(Segment seg, open_segment(firsts[i], /*create=*/false));
    struct stat st {};
    if (::fstat(seg.fd->get(), &st) != 0) return errno_status(errno, "stat", seg.path);
    const auto file_size = static_cast<uint64_t>(st.st_size);
    NODUS_ASSIGN_OR_RETURN(ScanResult scan, scan_segment(seg.fd->get(), seg.path, file_size));
    if (!segments_.empty()) {
      const Segment& prev = segments_.back();
      const uint64_t expected = prev.first_index + prev.offsets.size();
      // Segments are contiguous in every state a crash can leave (a segment is synced before
      // the next one is created, and a truncation that empties the log leaves a .cut
      // marker), so a gap is damage.
      if (seg.first_index != expected) {
        return nodus::data_loss("log segment " + seg.path.string() + " starts at index " +
                                std::to_string(seg.first_index) +
                                " but the previous segment ends at " +
                                std::to_string(expected - 1));
      }
    }
    if (!scan.problem.empty()) {
      const std::string where = seg.path.string() + " at offset " +
                                std::to_string(scan.valid_bytes) + ": " + scan.problem;
      if (!last) return nodus::data_loss("log segment " + where);
      NODUS_RETURN_IF_ERROR(io_.truncate(seg.fd->get(), scan.valid_bytes, seg.path));
      recovery_.truncated_bytes = file_size - scan.valid_bytes;
      recovery_.reason = where;
    }
    // Data a crashed predecessor left in the page cache is made durable before it counts
    // as synced.
    NODUS_RETURN_IF_ERROR(io_.sync_data(seg.fd->get(), seg.path));
    seg.offsets = std::move(scan.offsets);
    seg.size_bytes = scan.valid_bytes;
    recovery_.records_kept += seg.offsets.size();
    segments_.push_back(std::move(seg));
  }
  recovery_.segments = segments_.size();
  synced_index_ = last_index_locked();
  return {};
}

uint64_t FileAppendLog::last_index_locked() const {
  const Segment& active = segments_.back();
  return active.first_index + active.offsets.size() - 1;
}

uint64_t FileAppendLog::first_index() const {
  std::lock_guard lock(mu_);
  return segments_.front().first_index;
}

uint64_t FileAppendLog::last_index() const {
  std::lock_guard lock(mu_);
  return last_index_locked();
}

uint64_t FileAppendLog::synced_index() const {
  std::lock_guard lock(mu_);
  return synced_index_;
}

size_t FileAppendLog::segment_count() const {
  std::lock_guard lock(mu_);
  return segments_.size();
}

nodus::Status FileAppendLog::finish_cut(const std::vector<uint64_t>& cuts,
                                        std::vector<uint64_t>& firsts) {
  // Every record of the log was below the cut when the marker was made durable, so every
  // segment that starts below it goes; segments at or past it were made by the cut itself.
  const uint64_t next = *std::max_element(cuts.begin(), cuts.end());
  while (!firsts.empty() && firsts.front() < next) {
    NODUS_RETURN_IF_ERROR(io_.remove(dir_ / segment_file_name(firsts.front())));
    firsts.erase(firsts.begin());
  }
  if (firsts.empty()) {
    NODUS_RETURN_IF_ERROR(open_segment(next, /*create=*/true).status());
    firsts.push_back(next);
  }
  NODUS_RETURN_IF_ERROR(io_.sync_dir(dir_));
  for (uint64_t cut : cuts)
    NODUS_RETURN_IF_ERROR(io_.remove(dir_ / cut_file_name(cut)));
  NODUS_RETURN_IF_ERROR(io_.sync_dir(dir_));
  recovery_.reason =
      "finished an interrupted truncation of every record below " + std::to_string(next);
  return {};
}

nodus::Status FileAppendLog::roll_segment() {
  // The closed segment is made durable before the next one exists, so no crash can leave a
  // segment behind one whose tail was lost: recovery never has to guess what a gap means.
  // Its name too (a concurrent sync() may not have fsynced the directory yet), so that
  // synced_index() counts its records honestly. Both happen once per segment.
  Segment& closed = segments_.back();
  nodus::Status st = io_.sync_data(closed.fd->get(), closed.path);
  if (st.ok()) st = io_.sync_dir(dir_);
  if (!st.ok()) {
    broken_ = st.with_context("log " + dir_.string() + " is unusable after a failed sync");
    return st;
  }
  closed.dirty = false;
  dir_dirty_ = false;
  synced_index_ = std::max(synced_index_, last_index_locked());  // earlier segments are too
  NODUS_ASSIGN_OR_RETURN(Segment seg, open_segment(last_index_locked() + 1, /*create=*/true));
  segments_.push_back(std::move(seg));
  dir_dirty_ = true;
  return {};
}

nodus::Result<uint64_t> FileAppendLog::append(std::string_view record) {
  std::lock_guard lock(mu_);
  if (!broken_.ok()) return broken_;
  if (record.size() > kRecordBytesMax) {
    return nodus::invalid_argument("log " + dir_.string() + ": record of " +
                                   std::to_string(record.size()) + " bytes exceeds the limit of " +
                                   std::to_string(kRecordBytesMax));
  }
  const uint64_t record_bytes = kRecordHeaderBytes + record.size();
  if (!segments_.back().offsets.empty() &&
      segments_.back().size_bytes + record_bytes > options_.segment_size_bytes) {
    NODUS_RETURN_IF_ERROR(roll_segment());
  }
  Segment& seg = segments_.back();
  scratch_.resize(record_bytes);
  put_u32_le(scratch_.data(), static_cast<uint32_t>(record.size()));
  std::copy(record.begin(), record.end(), scratch_.begin() + kRecordHeaderBytes);
  put_u32_le(scratch_.data() + 4, record_crc(scratch_.data(), record));
  nodus::Status st = io_.write(seg.fd->get(), scratch_, seg.size_bytes, seg.path);
  if (scratch_.capacity() > kScanChunkBytes) std::string().swap(scratch_);  // stay bounded
  if (!st.ok()) {
    // Cut off whatever part of the record reached the file; if even that fails, the file no
    // longer matches the index and the log refuses further writes.
    if (!io_.truncate(seg.fd->get(), seg.size_bytes, seg.path).ok()) {
      broken_ = st.with_context("log " + dir_.string() + " is unusable after a failed write");
    }
    return st;
  }
  NODUS_CHECK(seg.offsets.empty() || seg.offsets.back() + kRecordHeaderBytes <= seg.size_bytes)
      << "records of a segment lie end to end, so the next one starts at its size; " << dir_;
  seg.offsets.push_back(seg.size_bytes);
  seg.size_bytes += record_bytes;
  seg.dirty = true;
  return last_index_locked();
}

nodus::Status FileAppendLog::sync() {
  std::lock_guard sync_lock(sync_mu_);
  std::vector<std::pair<std::shared_ptr<UniqueFd>, std::filesystem::path>> to_sync;
  bool sync_dir = false;
  uint64_t target = 0;
  {
    std::lock_guard lock(mu_);
    if (!broken_.ok()) return broken_;
    for (Segment& seg : segments_) {
      if (!seg.dirty) continue;
      to_sync.emplace_back(seg.fd, seg.path);
      seg.dirty = false;
    }
    sync_dir = std::exchange(dir_dirty_, false);
    target = last_index_locked();
  }
  // Appends continue while we wait for the disk; they are covered by the next sync.
  nodus::Status st;
  for (const auto& [fd, path] : to_sync) {
    st = io_.sync_data(fd->get(), path);
    if (!st.ok()) break;
  }
  if (st.ok() && sync_dir) st = io_.sync_dir(dir_);
  std::lock_guard lock(mu_);
  if (!st.ok()) {
    // After a failed fsync the kernel may have dropped the dirty pages: nothing written since
    // the last good sync can be trusted, so stop rather than pretend.
    broken_ = st.with_context("log " + dir_.string() + " is unusable after a failed sync");
    return st;
  }
  synced_index_ = std::max(synced_index_, target);
  return {};
}

nodus::Result<std::string> FileAppendLog::read(uint64_t index) const {
  std::shared_ptr<UniqueFd> fd;
  std::filesystem::path path;
  uint64_t offset = 0;
  uint64_t end = 0;
  {
    std::lock_guard lock(mu_);
    const uint64_t first = segments_.front().first_index;
    const uint64_t last = last_index_locked();
    if (index < first || index > last) {
      return nodus::out_of_range("log " + dir_.string() + ": index " + std::to_string(index) +
                                 " is outside [" + std::to_string(first) + ", " +
                                 std::to_string(last) + "]");
    }
    auto it = std::upper_bound(segments_.begin(), segments_.end(), index,
                               [](uint64_t i, const Segment& s) { return i < s.first_index; });
    const Segment& seg = *std::prev(it);
    const size_t k = index - seg.first_index;
    offset = seg.offsets[k];
    end = k + 1 < seg.offsets.size() ? seg.offsets[k + 1] : seg.size_bytes;
    fd = seg.fd;
    path = seg.path;
  }
  std::string buf(end - offset, '\0');
  NODUS_RETURN_IF_ERROR(pread_exact(fd->get(), buf.data(), buf.size(), offset, path));
  const uint32_t len = get_u32_le(buf.data());
  std::string_view payload(buf.data() + kRecordHeaderBytes, buf.size() - kRecordHeaderBytes);
  if (len != payload.size() || record_crc(buf.data(), payload) != get_u32_le(buf.data() + 4)) {
    return nodus::data_loss("log segment " + path.string() + " at offset " +
                            std::to_string(offset) + ": record " + std::to_string(index) +
                            " fails its checksum");
  }
  return std::string(payload);
}

nodus::Status FileAppendLog::truncate_suffix(uint64_t from) {
  std::lock_guard sync_lock(sync_mu_);
  std::lock_guard lock(mu_);
  if (!broken_.ok()) return broken_;
  if (from > last_index_locked()) return {};
  from = std::max(from, segments_.front().first_index);
  bool removed = false;
  // Newest first, so a crash part-way leaves a contiguous log.
  while (segments_.size() > 1 && segments_.back().first_index >= from) {
    NODUS_RETURN_IF_ERROR(io_.remove(segments_.back().path));
    segments_.pop_back();
    removed = true;
  }
  // The deletions are durable before the survivor is cut, so a crash never leaves a cut
  // segment followed by one that was deleted (a gap).
  if (removed) {
    nodus::Status st = io_.sync_dir(dir_);
    if (!st.ok()) {
      broken_ = st.with_context("log " + dir_.string() + " is unusable after a failed sync");
      return st;
    }
  }
  Segment& seg = segments_.back();
  const size_t keep = from - seg.first_index;
  if (keep < seg.offsets.size()) {
    const uint64_t new_size = seg.offsets[keep];
    NODUS_RETURN_IF_ERROR(io_.truncate(seg.fd->get(), new_size, seg.path));
    seg.offsets.resize(keep);
    seg.size_bytes = new_size;
  }
  // The dropped records must not come back after a crash: make the cut durable now.
  nodus::Status st = io_.sync_data(seg.fd->get(), seg.path);
  if (st.ok() && dir_dirty_) st = io_.sync_dir(dir_);
  if (!st.ok()) {
    broken_ = st.with_context("log " + dir_.string() + " is unusable after a failed sync");
    return st;
  }
  seg.dirty = false;
  dir_dirty_ = false;
  NODUS_CHECK_EQ(last_index_locked() + 1, from)
      << "a suffix cut ends the log before `from`; " << dir_;
  synced_index_ = std::min(synced_index_, from - 1);
  return {};
}

nodus::Status FileAppendLog::cut_everything(uint64_t before) {
  // Everything goes and the next record gets index `before`. A durable marker names the cut
  // before any segment changes, so recover() finishes a cut that a crash interrupted at any
  // step; without it the log could come back restarting at index 1.
  const std::filesystem::path marker = dir_ / cut_file_name(before);
  NODUS_RETURN_IF_ERROR(io_.open(marker, O_WRONLY | O_CREAT | O_TRUNC).status());
  NODUS_RETURN_IF_ERROR(io_.sync_dir(dir_));
  // From here the disk says "cut": a failure must stop further writes, which recovery would
  // otherwise delete together with the old records.
  auto fail = [&](const nodus::Status& st) {
    broken_ = st.with_context("log " + dir_.string() + " is unusable after a failed truncation");
    return st;
  };
  auto fresh = open_segment(before, /*create=*/true);
  if (!fresh.ok()) return fail(fresh.status());
  for (const Segment& old : segments_) {
    nodus::Status st = io_.remove(old.path);
    if (!st.ok()) return fail(st);
  }
  segments_.clear();
  segments_.push_back(std::move(fresh).value());
  synced_index_ = before - 1;
  nodus::Status st = io_.sync_dir(dir_);
  if (st.ok()) st = io_.remove(marker);
  if (st.ok()) st = io_.sync_dir(dir_);
  if (!st.ok()) return fail(st);
  dir_dirty_ = false;
  return {};
}

nodus::Status FileAppendLog::truncate_prefix(uint64_t before) {
  std::lock_guard sync_lock(sync_mu_);
  std::lock_guard lock(mu_);
  if (!broken_.ok()) return broken_;
  if (before <= segments_.front().first_index) return {};
  if (before > last_index_locked() + 1) return cut_everything(before);
  // Oldest first, so a crash part-way leaves a contiguous log.
  while (segments_.size() > 1 && segments_[1].first_index <= before) {
    NODUS_RETURN_IF_ERROR(io_.remove(segments_.front().path));
    segments_.pop_front();
  }
  NODUS_RETURN_IF_ERROR(io_.sync_dir(dir_));
  dir_dirty_ = false;
  return {};
}

}  // namespace nodus::kernel
