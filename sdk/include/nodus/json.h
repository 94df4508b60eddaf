// nodus/json.h: JSON string escaping, shared by the kernel (status documents, JSON logs), the
// plugins (HTTP bodies) and the SDK itself (double-quoted YAML scalars, which accept JSON's
// escapes). There is no JSON parser here; this is the one place that decides how text becomes
// a JSON string literal.
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

#include <string>
#include <string_view>

namespace nodus {

// Appends `s` to `out` as a quoted JSON string ("..." including the quotes).
void append_json_quoted(std::string& out, std::string_view s);

// Appends the escaped text of `s` to `out`, without the surrounding quotes.
void append_json_escaped(std::string& out, std::string_view s);

// `s` as a quoted JSON string.
std::string json_quote(std::string_view s);

}  // namespace nodus
