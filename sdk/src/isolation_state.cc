#include "nodus/isolation_state.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>
#include <system_error>
#include <vector>

#include "nodus/json.h"

namespace nodus {
namespace {

// A JSON value of the shapes this format uses: strings, integers and one level of object.
// Other JSON (arrays, fractions, true/false/null) parses too, so that a key added in a later
// version of the format does not make an older reader fail; only its text is kept.
struct Field;
struct Value {
  enum class Kind { kString, kNumber, kObject, kOther } kind = Kind::kOther;
  std::string text;           // kString: unescaped; kNumber: as written
  std::vector<Field> fields;  // kObject
};
// Not std::pair: a pair needs a complete Value, which clang (the fuzz preset) enforces here.
struct Field {
  std::string key;
  Value value;
};

class Parser {
 public:
  Parser(std::string_view json, std::string_view file) : json_(json), file_(file) {}

  Result<Value> document() {
    NODUS_ASSIGN_OR_RETURN(Value v, value(0));
    skip_space();
    if (at_ < json_.size()) return error("unexpected text after the object");
    if (v.kind != Value::Kind::kObject) return error("expected one JSON object", 0);
    return v;
  }

 private:
  // Deep nesting is not part of the format; the bound keeps a hostile file from exhausting the
  // stack.
  static constexpr int kDepthMax = 16;

  Status error(std::string_view what) const { return error(what, at_); }
  Status error(std::string_view what, size_t byte) const {
    return invalid_argument(std::string(file_) + ": not valid JSON at byte " +
                            std::to_string(byte) + ": " + std::string(what));
  }

  void skip_space() {
    while (at_ < json_.size() &&
           (json_[at_] == ' ' || json_[at_] == '\t' || json_[at_] == '\r' || json_[at_] == '\n'))
      ++at_;
  }

  bool eat(char c) {
    skip_space();
    if (at_ < json_.size() && json_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }

  Result<Value> value(int depth) {
    if (depth > kDepthMax) return error("nested too deeply");
    skip_space();
    if (at_ >= json_.size()) return error("unexpected end");
    const char c = json_[at_];
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"') {
      Value v;
      v.kind = Value::Kind::kString;
      NODUS_ASSIGN_OR_RETURN(v.text, string());
      return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    for (std::string_view word : {"true", "false", "null"}) {
      if (json_.substr(at_, word.size()) == word) {
        at_ += word.size();
        Value v;
        v.text = std::string(word);
        return v;
      }
    }
    return error("unexpected character");
  }

  Result<Value> object(int depth) {
    ++at_;  // '{'
    Value v;
    v.kind = Value::Kind::kObject;
    if (eat('}')) return v;
    do {
      skip_space();
      if (at_ >= json_.size() || json_[at_] != '"') return error("expected a key");
      NODUS_ASSIGN_OR_RETURN(std::string key, string());
      if (!eat(':')) return error("expected ':'");
      NODUS_ASSIGN_OR_RETURN(Value field, value(depth + 1));
      v.fields.push_back(Field{std::move(key), std::move(field)});
    } while (eat(','));
    if (!eat('}')) return error("expected ',' or '}'");
    return v;
  }

  Result<Value> array(int depth) {
    ++at_;  // '['
    if (eat(']')) return Value{};
    do {
      NODUS_RETURN_IF_ERROR(value(depth + 1).status());
    } while (eat(','));
    if (!eat(']')) return error("expected ',' or ']'");
    return Value{};
  }

  Result<Value> number() {
    const size_t start = at_;
    if (json_[at_] == '-') ++at_;
    // The characters a JSON number may hold; as_integer() checks the whole text later.
    while (at_ < json_.size() &&
           std::string_view("0123456789.eE+-").find(json_[at_]) != std::string_view::npos)
      ++at_;
    Value v;
    v.kind = Value::Kind::kNumber;
    v.text = std::string(json_.substr(start, at_ - start));
    return v;
  }

  Result<std::string> string() {
    ++at_;  // '"'
    std::string out;
    while (at_ < json_.size()) {
      const char c = json_[at_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) return error("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_ >= json_.size()) break;
      const char e = json_[at_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          NODUS_ASSIGN_OR_RETURN(uint32_t code, hex4());
          if (code >= 0xd800 && code <= 0xdbff) {
            // A surrogate pair: the low half must follow.
            if (json_.substr(at_, 2) != "\\u") return error("unpaired surrogate");
            at_ += 2;
            NODUS_ASSIGN_OR_RETURN(uint32_t low, hex4());
            if (low < 0xdc00 || low > 0xdfff) return error("unpaired surrogate");
            code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
          } else if (code >= 0xdc00 && code <= 0xdfff) {
            return error("unpaired surrogate");
          }
          append_utf8(out, code);
          break;
        }
        default:
          return error("unknown escape");
      }
    }
    return error("unterminated string");
  }

  Result<uint32_t> hex4() {
    if (at_ + 4 > json_.size()) return error("short \\u escape");
    uint32_t code = 0;
    const auto [end, ec] = std::from_chars(json_.data() + at_, json_.data() + at_ + 4, code, 16);
    if (ec != std::errc() || end != json_.data() + at_ + 4) return error("bad \\u escape");
    at_ += 4;
    return code;
  }

  static void append_utf8(std::string& out, uint32_t code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xc0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3f));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xe0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (code & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (code & 0x3f));
    }
  }

