// nodus/status.h: the error model used at every nodus boundary.
//
// A Status carries a code (numerically identical to gRPC's status codes, so it maps 1:1 onto
// the wire) and a human-readable message. Result<T> holds either a value or a non-OK Status.
// No exception crosses the plugin boundary: plugins return these instead.
//
//   nodus::Result<int> parse_port(std::string_view s) {
//     int v = 0;
//     if (!absl_like_parse(s, &v)) return nodus::invalid_argument("port: not a number");
//     return v;
//   }
//   auto port = parse_port("9003");
//   if (!port.ok()) log.error(port.status().to_string());
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "nodus/check.h"

namespace nodus {

// Same numbers as grpc::StatusCode / google.rpc.Code.
enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

constexpr std::string_view status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kCancelled:
      return "CANCELLED";
    case StatusCode::kUnknown:
      return "UNKNOWN";
    case StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case StatusCode::kNotFound:
      return "NOT_FOUND";
    case StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case StatusCode::kAborted:
      return "ABORTED";
    case StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case StatusCode::kUnimplemented:
      return "UNIMPLEMENTED";
    case StatusCode::kInternal:
      return "INTERNAL";
    case StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case StatusCode::kDataLoss:
      return "DATA_LOSS";
    case StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
  }
  return "UNKNOWN";
}

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "INVALID_ARGUMENT: election_timeout_ms: must be positive"
  std::string to_string() const {
    if (ok()) return "OK";
    std::string out(status_code_name(code_));
    out += ": ";
    out += message_;
    return out;
  }

  // Returns a copy whose message is "prefix: message"; the code is kept.
  Status with_context(std::string_view prefix) const {
    if (ok()) return *this;
    std::string msg(prefix);
    msg += ": ";
    msg += message_;
    return {code_, std::move(msg)};
  }

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status ok_status() {
  return {};
}
inline Status cancelled(std::string m) {
  return {StatusCode::kCancelled, std::move(m)};
}
inline Status unknown_error(std::string m) {
  return {StatusCode::kUnknown, std::move(m)};
}
inline Status invalid_argument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status deadline_exceeded(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status not_found(std::string m) {
  return {StatusCode::kNotFound, std::move(m)};
}
inline Status already_exists(std::string m) {
  return {StatusCode::kAlreadyExists, std::move(m)};
}
inline Status permission_denied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status resource_exhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status failed_precondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status aborted(std::string m) {
  return {StatusCode::kAborted, std::move(m)};
}
inline Status out_of_range(std::string m) {
  return {StatusCode::kOutOfRange, std::move(m)};
}
inline Status unimplemented(std::string m) {
  return {StatusCode::kUnimplemented, std::move(m)};
}
inline Status internal_error(std::string m) {
  return {StatusCode::kInternal, std::move(m)};
}
inline Status unavailable(std::string m) {
  return {StatusCode::kUnavailable, std::move(m)};
}
inline Status data_loss(std::string m) {
  return {StatusCode::kDataLoss, std::move(m)};
}

// Result<T>: a T or a non-OK Status. Constructing a Result from an OK Status, and taking the
// value of a Result that holds an error, are bugs of the caller: they stop the process (with
// the error) in every build type rather than hand out a value that does not exist.
template <class T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::decay_t<T>, Status>, "Result<Status> is meaningless");

 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  // NOLINTNEXTLINE(google-explicit-constructor)
  Result(Status status) : status_(checked_error(std::move(status))) {}

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    check_value();
    return *value_;
  }
  const T& value() const& {
    check_value();
    return *value_;
  }
  T&& value() && {
    check_value();
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  template <class U>
  T value_or(U&& fallback) const& {
    return ok() ? *value_ : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  // The checks are out of line: inlined into the construction of a Result, they lead GCC 12
  // into -Wmaybe-uninitialized false positives when an empty optional is moved.
  void check_value() const {
    if (!ok()) [[unlikely]]
      fail_value(status_);
  }
  [[noreturn, gnu::cold, gnu::noinline]] static void fail_value(const Status& status) {
    NODUS_CHECK(false) << "value() of a Result that holds an error: " << status.to_string();
    std::abort();
  }
  // Errors are the cold path, so the call this costs does not matter.
  [[gnu::noinline]] static Status checked_error(Status status) {
    NODUS_CHECK(!status.ok()) << "an OK status without a value would leave the Result empty";
    return status;
  }

  std::optional<T> value_;
  Status status_;
};

}  // namespace nodus

// Early-return helpers for functions that return Status or Result<T>.
#define NODUS_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::nodus::Status nodus_status_ = (expr);        \
    if (!nodus_status_.ok()) return nodus_status_; \
  } while (false)
// NOLINTBEGIN(bugprone-macro-parentheses): why is said after these macros.
#define NODUS_CONCAT_INNER_(a, b) a##b
#define NODUS_CONCAT_(a, b) NODUS_CONCAT_INNER_(a, b)
#define NODUS_ASSIGN_OR_RETURN(lhs, expr) \
  NODUS_ASSIGN_OR_RETURN_IMPL_(NODUS_CONCAT_(nodus_result_, __LINE__), lhs, expr)
#define NODUS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses): `lhs` may be a declaration (`auto x`) and `tmp` is
// a name that NODUS_CONCAT_ makes; neither may stand in parentheses.
