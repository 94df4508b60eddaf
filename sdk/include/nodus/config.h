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
// unknown keys, wrong types and values outside a key's declared constraints (element type of a
// list, integer or duration range, allowed strings) before configure() runs, so a typo never
// passes silently:
//
//   using T = ConfigType;
//   d.config = {
//       ConfigKeySpec{"workers", T::kInteger, false, "4", "Worker threads"}.between(1, 64),
//       ConfigKeySpec{"mode", T::kString, false, "fast", "How"}.one_of({"fast", "safe"}),
//       ConfigKeySpec{"timeout", T::kDuration, false, "5s", "Per request"}
//           .between(std::chrono::milliseconds(10), std::chrono::hours(1)),
//       ConfigKeySpec{"ports", T::kList, false, "[]", "Where to listen"}
//           .list_of(T::kInteger)
//           .between(1, 65535),
//   };
//   ...
//   NODUS_ASSIGN_OR_RETURN(std::vector<int64_t> ports, config.get_list<int64_t>("ports"));
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "nodus/services/clock.h"
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
  // Durations with a unit: 250ms, 10s, 2m, 1h (a bare number is refused: its unit would be a
  // guess).
  Result<Duration> as_duration() const;
  // One of the conversions above by type: std::string, int64_t, double, bool or Duration.
  template <class T>
  Result<T> as() const;

  // Typed map lookups with a default for absent keys.
  Result<std::string> get_string(std::string_view key, std::string fallback) const;
  Result<int64_t> get_int(std::string_view key, int64_t fallback) const;
  Result<double> get_double(std::string_view key, double fallback) const;
  Result<bool> get_bool(std::string_view key, bool fallback) const;
  Result<uint64_t> get_bytes(std::string_view key, uint64_t fallback) const;
  Result<Duration> get_duration(std::string_view key, Duration fallback) const;
  // A list of T (std::string, int64_t, double, bool or Duration); `fallback` when the key is
  // absent or null. An element of another type is an error naming it ("key[2]: expected an
  // integer, got 'x'"). The declared constraints were checked before configure() ran.
  template <class T>
  Result<std::vector<T>> get_list(std::string_view key, std::vector<T> fallback = {}) const;

  // INVALID_ARGUMENT "FILE:LINE:COL: path: message".
  Status error(std::string_view message) const;

  // Renders the subtree as block-style YAML that parses back to the same tree
  // (for `nodus config render`).
  std::string to_yaml(int indent = 0) const;

 private:
  // The list under `key`: nullptr when absent or null, an error when it is not a list.
  Result<const ConfigNode*> find_list(std::string_view key) const;

  Kind kind_ = Kind::kNull;
  SourceMark mark_;
  std::string path_;
  std::string scalar_;
  std::vector<ConfigNode> items_;
  std::vector<Entry> entries_;
};

// The value types a plugin's config key may declare. kDuration was added in SDK v2 (at the end,
// so that the values before it keep their numbers).
enum class ConfigType {
  kString,
  kInteger,
  kNumber,
  kBoolean,
  kBytes,
  kList,
  kMap,
  kAny,
  kDuration
};

std::string_view config_type_name(ConfigType type);

struct ConfigKeySpec {
  std::string name;
  ConfigType type = ConfigType::kString;
  bool required = false;
  std::string default_value;  // as text, for documentation and `plugins inspect`
  std::string description;

  // Constraints (SDK v2), checked by the kernel before configure() runs. Each applies to the
  // value, or, for a kList with an element type, to every element. Set them with the helpers
  // below. They have initializers so that the five-field form above still compiles cleanly.
  ConfigType element_type = ConfigType::kAny;  // kList: what every element must be
  // kInteger: the smallest and largest value accepted; kDuration: the same in nanoseconds.
  std::optional<int64_t> min = std::nullopt;
  std::optional<int64_t> max = std::nullopt;
  std::vector<std::string> allowed = {};  // kString: the only values accepted, in this order

  // Copies of this spec with a constraint added, for use in a descriptor's initializer list.
  [[nodiscard]] ConfigKeySpec list_of(ConfigType element) const;
  [[nodiscard]] ConfigKeySpec between(int64_t lo, int64_t hi) const;
  [[nodiscard]] ConfigKeySpec at_least(int64_t lo) const;
  [[nodiscard]] ConfigKeySpec at_most(int64_t hi) const;
  [[nodiscard]] ConfigKeySpec between(Duration lo, Duration hi) const;
  [[nodiscard]] ConfigKeySpec at_least(Duration lo) const;
  [[nodiscard]] ConfigKeySpec one_of(std::vector<std::string> values) const;
};

// "integer", or "list of integer" for a list with an element type.
std::string config_type_label(const ConfigKeySpec& spec);
// The constraints in words, for `plugins inspect` and the plugin catalogue: "between 1 and 64",
// "at least 10ms", "one of read_index, lease"; "" when the key has none.
std::string config_constraints_text(const ConfigKeySpec& spec);

// Checks the declared keys themselves: names unique and non-empty, constraints that fit the
// type (a range on an integer or duration, allowed values on a string, an element type on a
// list) and min <= max. The kernel refuses a plugin whose descriptor fails this.
Status check_config_keys(const std::vector<ConfigKeySpec>& keys);

// Checks a plugin's section against its declared keys: unknown keys, wrong types, values
// outside the declared constraints and missing required keys. Returns the first error, which
// names the value's position and key ("FILE:LINE:COL: plugins[1].config.mode: must be one of
// fast, safe, got 'quick'"). A null section counts as an empty map.
Status validate_config(const ConfigNode& section, const std::vector<ConfigKeySpec>& keys);

template <class T>
Result<T> ConfigNode::as() const {
  if constexpr (std::is_same_v<T, std::string>) {
    return as_string();
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return as_int();
  } else if constexpr (std::is_same_v<T, double>) {
    return as_double();
  } else if constexpr (std::is_same_v<T, bool>) {
    return as_bool();
  } else if constexpr (std::is_same_v<T, Duration>) {
    return as_duration();
  } else {
    static_assert(sizeof(T) == 0,
                  "ConfigNode::as<T>: T is std::string, int64_t, double, bool "
                  "or nodus::Duration");
  }
}

template <class T>
Result<std::vector<T>> ConfigNode::get_list(std::string_view key, std::vector<T> fallback) const {
  NODUS_ASSIGN_OR_RETURN(const ConfigNode* list, find_list(key));
  if (list == nullptr) return fallback;
  std::vector<T> out;
  out.reserve(list->items().size());
  for (const ConfigNode& item : list->items()) {
    NODUS_ASSIGN_OR_RETURN(T value, item.as<T>());
    out.push_back(std::move(value));
  }
  return out;
}

}  // namespace nodus
