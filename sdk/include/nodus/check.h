// nodus/check.h: invariant checks that stay on in every build type, Release included.
//
// A check states something our own code guarantees. When it does not hold, the process has a
// bug and its state can no longer be trusted, so the check writes one line to stderr (file and
// line, the condition, the values of a comparison, and whatever the caller streams: the reason
// the condition must hold and the state that helps find the bug) and aborts. A node that
// breaks an invariant stops instead of continuing silently, and persisting or sending what the
// bug produced. Bad input (a config value, a message from the network, a request) is not a
// bug of ours: answer it with a Status instead (see CONTRIBUTING.md).
//
// When the condition holds, a check costs the comparison and one predicted branch; the
// message is only built on failure.
//
//   NODUS_CHECK(term >= term_) << "terms never go backwards; node " << id;
//   NODUS_CHECK_LE(applied, commit) << "only committed entries are applied";
//   NODUS_CHECK_OK(log.check()) << "after truncating at " << index;
#pragma once

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

namespace nodus::check_internal {

// Collects the message of a failed check; its destructor prints the line and aborts.
class CheckFailure {
 public:
  [[gnu::cold, gnu::noinline]] CheckFailure(const char* file, int line, const char* condition) {
    out_ << "CHECK failed at " << file << ":" << line << ": " << condition << ": ";
  }  // NOLINTNEXTLINE(performance-unnecessary-value-param): runs once, then the process aborts
  [[gnu::cold, gnu::noinline]] CheckFailure(const char* file, int line, std::string condition)
      : CheckFailure(file, line, condition.c_str()) {}
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;

  // The caller's message follows the condition after ": ".
  std::ostream& stream() {
    message_at_ = out_.tellp();
    return out_;
  }

  [[noreturn, gnu::cold, gnu::noinline]] ~CheckFailure() {
    std::string line = out_.str();
    // Without a message, drop the ": " that would have introduced it.
    if (message_at_ == out_.tellp()) line.resize(line.size() - 2);
    // One line, so that log collectors keep the reason and the state together.
    for (char& c : line) {
      if (c == '\n') c = ' ';
    }
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
    std::abort();
  }

 private:
  std::ostringstream out_;
  std::streampos message_at_ = -1;
};

// Built only when a comparison failed: "a == b (3 vs 4)".
template <class A, class B>
[[gnu::cold, gnu::noinline]] std::unique_ptr<std::string> describe_op(const A& a, const B& b,
                                                                      const char* expr) {
  std::ostringstream out;
  out << expr << " (" << a << " vs " << b << ")";
  return std::make_unique<std::string>(out.str());
}

// Each returns nullptr when the comparison holds, else the description of the failure.
#define NODUS_CHECK_DEFINE_OP_(name, op)                                               \
  template <class A, class B>                                                          \
  inline std::unique_ptr<std::string> name(const A& a, const B& b, const char* expr) { \
    if (__builtin_expect(static_cast<bool>(a op b), 1)) return nullptr;                \
    return describe_op(a, b, expr);                                                    \
  }
NODUS_CHECK_DEFINE_OP_(check_eq, ==)
NODUS_CHECK_DEFINE_OP_(check_ne, !=)
NODUS_CHECK_DEFINE_OP_(check_lt, <)
NODUS_CHECK_DEFINE_OP_(check_le, <=)
NODUS_CHECK_DEFINE_OP_(check_gt, >)
NODUS_CHECK_DEFINE_OP_(check_ge, >=)
#undef NODUS_CHECK_DEFINE_OP_

// NODUS_CHECK_OK: anything with ok() and to_string() (nodus::Status).
template <class S>
inline std::unique_ptr<std::string> check_ok(const S& status, const char* expr) {
  if (__builtin_expect(status.ok(), 1)) return nullptr;
  return std::make_unique<std::string>(std::string(expr) + " is " + status.to_string());
}

}  // namespace nodus::check_internal

// The loop body runs at most once: the CheckFailure temporary aborts at the end of the
// statement. A `while` (rather than an `if`) keeps `if (x) NODUS_CHECK(y); else ...` unambiguous.
#define NODUS_CHECK(cond)              \
  while (__builtin_expect(!(cond), 0)) \
  ::nodus::check_internal::CheckFailure(__FILE__, __LINE__, #cond).stream()

#define NODUS_CHECK_OP_(fn, op, a, b)                                                         \
  while (auto nodus_check_failed_ = ::nodus::check_internal::fn((a), (b), #a " " #op " " #b)) \
  ::nodus::check_internal::CheckFailure(__FILE__, __LINE__, std::move(*nodus_check_failed_))  \
      .stream()

#define NODUS_CHECK_EQ(a, b) NODUS_CHECK_OP_(check_eq, ==, a, b)
#define NODUS_CHECK_NE(a, b) NODUS_CHECK_OP_(check_ne, !=, a, b)
#define NODUS_CHECK_LT(a, b) NODUS_CHECK_OP_(check_lt, <, a, b)
#define NODUS_CHECK_LE(a, b) NODUS_CHECK_OP_(check_le, <=, a, b)
#define NODUS_CHECK_GT(a, b) NODUS_CHECK_OP_(check_gt, >, a, b)
#define NODUS_CHECK_GE(a, b) NODUS_CHECK_OP_(check_ge, >=, a, b)

// Checks that a Status-returning expression is OK; prints the status on failure.
#define NODUS_CHECK_OK(expr)                                                                 \
  while (auto nodus_check_failed_ = ::nodus::check_internal::check_ok((expr), #expr))        \
  ::nodus::check_internal::CheckFailure(__FILE__, __LINE__, std::move(*nodus_check_failed_)) \
      .stream()
