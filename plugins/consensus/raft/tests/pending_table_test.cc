// The Raft driver's one table of pending callbacks: one bound shared by every kind, one
// expiry path for every kind.
#include "pending_table.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <vector>

namespace nodus::raft {
namespace {

constexpr PendingKind kAllKinds[] = {PendingKind::kProposal, PendingKind::kForwarding,
                                     PendingKind::kForwarded, PendingKind::kConf,
                                     PendingKind::kRead};

PendingEntry entry_until(TimePoint deadline, std::optional<Status>* answer) {
  PendingEntry e;
  e.deadline = deadline;
  e.done = [answer](Status s) { *answer = s; };
  return e;
}

// Goal: the bound holds for every kind: once the table is full, an add of any kind is refused
// (and leaves the entry with its callback untouched), and a removal makes room for any kind.
TEST(RaftPendingTable, OneBoundForEveryKind) {
  const TimePoint t0{};
  PendingTable table(2);
  std::optional<Status> answer;
  ASSERT_TRUE(table.add(PendingKind::kProposal, 1, entry_until(t0, &answer)));
  ASSERT_TRUE(table.add(PendingKind::kRead, 1, entry_until(t0, &answer)));
  EXPECT_TRUE(table.full());
  for (PendingKind kind : kAllKinds) {
    PendingEntry refused = entry_until(t0, &answer);
    EXPECT_FALSE(table.add(kind, 7, std::move(refused))) << pending_kind_name(kind);
    EXPECT_TRUE(static_cast<bool>(refused.done)) << pending_kind_name(kind);  // not consumed
    EXPECT_EQ(table.size(kind), kind == PendingKind::kProposal || kind == PendingKind::kRead);
  }
  EXPECT_EQ(table.size(), 2U);
  ASSERT_TRUE(table.take(PendingKind::kProposal, 1).has_value());
  for (PendingKind kind : kAllKinds) {
    EXPECT_TRUE(table.add(kind, 9, entry_until(t0, &answer))) << pending_kind_name(kind);
    EXPECT_FALSE(table.add(kind, 10, entry_until(t0, &answer))) << pending_kind_name(kind);
    ASSERT_TRUE(table.take(kind, 9).has_value());
  }
}

// Goal: one expiry path removes every expired entry whatever its kind, in (kind, key) order,
// keeps the others, and the per-kind counts follow.
TEST(RaftPendingTable, OneExpiryPathForEveryKind) {
  const TimePoint t0{};
  const TimePoint later = t0 + std::chrono::seconds(10);
  PendingTable table(16);
  std::vector<std::optional<Status>> answers(10);
  for (size_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(table.add(kAllKinds[4 - i], 100 + i, entry_until(t0, &answers[i])));
    ASSERT_TRUE(table.add(kAllKinds[i], 200 + i, entry_until(later, &answers[5 + i])));
  }
  auto expired = table.take_expired(t0 + std::chrono::seconds(1));
  ASSERT_EQ(expired.size(), 5U);
  for (size_t i = 0; i < expired.size(); ++i) {
    EXPECT_EQ(expired[i].second.kind, kAllKinds[i]);
    EXPECT_EQ(expired[i].first, 104 - i);
    expired[i].second.fail(deadline_exceeded("expired"));
  }
  for (size_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(answers[i].has_value());
    EXPECT_EQ(answers[i]->code(), StatusCode::kDeadlineExceeded);
    EXPECT_FALSE(answers[5 + i].has_value());
  }
  EXPECT_EQ(table.size(), 5U);
  for (PendingKind kind : kAllKinds)
    EXPECT_EQ(table.size(kind), 1U) << pending_kind_name(kind);
  EXPECT_EQ(table.take_expired(later).size(), 5U);
  EXPECT_EQ(table.size(), 0U);
}

}  // namespace
}  // namespace nodus::raft
