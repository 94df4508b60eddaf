// Implementation of nodus/config.h: the ConfigNode tree, its conversions, YAML rendering and
// the schema check plugins rely on.
#include "nodus/config.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "duration_text.h"

namespace nodus {
namespace {

const char* kind_name(ConfigNode::Kind kind) {
  switch (kind) {
    case ConfigNode::Kind::kNull:
      return "null";
    case ConfigNode::Kind::kScalar:
      return "a scalar";
    case ConfigNode::Kind::kSequence:
      return "a list";
    case ConfigNode::Kind::kMap:
      return "a map";
  }
  return "unknown";
}

std::string child_path(const std::string& parent, std::string_view key) {
  std::string out = parent;
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

// Parses a whole string as a base-10 integer of type T; false on garbage or overflow.
template <class T>
bool parse_whole_integer(std::string_view text, T* out, bool* overflow) {
  *overflow = false;
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
    if (text.empty() || text.front() == '-') return false;  // "+-1"
  }
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  if (ec == std::errc::result_out_of_range) {
    // Only report overflow when the text was digits all the way through.
    *overflow = ptr == text.data() + text.size();
    return false;
  }
  return ec == std::errc() && ptr == text.data() + text.size();
}

// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions).
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i)
    d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j)
    d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// `null_ok`: a null key means "use the default"; a null element of a list is a mistake.
Status check_type(const ConfigNode& value, ConfigType type, bool null_ok = true) {
  if (value.is_null() && null_ok) return {};
  switch (type) {
    case ConfigType::kString:
      return value.as_string().status();
    case ConfigType::kInteger:
      return value.as_int().status();
    case ConfigType::kNumber:
      return value.as_double().status();
    case ConfigType::kBoolean:
      return value.as_bool().status();
    case ConfigType::kBytes:
      return value.as_bytes().status();
    case ConfigType::kList:
      if (value.is_sequence()) return {};
      return value.error(std::string("expected a list, got ") + kind_name(value.kind()));
    case ConfigType::kMap:
      if (value.is_map()) return {};
      return value.error(std::string("expected a map, got ") + kind_name(value.kind()));
    case ConfigType::kAny:
      return {};
    case ConfigType::kDuration:
      return value.as_duration().status();
  }
  return {};
}

bool has_range(const ConfigKeySpec& spec) {
  return spec.min.has_value() || spec.max.has_value();
}

// A bound as the operator writes it: a plain integer, or a duration with its unit.
std::string bound_text(ConfigType type, int64_t bound) {
  return type == ConfigType::kDuration ? internal::format_duration_ns(bound)
                                       : std::to_string(bound);
}

std::string range_text(ConfigType type, const ConfigKeySpec& spec) {
  if (spec.min && spec.max) {
    return "between " + bound_text(type, *spec.min) + " and " + bound_text(type, *spec.max);
  }
  if (spec.min) return "at least " + bound_text(type, *spec.min);
  if (spec.max) return "at most " + bound_text(type, *spec.max);
  return "";
}

std::string allowed_text(const std::vector<std::string>& allowed) {
  std::string out;
  for (const auto& a : allowed)
    out += (out.empty() ? "" : ", ") + a;
  return out;
}

// Type, range and allowed values of one scalar (a key's value, or one element of a list).
// `type` is what the value must be; null values mean "the default" and pass.
Status check_value(const ConfigNode& value, ConfigType type, const ConfigKeySpec& spec,
                   bool null_ok) {
  NODUS_RETURN_IF_ERROR(check_type(value, type, null_ok));
  if (value.is_null()) return {};
  if (has_range(spec) && (type == ConfigType::kInteger || type == ConfigType::kDuration)) {
    int64_t v = 0;
    if (type == ConfigType::kInteger) {
      v = value.as_int().value();  // check_type() accepted it
    } else {
      v = value.as_duration().value().count();
    }
    if ((spec.min && v < *spec.min) || (spec.max && v > *spec.max)) {
      return value.error("must be " + range_text(type, spec) + ", got " + value.scalar());
    }
  }
  if (!spec.allowed.empty() && type == ConfigType::kString) {
    const std::string& v = value.scalar();
    if (std::find(spec.allowed.begin(), spec.allowed.end(), v) == spec.allowed.end()) {
      return value.error("must be one of " + allowed_text(spec.allowed) + ", got '" + v + "'");
    }
  }
  return {};
}

