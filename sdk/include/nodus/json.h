// nodus/json.h: the one JSON writer and string escaper of the repository, shared by the kernel
// (status documents, JSON logs, CLI output), the plugins (HTTP bodies) and the SDK itself
// (double-quoted YAML scalars, which accept JSON's escapes, and isolation.json). There is no
// JSON parser here; this is the one place that decides how text becomes JSON.
//
//   nodus::JsonWriter w;
//   w.begin_object().key("state").value("ready").key("pid").value(123).end_object();
//   std::string doc = w.str();  // {"state":"ready","pid":123}
//
//   std::string body = "{\"error\":" + nodus::json_quote(message) + "}";
//   nodus::append_json_quoted(line, peer_name);  // appends "..." to an existing buffer
//
// Policy, so that the output is always valid JSON (RFC 8259) and valid YAML 1.2:
//   - '"' and '\' are escaped; '\n', '\r', '\t' use their short forms;
//   - every other byte below 0x20, and DEL (0x7f), becomes \u00XX (YAML forbids raw DEL);
//   - well-formed UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF) is copied;
//   - each byte that does not start a well-formed UTF-8 sequence becomes \ufffd (U+FFFD), so
//     one bad byte in a peer name cannot make a whole log line or HTTP body unparseable.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nodus {

// Appends `s` to `out` as a quoted JSON string ("..." including the quotes).
void append_json_quoted(std::string& out, std::string_view s);

// Appends the escaped text of `s` to `out`, without the surrounding quotes.
void append_json_escaped(std::string& out, std::string_view s);

// `s` as a quoted JSON string.
std::string json_quote(std::string_view s);

// Builds one JSON document in a string, commas and escaping included. The caller keeps the
// nesting right (a key before each value inside an object, ends matching begins); a mismatch
// is a programming error and stops the process (NODUS_CHECK), because a half-built document
// must never reach a client. Non-finite doubles become null, which JSON can represent.
class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view k);
  JsonWriter& value(std::string_view v);
  JsonWriter& value(const char* v) { return value(std::string_view(v)); }
  JsonWriter& value(const std::string& v) { return value(std::string_view(v)); }
  JsonWriter& value(int64_t v);
  JsonWriter& value(uint64_t v);
  JsonWriter& value(int v) { return value(static_cast<int64_t>(v)); }
  JsonWriter& value(unsigned v) { return value(static_cast<uint64_t>(v)); }
  JsonWriter& value(double v);
  JsonWriter& value(bool v);
  JsonWriter& null();
  // Inserts `json` as one value, unchecked: for text that is already JSON (a protobuf message
  // printed as proto3 JSON, a plugin's status section).
  JsonWriter& raw(std::string_view json);
  const std::string& str() const { return out_; }
  std::string release() { return std::move(out_); }

 private:
  void separate();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

}  // namespace nodus
