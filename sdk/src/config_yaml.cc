// Implementation of ConfigNode::to_yaml (nodus/config.h): block-style YAML that yaml-cpp and
// other YAML 1.2 parsers read back to the same tree.
#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

#include "nodus/config.h"
#include "nodus/json.h"

namespace nodus {
namespace {

// True when `s` can be written as a plain YAML scalar and reads back as the same string
// (and not as null). Conservative: anything unusual is quoted.
bool is_plain_safe(std::string_view s) {
  if (s.empty()) return false;
  if (s == "~" || s == "null" || s == "Null" || s == "NULL") return false;
  if (s.front() == ' ' || s.back() == ' ') return false;
  const unsigned char first = static_cast<unsigned char>(s.front());
  if (first == '-') {
    // "-1" and "-.5" are fine; "-", "- x" and "-x" are not worth the risk.
    if (s.size() < 2 || !(std::isdigit(static_cast<unsigned char>(s[1])) || s[1] == '.')) {
      return false;
    }
  } else if (!std::isalnum(first) && first != '.' && first != '/' && first != '_' && first != '(') {
    return false;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (std::isalnum(c)) continue;
    switch (c) {
      case '.':
      case '_':
      case '-':
      case '/':
      case '+':
      case '@':
      case '=':
      case '(':
      case ')':
      case '$':
      case '^':
      case '~':
      case ';':
      case '<':
      case '>':
      case ',':
      case '\'':
        continue;
      case ' ':
        // Two spaces in a row survive; " #" would start a comment.
        if (i + 1 < s.size() && s[i + 1] == '#') return false;
        continue;
      case ':':
        // "a:b" is plain; ": " and a trailing ':' would start a mapping.
        if (i + 1 == s.size() || s[i + 1] == ' ') return false;
        continue;
      default:
        return false;
    }
  }
  return true;
}

// A YAML 1.2 double-quoted scalar accepts JSON's escapes, so the JSON quoting serves here too.
std::string quote_scalar(std::string_view s) {
  if (is_plain_safe(s)) return std::string(s);
  return json_quote(s);
}

// The text after "key:" or "- " for a node that fits on the same line, or "" when the node
// needs its own block below.
std::string inline_form(const ConfigNode& node) {
  switch (node.kind()) {
    case ConfigNode::Kind::kNull:
      return "null";
    case ConfigNode::Kind::kScalar:
      return quote_scalar(node.scalar());
    case ConfigNode::Kind::kSequence:
      return node.items().empty() ? "[]" : "";
    case ConfigNode::Kind::kMap:
      return node.entries().empty() ? "{}" : "";
  }
  return "";
}

}  // namespace

// Block-style YAML. Every line of this node starts with `indent` spaces; the result ends
// with a newline. Scalars are quoted whenever a plain form could read back differently.
std::string ConfigNode::to_yaml(int indent) const {
  const std::string pad(static_cast<size_t>(std::max(indent, 0)), ' ');
  std::string inline_text = inline_form(*this);
  if (!inline_text.empty()) return pad + inline_text + "\n";
  std::string out;
  if (kind_ == Kind::kMap) {
    for (const auto& [key, value] : entries_) {
      out += pad + quote_scalar(key) + ":";
      std::string value_inline = inline_form(value);
      if (!value_inline.empty()) {
        out += " " + value_inline + "\n";
      } else {
        out += "\n" + value.to_yaml(indent + 2);
      }
    }
    return out;
  }
  for (const ConfigNode& item : items_) {
    std::string item_inline = inline_form(item);
    if (!item_inline.empty()) {
      out += pad + "- " + item_inline + "\n";
      continue;
    }
    // Render the item one level deeper, then put the dash into its first line's indent.
    std::string block = item.to_yaml(indent + 2);
    block.replace(0, pad.size() + 2, pad + "- ");
    out += block;
  }
  return out;
}

}  // namespace nodus