// A key's value: the value itself, then every element of a list that declares their type.
Status check_key_value(const ConfigNode& value, const ConfigKeySpec& spec) {
  NODUS_RETURN_IF_ERROR(check_value(value, spec.type, spec, /*null_ok=*/true));
  if (spec.type != ConfigType::kList || spec.element_type == ConfigType::kAny) return {};
  for (const ConfigNode& item : value.items()) {
    NODUS_RETURN_IF_ERROR(check_value(item, spec.element_type, spec, /*null_ok=*/false));
  }
  return {};
}

}  // namespace

std::string SourceMark::to_string() const {
  if (line <= 0) return file;
  std::string out = file + ":" + std::to_string(line);
  if (column > 0) out += ":" + std::to_string(column);
  return out;
}

ConfigNode ConfigNode::make_null(SourceMark mark, std::string path) {
  ConfigNode n;
  n.kind_ = Kind::kNull;
  n.mark_ = std::move(mark);
  n.path_ = std::move(path);
  return n;
}

ConfigNode ConfigNode::make_scalar(std::string value, SourceMark mark, std::string path) {
  ConfigNode n = make_null(std::move(mark), std::move(path));
  n.kind_ = Kind::kScalar;
  n.scalar_ = std::move(value);
  return n;
}

ConfigNode ConfigNode::make_sequence(std::vector<ConfigNode> items, SourceMark mark,
                                     std::string path) {
  ConfigNode n = make_null(std::move(mark), std::move(path));
  n.kind_ = Kind::kSequence;
  n.items_ = std::move(items);
  return n;
}

ConfigNode ConfigNode::make_map(std::vector<Entry> entries, SourceMark mark, std::string path) {
  ConfigNode n = make_null(std::move(mark), std::move(path));
  n.kind_ = Kind::kMap;
  n.entries_ = std::move(entries);
  return n;
}

const ConfigNode* ConfigNode::find(std::string_view key) const {
  if (kind_ != Kind::kMap) return nullptr;
  for (const auto& [k, v] : entries_) {
    if (k == key) return &v;
  }
  return nullptr;
}

ConfigNode ConfigNode::at(std::string_view key) const {
  if (const ConfigNode* found = find(key)) return *found;
  return make_null(mark_, child_path(path_, key));
}

Status ConfigNode::error(std::string_view message) const {
  std::string out = mark_.to_string();
  if (!path_.empty()) {
    if (!out.empty()) out += ": ";
    out += path_;
  }
  if (!out.empty()) out += ": ";
  out += message;
  return invalid_argument(std::move(out));
}

Result<std::string> ConfigNode::as_string() const {
  if (kind_ != Kind::kScalar) {
    return error(std::string("expected a string, got ") + kind_name(kind_));
  }
  return scalar_;
}

Result<int64_t> ConfigNode::as_int() const {
  if (kind_ != Kind::kScalar) {
    return error(std::string("expected an integer, got ") + kind_name(kind_));
  }
  int64_t v = 0;
  bool overflow = false;
  if (parse_whole_integer(scalar_, &v, &overflow)) return v;
  if (overflow) return error("integer '" + scalar_ + "' is out of range");
  return error("expected an integer, got '" + scalar_ + "'");
}

