// nodus/config.h: the configuration tree a plugin receives, and the schema it declares.
//
// The kernel parses the profile (YAML) into an immutable ConfigNode tree in which every node
// remembers where it came from (file, line, column) and its key path ("plugins[1].config.x").
// A plugin reads its own section and reports problems with ConfigNode::error(), which yields
// the standard one-line form `FILE:LINE:COL: key.path: message`.
//
//   Status MyPlugin::configure(const nodus::ConfigNode& config) {
//     NODUS_ASSIGN_OR_RETURN(interval_ms_, config.get_int("interval_ms", 1000));
//     if (interval_ms_ <= 0) return config.at("interval_ms").error("must be positive");
//     return {};
//   }
//
// Plugins also declare their keys (ConfigKeySpec) in their descriptor; the kernel rejects
// unknown keys and wrong types before configure() runs, so a typo never passes silently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nodus/status.h"

namespace nodus {

// Where a configuration value was written. Line and column are 1-based; 0 means unknown
// (for values that came from the environment or the command line, `file` names that source).
struct SourceMark {
  std::string file;
  int line = 0;
  int column = 0;

  std::string to_string() const;  // "file:line:col" (or just "file" when line is unknown)
};

class ConfigNode {
 public:
  enum class Kind { kNull, kScalar, kSequence, kMap };
  using Entry = std::pair<std::string, ConfigNode>;

  ConfigNode() = default;  // a null node with no position

  static ConfigNode make_null(SourceMark mark, std::string path);
  static ConfigNode make_scalar(std::string value, SourceMark mark, std::string path);
  static ConfigNode make_sequence(std::vector<ConfigNode> items, SourceMark mark, std::string path);
  static ConfigNode make_map(std::vector<Entry> entries, SourceMark mark, std::string path);

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_scalar() const { return kind_ == Kind::kScalar; }
  bool is_sequence() const { return kind_ == Kind::kSequence; }
  bool is_map() const { return kind_ == Kind::kMap; }
  const SourceMark& mark() const { return mark_; }
  const std::string& path() const { return path_; }

  // Raw scalar text ("" for non-scalars).
  const std::string& scalar() const { return scalar_; }
  const std::vector<ConfigNode>& items() const { return items_; }
  const std::vector<Entry>& entries() const { return entries_; }

  // Map lookup; nullptr when absent or when this is not a map.
  const ConfigNode* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Map lookup by value: a copy of the child, or a null node positioned at this node (with the
  // child's path) when absent, so that at("key").error(...) always names the key.
  ConfigNode at(std::string_view key) const;

  // Scalar conversions. Errors name this node's position and path.
  Result<std::string> as_string() const;
  Result<int64_t> as_int() const;
  Result<double> as_double() const;
  Result<bool> as_bool() const;
  // Sizes such as 1GiB, 512MiB, 64KB, 4096 (plain bytes).
  Result<uint64_t> as_bytes() const;

  // Typed map lookups with a default for absent keys.
  Result<std::string> get_string(std::string_view key, std::string fallback) const;
  Result<int64_t> get_int(std::string_view key, int64_t fallback) const;
  Result<double> get_double(std::string_view key, double fallback) const;
  Result<bool> get_bool(std::string_view key, bool fallback) const;
  Result<uint64_t> get_bytes(std::string_view key, uint64_t fallback) const;

  // INVALID_ARGUMENT "FILE:LINE:COL: path: message".
  Status error(std::string_view message) const;

  // Renders the subtree as block-style YAML that parses back to the same tree
  // (for `nodus config render`).
  std::string to_yaml(int indent = 0) const;

 private:
  Kind kind_ = Kind::kNull;
  SourceMark mark_;
  std::string path_;
  std::string scalar_;
  std::vector<ConfigNode> items_;
  std::vector<Entry> entries_;
};

// The value types a plugin's config key may declare.
enum class ConfigType { kString, kInteger, kNumber, kBoolean, kBytes, kList, kMap, kAny };

std::string_view config_type_name(ConfigType type);

struct ConfigKeySpec {
  std::string name;
  ConfigType type = ConfigType::kString;
  bool required = false;
  std::string default_value;  // as text, for documentation and `plugins inspect`
  std::string description;
};

// Checks a plugin's section against its declared keys: unknown keys, wrong scalar types and
// missing required keys. Returns the first error. A null section counts as an empty map.
Status validate_config(const ConfigNode& section, const std::vector<ConfigKeySpec>& keys);

}  // namespace nodus
