// Tests of nodus/check.h and of the checked accessors of nodus/status.h. They run in the dev
// and the release lanes: the release build defines NDEBUG, and the checks must stop the
// process there too.
#include "nodus/check.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "nodus/status.h"

namespace nodus {
namespace {

// The death tests fork; "threadsafe" re-executes the binary, so no state of the parent leaks.
class CheckDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// Goal: this binary is the optimised one in the release lane, and the checks stay on there.
TEST_F(CheckDeathTest, ReportsWhetherNdebugIsSet) {
#ifdef NDEBUG
  std::printf("NDEBUG is defined: checking that NODUS_CHECK stays on without assert()\n");
#endif
  EXPECT_DEATH(NODUS_CHECK(false), "CHECK failed");
}

// Goal: a failed check prints file:line, the condition and the streamed reason and state.
TEST_F(CheckDeathTest, FailedCheckPrintsConditionReasonAndState) {
  const int term = 7;
  EXPECT_DEATH(NODUS_CHECK(term < 3) << "terms never go backwards; term " << term,
               "CHECK failed at .*check_test.cc:[0-9]+: term < 3: terms never go backwards; "
               "term 7");
}

// Goal: the comparison forms print both values.
TEST_F(CheckDeathTest, ComparisonsPrintBothValues) {
  const uint64_t commit = 5;
  const uint64_t last = 4;
  EXPECT_DEATH(NODUS_CHECK_LE(commit, last) << "commit <= last index",
               "commit <= last \\(5 vs 4\\): commit <= last index");
  EXPECT_DEATH(NODUS_CHECK_EQ(1, 2), "1 == 2 \\(1 vs 2\\)");
  EXPECT_DEATH(NODUS_CHECK_NE(3, 3), "3 != 3 \\(3 vs 3\\)");
  EXPECT_DEATH(NODUS_CHECK_LT(4, 4), "4 < 4 \\(4 vs 4\\)");
  EXPECT_DEATH(NODUS_CHECK_GT(1, 4), "1 > 4 \\(1 vs 4\\)");
  EXPECT_DEATH(NODUS_CHECK_GE(1, 4), "1 >= 4 \\(1 vs 4\\)");
}

// Goal: a check on a Status prints the status.
TEST_F(CheckDeathTest, CheckOkPrintsTheStatus) {
  EXPECT_DEATH(NODUS_CHECK_OK(internal_error("log not dense")) << "after append",
               "internal_error\\(\"log not dense\"\\) is INTERNAL: log not dense: after append");
}

// Goal: the message stays on one line, so the state a caller streams is not split.
TEST_F(CheckDeathTest, MessageIsOneLine) {
  EXPECT_DEATH(NODUS_CHECK(false) << "first\nsecond", "false: first second");
}

// Goal: a check that holds does nothing, evaluates its operands once, and builds no message.
TEST(Check, PassingCheckEvaluatesOnceAndSkipsTheMessage) {
  int evaluated = 0;
  int streamed = 0;
  auto count = [&]() {
    ++evaluated;
    return 1;
  };
  auto message = [&]() {
    ++streamed;
    return "unused";
  };
  NODUS_CHECK(count() == 1) << message();
  NODUS_CHECK_EQ(count(), 1) << message();
  NODUS_CHECK_LE(count(), 2) << message();
  NODUS_CHECK_OK(Status()) << message();
  EXPECT_EQ(evaluated, 3);
  EXPECT_EQ(streamed, 0);
}

// Goal: a check nests in if/else without taking the else.
TEST(Check, BindsLikeAStatement) {
  bool took_else = false;
  if (false)
    NODUS_CHECK(false) << "not reached";
  else
    took_else = true;
  EXPECT_TRUE(took_else);
}

// Goal: taking the value of a Result that holds an error stops with the error, in every build.
TEST_F(CheckDeathTest, ValueOfAnErrorResultStops) {
  Result<int> r = not_found("key a");
  EXPECT_DEATH((void)r.value(), "value\\(\\) of a Result that holds an error: NOT_FOUND: key a");
  EXPECT_DEATH((void)*r, "NOT_FOUND: key a");
  const Result<std::string> c = unavailable("no leader");
  EXPECT_DEATH((void)c->size(), "UNAVAILABLE: no leader");
  EXPECT_DEATH((void)std::move(r).value(), "NOT_FOUND: key a");
}

// Goal: a Result built from an OK status (a value that does not exist) stops at construction.
TEST_F(CheckDeathTest, ResultFromOkStatusStops) {
  EXPECT_DEATH((void)Result<int>{Status()}, "an OK status without a value");
}

// Goal: the checked accessors still hand out values of OK results.
TEST(Check, ResultValueWhenOk) {
  Result<std::string> r = std::string("v");
  EXPECT_EQ(r.value(), "v");
  EXPECT_EQ(r->size(), 1U);
  EXPECT_EQ(std::move(r).value(), "v");
}

}  // namespace
}  // namespace nodus