  std::string_view json_;
  std::string_view file_;
  size_t at_ = 0;
};

Status key_error(std::string_view file, std::string_view key, std::string_view what) {
  return invalid_argument(std::string(file) + ": key '" + std::string(key) +
                          "': " + std::string(what));
}

Result<std::string> as_string(const Value& v, std::string_view file, std::string_view key) {
  if (v.kind != Value::Kind::kString) return key_error(file, key, "expected a string");
  return v.text;
}

template <class Int>
Result<Int> as_integer(const Value& v, std::string_view file, std::string_view key) {
  Int out{};
  const char* end = v.text.data() + v.text.size();
  if (v.kind != Value::Kind::kNumber) return key_error(file, key, "expected an integer");
  const auto [ptr, ec] = std::from_chars(v.text.data(), end, out);
  if (ec != std::errc() || ptr != end) {
    return key_error(file, key, "'" + v.text + "' is not an integer in range");
  }
  return out;
}

}  // namespace

std::string serialize_isolation_state(const IsolationState& state) {
  std::string out = "{\"version\":" + std::to_string(state.version) +
                    ",\"pid\":" + std::to_string(state.pid) + ",\"node\":";
  append_json_quoted(out, state.node);
  out += ",\"mode\":";
  append_json_quoted(out, state.mode);
  out += ",\"driver\":";
  append_json_quoted(out, state.driver);
  out += ",\"cpus_granted\":";
  append_json_quoted(out, state.cpus_granted);
  out += ",\"cgroups\":{";
  bool first = true;
  for (const auto& [controller, dir] : state.cgroups) {
    if (!first) out += ',';
    first = false;
    append_json_quoted(out, controller);
    out += ':';
    append_json_quoted(out, dir);
  }
  out += "},\"oom_events_file\":";
  append_json_quoted(out, state.oom_events_file);
  out += ",\"oom_kills_at_start\":" + std::to_string(state.oom_kills_at_start) + "}\n";
  return out;
}

Result<IsolationState> parse_isolation_state(std::string_view json, std::string_view file) {
  NODUS_ASSIGN_OR_RETURN(Value doc, Parser(json, file).document());
  IsolationState s;
  s.version = 1;  // a file from before the key existed
  bool has_pid = false;
  for (const auto& [key, v] : doc.fields) {
    if (key == "version") {
      NODUS_ASSIGN_OR_RETURN(s.version, as_integer<uint32_t>(v, file, key));
      if (s.version == 0 || s.version > kIsolationStateVersion) {
        return key_error(file, key,
                         "version " + std::to_string(s.version) +
                             " is not one this build reads (1 to " +
                             std::to_string(kIsolationStateVersion) + ")");
      }
    } else if (key == "pid") {
      NODUS_ASSIGN_OR_RETURN(s.pid, as_integer<int64_t>(v, file, key));
      if (s.pid <= 0) return key_error(file, key, "must be a positive process id");
      has_pid = true;
    } else if (key == "node") {
      NODUS_ASSIGN_OR_RETURN(s.node, as_string(v, file, key));
    } else if (key == "mode") {
      NODUS_ASSIGN_OR_RETURN(s.mode, as_string(v, file, key));
    } else if (key == "driver") {
      NODUS_ASSIGN_OR_RETURN(s.driver, as_string(v, file, key));
    } else if (key == "cpus_granted") {
      NODUS_ASSIGN_OR_RETURN(s.cpus_granted, as_string(v, file, key));
    } else if (key == "oom_events_file") {
      NODUS_ASSIGN_OR_RETURN(s.oom_events_file, as_string(v, file, key));
    } else if (key == "oom_kills_at_start") {
      NODUS_ASSIGN_OR_RETURN(s.oom_kills_at_start, as_integer<uint64_t>(v, file, key));
    } else if (key == "cgroups") {
      if (v.kind != Value::Kind::kObject) {
        return key_error(file, key, "expected an object of controller: directory");
      }
      for (const auto& [controller, dir] : v.fields) {
        NODUS_ASSIGN_OR_RETURN(s.cgroups[controller],
                               as_string(dir, file, "cgroups." + controller));
      }
    }
    // Any other key was added by a later writer of the same version: ignored on purpose.
  }
  if (!has_pid) return key_error(file, "pid", "missing");
  return s;
}

Result<IsolationState> read_isolation_state(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    const int err = errno;
    if (err == ENOENT) return not_found(file.string() + ": no isolation state file");
    return unavailable(file.string() + ": cannot read: " + std::system_category().message(err));
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_isolation_state(text.str(), file.string());
}

}  // namespace nodus