Result<double> ConfigNode::as_double() const {
  if (kind_ != Kind::kScalar) {
    return error(std::string("expected a number, got ") + kind_name(kind_));
  }
  std::string_view text = scalar_;
  // YAML spells infinities and NaN with a leading dot.
  static constexpr std::array<std::pair<std::string_view, double>, 10> kSpecial = {{
      {".inf", std::numeric_limits<double>::infinity()},
      {".Inf", std::numeric_limits<double>::infinity()},
      {".INF", std::numeric_limits<double>::infinity()},
      {"+.inf", std::numeric_limits<double>::infinity()},
      {"-.inf", -std::numeric_limits<double>::infinity()},
      {"-.Inf", -std::numeric_limits<double>::infinity()},
      {"-.INF", -std::numeric_limits<double>::infinity()},
      {".nan", std::numeric_limits<double>::quiet_NaN()},
      {".NaN", std::numeric_limits<double>::quiet_NaN()},
      {".NAN", std::numeric_limits<double>::quiet_NaN()},
  }};
  for (const auto& [name, value] : kSpecial) {
    if (text == name) return value;
  }
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
    if (!text.empty() && text.front() == '-') text = {};  // "+-1" is not a number
  }
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  const bool whole = !text.empty() && ptr == text.data() + text.size();
  if (ec == std::errc::result_out_of_range && whole) {
    return error("number '" + scalar_ + "' is out of range");
  }
  if (ec != std::errc() || !whole) {
    return error("expected a number, got '" + scalar_ + "'");
  }
  return v;
}

Result<bool> ConfigNode::as_bool() const {
  if (kind_ != Kind::kScalar) {
    return error(std::string("expected a boolean, got ") + kind_name(kind_));
  }
  static constexpr std::array<std::string_view, 9> kTrue = {"true", "True", "TRUE", "yes", "Yes",
                                                            "YES",  "on",   "On",   "ON"};
  static constexpr std::array<std::string_view, 9> kFalse = {"false", "False", "FALSE", "no", "No",
                                                             "NO",    "off",   "Off",   "OFF"};
  for (auto t : kTrue) {
    if (scalar_ == t) return true;
  }
  for (auto f : kFalse) {
    if (scalar_ == f) return false;
  }
  return error("expected a boolean (true/false, yes/no, on/off), got '" + scalar_ + "'");
}

Result<uint64_t> ConfigNode::as_bytes() const {
  if (kind_ != Kind::kScalar) {
    return error(std::string("expected a size in bytes, got ") + kind_name(kind_));
  }
  static constexpr std::array<std::pair<std::string_view, uint64_t>, 9> kUnits = {{
      {"B", 1ULL},
      {"KB", 1000ULL},
      {"MB", 1000ULL * 1000},
      {"GB", 1000ULL * 1000 * 1000},
      {"TB", 1000ULL * 1000 * 1000 * 1000},
      {"KiB", 1ULL << 10},
      {"MiB", 1ULL << 20},
      {"GiB", 1ULL << 30},
      {"TiB", 1ULL << 40},
  }};
  const std::string bad = "expected a size such as 4096, 64KB or 1GiB, got '" + scalar_ + "'";
  std::string_view text = scalar_;
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
    ++digits;
  }
  if (digits == 0) return error(bad);
  std::string_view number = text.substr(0, digits);
  std::string_view unit = text.substr(digits);
  while (!unit.empty() && unit.front() == ' ')
    unit.remove_prefix(1);
  uint64_t multiplier = 1;
  if (!unit.empty()) {
    auto it =
        std::find_if(kUnits.begin(), kUnits.end(), [&](const auto& u) { return u.first == unit; });
    if (it == kUnits.end()) return error(bad);
    multiplier = it->second;
  }
  uint64_t value = 0;
  bool overflow = false;
  if (!parse_whole_integer(number, &value, &overflow)) {
    return overflow ? error("size '" + scalar_ + "' is out of range") : error(bad);
  }
  if (value > std::numeric_limits<uint64_t>::max() / multiplier) {
    return error("size '" + scalar_ + "' is out of range");
  }
  return value * multiplier;
}

