// Crash-state tests of FileStorage and FileAppendLog: a workload runs over CrashFileIo and is
// cut at every changing file call; each crash state it leaves (only the synced bytes; plus a
// torn half of the newest unsynced write; directory changes ahead of file data) must open
// without refusal, keep every acknowledged record, value and snapshot, and go on working.
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernel/runtime/crash_file_io.h"
#include "kernel/runtime/file_storage.h"
#include "kernel/runtime/temp_dir_for_test.h"

namespace nodus::kernel {
namespace {

// The crash states are modelled, not real durability, so they live in memory when the machine
// has a tmpfs: hundreds of small directories cost ten times less there than on a disk.
std::filesystem::path scratch_base() {
  std::error_code ec;
  if (std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0) {
    return "/dev/shm";
  }
  return {};
}

// What the workload was told is durable, and what may legitimately show up after a crash.
struct Expected {
  std::map<uint64_t, std::string> current;         // the log as the process saw it last
  std::map<uint64_t, std::set<std::string>> ever;  // every record appended at each index
  uint64_t lo = 1;  // records [lo, hi] were acknowledged and must survive as in `current`
  uint64_t hi = 0;  // and last_index() must be at least hi after recovery
  struct Value {
    std::optional<std::string> acked;    // returned OK
    std::optional<std::string> pending;  // asked for, no answer yet
  };
  std::map<std::string, Value> state;
  std::map<std::string, Value> snapshots;
};

std::string record(uint64_t index, int generation) {
  return "r" + std::to_string(index) + "g" + std::to_string(generation) +
         std::string(index % 5, '.');
}

// A small Raft-like life: votes, appends across many segment rolls with unsynced tails, a
// conflict overwrite, compactions inside and past the log, and snapshots. Stops at the first
// error, which after the crash point is every call.
void run_workload(FileIo& io, const std::filesystem::path& dir, Expected& e) {
  FileStorageOptions options;
  options.io = &io;
  options.log.segment_size_bytes = 64;  // two or three records per segment: many rolls
  auto storage_or = FileStorage::open(dir, options);
  if (!storage_or.ok()) return;
  FileStorage& storage = **storage_or;
  auto log_or = storage.open_log("raft");
  if (!log_or.ok()) return;
  AppendLog& log = **log_or;

  auto put = [&](const std::string& key, const std::string& v) {
    e.state[key].pending = v;
    if (!storage.put_state(key, v).ok()) return false;
    e.state[key] = {v, std::nullopt};
    return true;
  };
  auto snapshot = [&](const std::string& v) {
    e.snapshots["raft"].pending = v;
    if (!storage.write_snapshot("raft", v).ok()) return false;
    e.snapshots["raft"] = {v, std::nullopt};
    return true;
  };
  auto append = [&](uint64_t from, uint64_t to, int generation) {
    for (uint64_t i = from; i <= to; ++i) {
      const std::string r = record(i, generation);
      e.ever[i].insert(r);
      auto index = log.append(r);
      if (!index.ok()) return false;
      EXPECT_EQ(*index, i);
      e.current[i] = r;
      // What synced_index() claims is durable counts as acknowledged (a segment roll syncs).
      e.hi = std::max(e.hi, log.synced_index());
    }
    return true;
  };
  auto sync = [&] {
    const uint64_t last = log.last_index();
    if (!log.sync().ok()) return false;
    e.hi = last;
    return true;
  };
  auto truncate_suffix = [&](uint64_t from) {
    e.hi = std::min(e.hi, from - 1);
    if (!log.truncate_suffix(from).ok()) return false;
    e.current.erase(e.current.lower_bound(from), e.current.end());
    return true;
  };
  auto truncate_prefix = [&](uint64_t before) {
    const bool past_end = before > log.last_index() + 1;
    e.lo = std::max(e.lo, before);
    if (!log.truncate_prefix(before).ok()) return false;
    e.current.erase(e.current.begin(), e.current.lower_bound(before));
    if (past_end) e.hi = before - 1;  // the next append must get index `before`
    return true;
  };

  (void)(put("term", "1") && put("vote", "n1") && append(1, 5, 1) && sync() &&
         append(6, 9, 1) &&  // unsynced, across a roll
         truncate_prefix(3) && append(10, 11, 1) && snapshot("snap-a") && truncate_suffix(8) &&
         append(8, 12, 2) && sync() && put("term", "2") && append(13, 14, 2) &&
         truncate_prefix(30) && append(30, 33, 3) && sync() && append(34, 35, 3) &&
         snapshot("snap-b") && put("vote", "n2"));
}

// Opens the crash state in `dir` and lists every broken promise.
std::vector<std::string> check_recovery(const std::filesystem::path& dir, const Expected& e) {
  std::vector<std::string> problems;
  CrashFileIo io(dir);  // the model, never crashing: recovery without real fsyncs
  FileStorageOptions options;
  options.io = &io;
  options.log.segment_size_bytes = 64;
  auto storage = FileStorage::open(dir, options);
  if (!storage.ok()) return {"storage refused to open: " + storage.status().to_string()};
  auto check_value = [&](const std::string& what, const Expected::Value& v,
                         const Result<std::optional<std::string>>& got) {
    if (!got.ok()) {
      problems.push_back(what + ": " + got.status().to_string());
      return;
    }
    const bool allowed = *got == v.acked || (v.pending && *got == v.pending);
    if (!allowed) {
      problems.push_back(what + " reads '" + got->value_or("<none>") + "', acknowledged '" +
                         v.acked.value_or("<none>") + "'");
    }
  };
  for (const auto& [key, v] : e.state)
    check_value("state " + key, v, (*storage)->get_state(key));
  for (const auto& [name, v] : e.snapshots)
    check_value("snapshot " + name, v, (*storage)->read_snapshot(name));

  uint64_t last = 0;
  {
    auto log = (*storage)->open_file_log("raft");
    if (!log.ok()) {
      problems.push_back("log refused to open: " + log.status().to_string());
      return problems;
    }
    last = (*log)->last_index();
    if (last < e.hi) {
      problems.push_back("last index " + std::to_string(last) + " < acknowledged " +
                         std::to_string(e.hi));
    }
    for (uint64_t i = e.lo; i <= e.hi; ++i) {
      auto r = (*log)->read(i);
      const auto it = e.current.find(i);
      if (!r.ok() || it == e.current.end() || *r != it->second) {
        problems.push_back("acknowledged record " + std::to_string(i) +
                           " lost: " + (r.ok() ? *r : r.status().to_string()));
      }
    }
    for (uint64_t i = (*log)->first_index(); i <= last; ++i) {
      auto r = (*log)->read(i);
      const auto it = e.ever.find(i);
      if (!r.ok() || it == e.ever.end() || it->second.count(*r) == 0) {
        problems.push_back("record " + std::to_string(i) +
                           " was never written: " + (r.ok() ? *r : r.status().to_string()));
      }
    }
    // The recovered log goes on working.
    auto next = (*log)->append("after-crash");
    if (!next.ok() || *next != last + 1 || !(*log)->sync().ok()) {
      problems.push_back("the recovered log does not take appends");
    }
  }
  auto again = (*storage)->open_file_log("raft");
  if (!again.ok() || (*again)->last_index() != last + 1) {
    problems.push_back("a second recovery disagrees with the first");
  }
  return problems;
}

// Goal: every crash point of the workload, in every crash state, recovers with no refusal to
// start and no acknowledged record, value or snapshot lost (the ALICE/LazyFS method).
TEST(FileStorageCrashTest, EveryCrashPointRecovers) {
  uint64_t total_calls = 0;
  {
    TempDir tmp(scratch_base());
    CrashFileIo io(tmp.path());
    Expected e;
    run_workload(io, tmp.path() / "plugin", e);
    total_calls = io.calls();
    ASSERT_FALSE(io.crashed());
    ASSERT_EQ(e.hi, 33u) << "the workload did not run to its end";
  }
  ASSERT_GT(total_calls, 80u);

  std::vector<std::string> failures;
  std::map<std::string, int> points_by_kind;  // proof that the interesting cuts were tried
  int states_checked = 0;
  for (uint64_t k = 0; k <= total_calls; ++k) {
    TempDir tmp(scratch_base());
    CrashFileIo io(tmp.path(), k);
    Expected e;
    run_workload(io, tmp.path() / "plugin", e);
    const std::string point = io.crash_point();
    for (const char* kind : {".seg", "/state/", "/snapshots/", "delete", "rename", "mkdir"}) {
      if (point.find(kind) != std::string::npos) ++points_by_kind[kind];
    }
    for (CrashState state :
         {CrashState::kSyncedOnly, CrashState::kTornLastWrite, CrashState::kMetadataAhead}) {
      TempDir out(scratch_base());
      auto made = io.materialize(state, out.path());
      ASSERT_TRUE(made.ok()) << made.status().to_string();
      if (!*made) continue;
      ++states_checked;
      for (const std::string& p : check_recovery(out.path() / "plugin", e)) {
        failures.push_back("crash before call " + std::to_string(k) + " (" + point + "), " +
                           crash_state_name(state) + ": " + p);
      }
    }
  }
  EXPECT_GT(points_by_kind[".seg"], 20);
  EXPECT_GT(points_by_kind["/state/"], 10);
  EXPECT_GT(points_by_kind["/snapshots/"], 5);
  EXPECT_GT(points_by_kind["delete"], 3);
  EXPECT_GT(states_checked, static_cast<int>(2 * total_calls));
  std::string report;
  for (size_t i = 0; i < failures.size() && i < 15; ++i)
    report += failures[i] + "\n";
  EXPECT_TRUE(failures.empty()) << failures.size() << " broken promises in the " << states_checked
                                << " crash states, first ones:\n"
                                << report;
}

// Opens the storage and its log once, as a restart does, through `io`.
void open_once(FileIo& io, const std::filesystem::path& dir) {
  FileStorageOptions options;
  options.io = &io;
  options.log.segment_size_bytes = 64;
  auto storage = FileStorage::open(dir, options);
  if (storage.ok()) (void)(*storage)->open_file_log("raft");
}

// Goal: recovery itself is crash-safe: a crash at any call of the repair (cutting a torn
// tail, finishing a .cut truncation) leaves a state that the next open recovers with nothing
// acknowledged lost.
TEST(FileStorageCrashTest, CrashDuringRecoveryRecovers) {
  uint64_t total_calls = 0;
  {
    TempDir tmp(scratch_base());
    CrashFileIo io(tmp.path());
    Expected e;
    run_workload(io, tmp.path() / "plugin", e);
    total_calls = io.calls();
  }
  std::vector<std::string> failures;
  int repairs_cut = 0;  // recoveries that were cut part-way
  for (uint64_t k = 0; k <= total_calls; ++k) {
    TempDir tmp(scratch_base());
    CrashFileIo io(tmp.path(), k);
    Expected e;
    run_workload(io, tmp.path() / "plugin", e);
    for (CrashState first : {CrashState::kTornLastWrite, CrashState::kMetadataAhead}) {
      TempDir crashed(scratch_base());
      auto made = io.materialize(first, crashed.path());
      ASSERT_TRUE(made.ok()) << made.status().to_string();
      if (!*made) continue;
      uint64_t repair_calls = 0;
      {
        TempDir copy(scratch_base());
        std::filesystem::copy(crashed.path(), copy.path(),
                              std::filesystem::copy_options::recursive);
        CrashFileIo counter(copy.path());
        open_once(counter, copy.path() / "plugin");
        repair_calls = counter.calls();
      }
      for (uint64_t j = 0; j < repair_calls; ++j) {
        TempDir copy(scratch_base());
        std::filesystem::copy(crashed.path(), copy.path(),
                              std::filesystem::copy_options::recursive);
        CrashFileIo again(copy.path(), j);
        open_once(again, copy.path() / "plugin");
        ++repairs_cut;
        for (CrashState second : {CrashState::kSyncedOnly, CrashState::kMetadataAhead}) {
          TempDir out(scratch_base());
          ASSERT_TRUE(again.materialize(second, out.path()).ok());
          for (const std::string& p : check_recovery(out.path() / "plugin", e)) {
            failures.push_back("crash before call " + std::to_string(k) + " (" +
                               crash_state_name(first) + "), then before recovery call " +
                               std::to_string(j) + " (" + again.crash_point() + ", " +
                               crash_state_name(second) + "): " + p);
          }
        }
      }
    }
  }
  EXPECT_GT(repairs_cut, 100);
  std::string report;
  for (size_t i = 0; i < failures.size() && i < 15; ++i)
    report += failures[i] + "\n";
  EXPECT_TRUE(failures.empty()) << failures.size() << " broken promises, first ones:\n" << report;
}

}  // namespace
}  // namespace nodus::kernel
