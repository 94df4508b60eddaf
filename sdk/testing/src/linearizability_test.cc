// Unit tests of the Wing-Gong linearizability checker on known histories.
#include "nodus/testing/linearizability.h"

#include <gtest/gtest.h>

namespace nodus::testing {
namespace {

TimePoint t(int64_t us) {
  return TimePoint(std::chrono::microseconds(us));
}

// Adds a completed operation [call, ret].
void op(KvHistory& h, uint64_t client, KvOp o, int64_t call, int64_t ret, int64_t result) {
  const size_t i = h.invoke(client, std::move(o), t(call));
  h.complete(i, result, t(ret));
}

// Goal: sequential put/get histories are accepted or rejected by their values.
TEST(Linearizability, SequentialRegister) {
  KvHistory good;
  op(good, 1, KvOp::put("x", 1), 0, 1, 0);
  op(good, 1, KvOp::get("x"), 2, 3, 1);
  EXPECT_TRUE(check_linearizable(good).ok());

  KvHistory stale;
  op(stale, 1, KvOp::put("x", 1), 0, 1, 0);
  op(stale, 2, KvOp::get("x"), 2, 3, 0);  // reads the old value after the write returned
  const Status st = check_linearizable(stale);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("key 'x'"), std::string::npos) << st.to_string();
}

// Goal: concurrent operations may take effect in either order.
TEST(Linearizability, ConcurrentWriteMayBeSeenOrNot) {
  for (int64_t seen : {0, 1}) {
    KvHistory h;
    op(h, 1, KvOp::put("x", 1), 0, 10, 0);
    op(h, 2, KvOp::get("x"), 5, 6, seen);
    EXPECT_TRUE(check_linearizable(h).ok()) << seen;
  }
}

// Goal: the classic non-linearizable pattern: two reads disagree on the order of writes.
TEST(Linearizability, ReadsThatSeeTimeGoBackwardsAreRejected) {
  KvHistory h;
  op(h, 1, KvOp::put("x", 1), 0, 100, 0);  // long, concurrent with both reads
  op(h, 2, KvOp::get("x"), 10, 20, 1);     // sees the write ...
  op(h, 3, KvOp::get("x"), 30, 40, 0);     // ... then a later read does not
  EXPECT_EQ(check_linearizable(h).code(), StatusCode::kFailedPrecondition);
}

// Goal: add returns the new value; a lost acknowledged add is caught.
TEST(Linearizability, CounterAdds) {
  KvHistory ok;
  op(ok, 1, KvOp::add("c", 1), 0, 10, 2);  // concurrent adds: either order
  op(ok, 2, KvOp::add("c", 1), 0, 10, 1);
  op(ok, 3, KvOp::get("c"), 20, 21, 2);
  EXPECT_TRUE(check_linearizable(ok).ok());

  KvHistory lost;
  op(lost, 1, KvOp::add("c", 1), 0, 1, 1);
  op(lost, 1, KvOp::add("c", 1), 2, 3, 2);
  op(lost, 2, KvOp::add("c", 1), 4, 5, 2);  // the acknowledged 2 was forgotten
  EXPECT_EQ(check_linearizable(lost).code(), StatusCode::kFailedPrecondition);
}

// Goal: an operation without a response may or may not have happened; a failed one did not.
TEST(Linearizability, OpenAndFailedOperations) {
  KvHistory h;
  h.invoke(1, KvOp::add("c", 5), t(0));  // never answered
  op(h, 2, KvOp::get("c"), 10, 11, 5);   // saw it
  op(h, 2, KvOp::get("c"), 12, 13, 5);
  EXPECT_TRUE(check_linearizable(h).ok());

  KvHistory not_seen;
  not_seen.invoke(1, KvOp::add("c", 5), t(0));
  op(not_seen, 2, KvOp::get("c"), 10, 11, 0);  // or not
  EXPECT_TRUE(check_linearizable(not_seen).ok());

  KvHistory failed;
  const size_t f = failed.invoke(1, KvOp::add("c", 5), t(0));
  failed.fail(f);
  op(failed, 2, KvOp::get("c"), 10, 11, 5);  // cannot see a failed add
  EXPECT_EQ(check_linearizable(failed).code(), StatusCode::kFailedPrecondition);
}

// Goal: keys are independent, and many identical open operations stay cheap to check.
TEST(Linearizability, IndependentKeysAndManyOpenOps) {
  KvHistory h;
  for (int i = 0; i < 60; ++i)
    h.invoke(100 + static_cast<uint64_t>(i), KvOp::add("c", 1), t(i));
  for (int i = 0; i < 200; ++i) {
    op(h, 1, KvOp::put("k" + std::to_string(i % 5), i), 1000 + 2 * i, 1001 + 2 * i, 0);
  }
  op(h, 2, KvOp::get("c"), 5000, 5001, 37);
  op(h, 2, KvOp::get("c"), 5002, 5003, 40);
  EXPECT_TRUE(check_linearizable(h, 100'000).ok());
  op(h, 2, KvOp::get("c"), 5004, 5005, 39);  // went down: impossible with only adds of 1
  EXPECT_EQ(check_linearizable(h, 100'000).code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace nodus::testing