Result<Duration> ConfigNode::as_duration() const {
  if (kind_ != Kind::kScalar) {
    return error(std::string("expected a duration, got ") + kind_name(kind_));
  }
  if (auto ns = internal::parse_duration_ns(scalar_)) return Duration(*ns);
  return error("expected a duration such as 250ms, 10s, 2m or 1h, got '" + scalar_ + "'");
}

namespace {
// Shared shape of the get_* helpers: fallback when absent or null, conversion otherwise.
template <class T, class Convert>
Result<T> get_with_fallback(const ConfigNode& self, std::string_view key, T fallback,
                            Convert convert) {
  if (!self.is_map() && !self.is_null()) {
    return self.error(std::string("expected a map, got ") + kind_name(self.kind()));
  }
  const ConfigNode* child = self.find(key);
  if (child == nullptr || child->is_null()) return fallback;
  return convert(*child);
}
}  // namespace

Result<std::string> ConfigNode::get_string(std::string_view key, std::string fallback) const {
  return get_with_fallback<std::string>(*this, key, std::move(fallback),
                                        [](const ConfigNode& n) { return n.as_string(); });
}

Result<int64_t> ConfigNode::get_int(std::string_view key, int64_t fallback) const {
  return get_with_fallback<int64_t>(*this, key, fallback,
                                    [](const ConfigNode& n) { return n.as_int(); });
}

Result<double> ConfigNode::get_double(std::string_view key, double fallback) const {
  return get_with_fallback<double>(*this, key, fallback,
                                   [](const ConfigNode& n) { return n.as_double(); });
}

Result<bool> ConfigNode::get_bool(std::string_view key, bool fallback) const {
  return get_with_fallback<bool>(*this, key, fallback,
                                 [](const ConfigNode& n) { return n.as_bool(); });
}

Result<uint64_t> ConfigNode::get_bytes(std::string_view key, uint64_t fallback) const {
  return get_with_fallback<uint64_t>(*this, key, fallback,
                                     [](const ConfigNode& n) { return n.as_bytes(); });
}

Result<Duration> ConfigNode::get_duration(std::string_view key, Duration fallback) const {
  return get_with_fallback<Duration>(*this, key, fallback,
                                     [](const ConfigNode& n) { return n.as_duration(); });
}

Result<const ConfigNode*> ConfigNode::find_list(std::string_view key) const {
  if (!is_map() && !is_null()) {
    return error(std::string("expected a map, got ") + kind_name(kind_));
  }
  const ConfigNode* child = find(key);
  if (child == nullptr || child->is_null()) return nullptr;
  if (!child->is_sequence()) {
    return child->error(std::string("expected a list, got ") + kind_name(child->kind()));
  }
  return child;
}

ConfigKeySpec ConfigKeySpec::list_of(ConfigType element) const {
  ConfigKeySpec out = *this;
  out.element_type = element;
  return out;
}

ConfigKeySpec ConfigKeySpec::between(int64_t lo, int64_t hi) const {
  ConfigKeySpec out = *this;
  out.min = lo;
  out.max = hi;
  return out;
}

ConfigKeySpec ConfigKeySpec::at_least(int64_t lo) const {
  ConfigKeySpec out = *this;
  out.min = lo;
  return out;
}

ConfigKeySpec ConfigKeySpec::at_most(int64_t hi) const {
  ConfigKeySpec out = *this;
  out.max = hi;
  return out;
}

ConfigKeySpec ConfigKeySpec::between(Duration lo, Duration hi) const {
  return between(static_cast<int64_t>(lo.count()), static_cast<int64_t>(hi.count()));
}

ConfigKeySpec ConfigKeySpec::at_least(Duration lo) const {
  return at_least(static_cast<int64_t>(lo.count()));
}

ConfigKeySpec ConfigKeySpec::one_of(std::vector<std::string> values) const {
  ConfigKeySpec out = *this;
  out.allowed = std::move(values);
  return out;
}

std::string config_type_label(const ConfigKeySpec& spec) {
  std::string out(config_type_name(spec.type));
  if (spec.type == ConfigType::kList && spec.element_type != ConfigType::kAny) {
    out += " of " + std::string(config_type_name(spec.element_type));
  }
  return out;
}

std::string config_constraints_text(const ConfigKeySpec& spec) {
  const ConfigType type = spec.type == ConfigType::kList ? spec.element_type : spec.type;
  std::string out = range_text(type, spec);
  if (!spec.allowed.empty()) {
    if (!out.empty()) out += "; ";
    out += "one of " + allowed_text(spec.allowed);
  }
  return out;
}

Status check_config_keys(const std::vector<ConfigKeySpec>& keys) {
  std::set<std::string_view> names;
  for (const ConfigKeySpec& spec : keys) {
    const std::string label = "config key '" + spec.name + "'";
    if (spec.name.empty()) return invalid_argument("a config key has an empty name");
    if (!names.insert(spec.name).second) return invalid_argument(label + " is declared twice");
    if (spec.element_type != ConfigType::kAny && spec.type != ConfigType::kList) {
      return invalid_argument(label + ": an element type applies to a list only");
    }
    // Constraints apply to the value, or to the elements of a list.
    const ConfigType type = spec.type == ConfigType::kList ? spec.element_type : spec.type;
    if (has_range(spec) && type != ConfigType::kInteger && type != ConfigType::kDuration) {
      return invalid_argument(label + ": a range applies to an integer or a duration only, not " +
                              std::string(config_type_name(type)));
    }
    if (spec.min && spec.max && *spec.min > *spec.max) {
      return invalid_argument(label + ": min " + bound_text(type, *spec.min) + " is above max " +
                              bound_text(type, *spec.max));
    }
    if (!spec.allowed.empty() && type != ConfigType::kString) {
      return invalid_argument(label + ": allowed values apply to a string only, not " +
                              std::string(config_type_name(type)));
    }
  }
  return {};
}

std::string_view config_type_name(ConfigType type) {
  switch (type) {
    case ConfigType::kString:
      return "string";
    case ConfigType::kInteger:
      return "integer";
    case ConfigType::kNumber:
      return "number";
    case ConfigType::kBoolean:
      return "boolean";
    case ConfigType::kBytes:
      return "bytes";
    case ConfigType::kList:
      return "list";
    case ConfigType::kMap:
      return "map";
    case ConfigType::kAny:
      return "any";
    case ConfigType::kDuration:
      return "duration";
  }
  return "unknown";
}

Status validate_config(const ConfigNode& section, const std::vector<ConfigKeySpec>& keys) {
  if (!section.is_map() && !section.is_null()) {
    return section.error(std::string("expected a map, got ") + kind_name(section.kind()));
  }
  for (const auto& entry : section.entries()) {
    const std::string& key = entry.first;
    const ConfigNode& value = entry.second;
    auto spec = std::find_if(keys.begin(), keys.end(),
                             [&key](const ConfigKeySpec& s) { return s.name == key; });
    if (spec == keys.end()) {
      std::string message = "unknown key '" + key + "'";
      if (keys.empty()) {
        message += " (no keys are accepted here)";
      } else {
        message += " (known keys: ";
        const ConfigKeySpec* best = nullptr;
        size_t best_distance = 3;  // suggest only within an edit distance of 2
        for (size_t i = 0; i < keys.size(); ++i) {
          if (i > 0) message += ", ";
          message += keys[i].name;
          const size_t d = edit_distance(key, keys[i].name);
          if (d < best_distance) {
            best_distance = d;
            best = &keys[i];
          }
        }
        message += ")";
        if (best != nullptr) message += "; did you mean '" + best->name + "'?";
      }
      return value.error(message);
    }
    NODUS_RETURN_IF_ERROR(check_key_value(value, *spec));
  }
  for (const ConfigKeySpec& spec : keys) {
    if (!spec.required) continue;
    const ConfigNode* value = section.find(spec.name);
    if (value == nullptr) return section.error("missing required key '" + spec.name + "'");
    if (value->is_null()) return value->error("required key has no value");
  }
  return {};
}

}  // namespace nodus
