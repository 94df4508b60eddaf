// Unit tests of nodus/config.h: ConfigNode conversions, errors, rendering and validate_config.
#include "nodus/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>

namespace nodus {
namespace {

SourceMark at(int line, int column) {
  return SourceMark{"t.yaml", line, column};
}

ConfigNode scalar(std::string value, std::string path = "k") {
  return ConfigNode::make_scalar(std::move(value), at(3, 7), std::move(path));
}

// A map like {interval_ms: 1000, timeout_ms: 500, name: x}, each value at its own line.
ConfigNode sample_map() {
  std::vector<ConfigNode::Entry> entries;
  entries.emplace_back("interval_ms", ConfigNode::make_scalar("1000", at(2, 3), "p.interval_ms"));
  entries.emplace_back("timeout_ms", ConfigNode::make_scalar("500", at(3, 3), "p.timeout_ms"));
  entries.emplace_back("name", ConfigNode::make_scalar("x", at(4, 3), "p.name"));
  entries.emplace_back("empty", ConfigNode::make_null(at(5, 3), "p.empty"));
  return ConfigNode::make_map(std::move(entries), at(1, 1), "p");
}

// SourceMark renders as file:line:col, or just the file when the line is unknown.
TEST(SourceMarkTest, ToString) {
  EXPECT_EQ(at(3, 7).to_string(), "t.yaml:3:7");
  EXPECT_EQ((SourceMark{"NODUS_INSTANCES", 0, 0}).to_string(), "NODUS_INSTANCES");
}

// error() yields INVALID_ARGUMENT "FILE:LINE:COL: path: message".
TEST(ConfigNodeTest, ErrorFormat) {
  Status s = scalar("x", "ports.base").error("must be positive");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "t.yaml:3:7: ports.base: must be positive");
  EXPECT_EQ(ConfigNode::make_null(at(1, 1), "").error("oops").message(), "t.yaml:1:1: oops");
}

// find/at/has look up map keys; at() of an absent key is a null node positioned at the map.
TEST(ConfigNodeTest, FindAndAt) {
  ConfigNode m = sample_map();
  ASSERT_NE(m.find("timeout_ms"), nullptr);
  EXPECT_EQ(m.find("timeout_ms")->scalar(), "500");
  EXPECT_EQ(m.find("nope"), nullptr);
  EXPECT_TRUE(m.has("name"));
  const ConfigNode& absent = m.at("nope");
  EXPECT_TRUE(absent.is_null());
  EXPECT_EQ(absent.path(), "p.nope");
  EXPECT_EQ(absent.error("required").message(), "t.yaml:1:1: p.nope: required");
  EXPECT_EQ(scalar("1").find("x"), nullptr);
}

// as_int accepts signed decimal integers and rejects garbage and overflow.
TEST(ConfigNodeTest, AsInt) {
  EXPECT_EQ(*scalar("42").as_int(), 42);
  EXPECT_EQ(*scalar("-7").as_int(), -7);
  EXPECT_EQ(*scalar("+7").as_int(), 7);
  EXPECT_EQ(*scalar("9223372036854775807").as_int(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(scalar("12abc").as_int().status().message(),
            "t.yaml:3:7: k: expected an integer, got '12abc'");
  EXPECT_EQ(scalar("9223372036854775808").as_int().status().message(),
            "t.yaml:3:7: k: integer '9223372036854775808' is out of range");
  EXPECT_FALSE(scalar("").as_int().ok());
  EXPECT_FALSE(scalar("1.5").as_int().ok());
  EXPECT_FALSE(scalar("+-1").as_int().ok());
  EXPECT_EQ(sample_map().as_int().status().message(),
            "t.yaml:1:1: p: expected an integer, got a map");
}

// as_double accepts decimal and exponent forms and YAML's .inf/.nan.
TEST(ConfigNodeTest, AsDouble) {
  EXPECT_DOUBLE_EQ(*scalar("1.5").as_double(), 1.5);
  EXPECT_DOUBLE_EQ(*scalar("-2e3").as_double(), -2000);
  EXPECT_DOUBLE_EQ(*scalar("7").as_double(), 7);
  EXPECT_FALSE(scalar("+-1").as_double().ok());
  EXPECT_TRUE(std::isinf(*scalar(".inf").as_double()));
  EXPECT_TRUE(std::isnan(*scalar(".nan").as_double()));
  EXPECT_EQ(scalar("1.5x").as_double().status().message(),
            "t.yaml:3:7: k: expected a number, got '1.5x'");
  EXPECT_EQ(scalar("1e999").as_double().status().message(),
            "t.yaml:3:7: k: number '1e999' is out of range");
}

// as_bool accepts true/false, yes/no and on/off only.
TEST(ConfigNodeTest, AsBool) {
  for (const char* t : {"true", "yes", "on", "True", "ON"})
    EXPECT_TRUE(*scalar(t).as_bool()) << t;
  for (const char* f : {"false", "no", "off", "False", "NO"}) {
    EXPECT_FALSE(*scalar(f).as_bool()) << f;
  }
  EXPECT_EQ(scalar("1").as_bool().status().message(),
            "t.yaml:3:7: k: expected a boolean (true/false, yes/no, on/off), got '1'");
}

// as_bytes accepts plain integers and the decimal and binary suffixes, case-sensitively.
TEST(ConfigNodeTest, AsBytes) {
  EXPECT_EQ(*scalar("4096").as_bytes(), 4096u);
  EXPECT_EQ(*scalar("10B").as_bytes(), 10u);
  EXPECT_EQ(*scalar("64KB").as_bytes(), 64'000u);
  EXPECT_EQ(*scalar("3MB").as_bytes(), 3'000'000u);
  EXPECT_EQ(*scalar("2GB").as_bytes(), 2'000'000'000u);
  EXPECT_EQ(*scalar("1TB").as_bytes(), 1'000'000'000'000u);
  EXPECT_EQ(*scalar("1KiB").as_bytes(), 1024u);
  EXPECT_EQ(*scalar("512MiB").as_bytes(), 512u << 20);
  EXPECT_EQ(*scalar("1GiB").as_bytes(), 1u << 30);
  EXPECT_EQ(*scalar("2TiB").as_bytes(), 2ULL << 40);
  EXPECT_EQ(*scalar("1 GiB").as_bytes(), 1u << 30);
  EXPECT_EQ(scalar("1gib").as_bytes().status().message(),
            "t.yaml:3:7: k: expected a size such as 4096, 64KB or 1GiB, got '1gib'");
  EXPECT_FALSE(scalar("-1").as_bytes().ok());
  EXPECT_FALSE(scalar("GiB").as_bytes().ok());
  EXPECT_FALSE(scalar("1.5GiB").as_bytes().ok());
  EXPECT_EQ(scalar("20000000TiB").as_bytes().status().message(),
            "t.yaml:3:7: k: size '20000000TiB' is out of range");
}

// as_string accepts any scalar and rejects collections.
TEST(ConfigNodeTest, AsString) {
  EXPECT_EQ(*scalar("hello").as_string(), "hello");
  EXPECT_EQ(ConfigNode::make_sequence({}, at(9, 2), "l").as_string().status().message(),
            "t.yaml:9:2: l: expected a string, got a list");
}

// get_* return the fallback for absent or null keys and the value's own error otherwise.
TEST(ConfigNodeTest, GetHelpers) {
  ConfigNode m = sample_map();
  EXPECT_EQ(*m.get_int("interval_ms", 7), 1000);
  EXPECT_EQ(*m.get_int("missing", 7), 7);
  EXPECT_EQ(*m.get_int("empty", 7), 7);
  EXPECT_EQ(m.get_int("name", 7).status().message(),
            "t.yaml:4:3: p.name: expected an integer, got 'x'");
  EXPECT_EQ(*m.get_string("name", "d"), "x");
  EXPECT_EQ(*m.get_bool("missing", true), true);
  EXPECT_DOUBLE_EQ(*m.get_double("timeout_ms", 0), 500.0);
  EXPECT_EQ(*m.get_bytes("missing", 5), 5u);
  EXPECT_EQ(*ConfigNode().get_int("x", 3), 3);  // a null section behaves as empty
  EXPECT_FALSE(scalar("1").get_int("x", 3).ok());
}

// to_yaml renders block YAML and quotes scalars that would otherwise read back differently.
TEST(ConfigNodeTest, ToYaml) {
  std::vector<ConfigNode::Entry> inner;
  inner.emplace_back("a", scalar("1"));
  inner.emplace_back("b", scalar("x: y"));
  std::vector<ConfigNode> items;
  items.push_back(scalar("null"));
  items.push_back(ConfigNode::make_map(std::move(inner), at(1, 1), ""));
  items.push_back(ConfigNode::make_sequence({scalar("p"), scalar("")}, at(1, 1), ""));
  std::vector<ConfigNode::Entry> top;
  top.emplace_back("list", ConfigNode::make_sequence(std::move(items), at(1, 1), ""));
  top.emplace_back("empty_map", ConfigNode::make_map({}, at(1, 1), ""));
  top.emplace_back("none", ConfigNode::make_null(at(1, 1), ""));
  top.emplace_back("neg", scalar("-1"));
  top.emplace_back("tab", scalar("a\tb\"c"));
  EXPECT_EQ(ConfigNode::make_map(std::move(top), at(1, 1), "").to_yaml(),
            "list:\n"
            "  - \"null\"\n"
            "  - a: 1\n"
            "    b: \"x: y\"\n"
            "  - - p\n"
            "    - \"\"\n"
            "empty_map: {}\n"
            "none: null\n"
            "neg: -1\n"
            "tab: \"a\\tb\\\"c\"\n");
  EXPECT_EQ(scalar("#x").to_yaml(2), "  \"#x\"\n");
  EXPECT_EQ(scalar("it's a, b").to_yaml(), "it's a, b\n");
  EXPECT_EQ(scalar("a:b").to_yaml(), "a:b\n");
  EXPECT_EQ(scalar("a:").to_yaml(), "\"a:\"\n");
}

// config_type_name names every type.
TEST(ConfigTypeTest, Names) {
  EXPECT_EQ(config_type_name(ConfigType::kInteger), "integer");
  EXPECT_EQ(config_type_name(ConfigType::kBytes), "bytes");
  EXPECT_EQ(config_type_name(ConfigType::kAny), "any");
}

const std::vector<ConfigKeySpec> kPeerpingKeys = {
    {"interval_ms", ConfigType::kInteger, false, "1000", ""},
    {"timeout_ms", ConfigType::kInteger, false, "500", ""},
};

ConfigNode section(std::vector<ConfigNode::Entry> entries) {
  return ConfigNode::make_map(std::move(entries), at(1, 1), "plugins[0].config");
}

// An unknown key names the known keys and suggests the closest one.
TEST(ValidateConfigTest, UnknownKeyWithSuggestion) {
  std::vector<ConfigNode::Entry> e;
  e.emplace_back("intervl_ms",
                 ConfigNode::make_scalar("5", at(2, 5), "plugins[0].config.intervl_ms"));
  EXPECT_EQ(validate_config(section(std::move(e)), kPeerpingKeys).message(),
            "t.yaml:2:5: plugins[0].config.intervl_ms: unknown key 'intervl_ms' (known keys: "
            "interval_ms, timeout_ms); did you mean 'interval_ms'?");
}

// No suggestion when nothing is within edit distance 2.
TEST(ValidateConfigTest, UnknownKeyWithoutSuggestion) {
  std::vector<ConfigNode::Entry> e;
  e.emplace_back("zzz", ConfigNode::make_scalar("5", at(2, 5), "c.zzz"));
  EXPECT_EQ(validate_config(section(std::move(e)), kPeerpingKeys).message(),
            "t.yaml:2:5: c.zzz: unknown key 'zzz' (known keys: interval_ms, timeout_ms)");
}

// Values are checked against their declared types.
TEST(ValidateConfigTest, TypeChecks) {
  const std::vector<ConfigKeySpec> keys = {
      {"i", ConfigType::kInteger, false, "", ""}, {"n", ConfigType::kNumber, false, "", ""},
      {"b", ConfigType::kBoolean, false, "", ""}, {"s", ConfigType::kBytes, false, "", ""},
      {"l", ConfigType::kList, false, "", ""},    {"m", ConfigType::kMap, false, "", ""},
      {"t", ConfigType::kString, false, "", ""},  {"a", ConfigType::kAny, false, "", ""}};
  auto one = [&](const std::string& key, ConfigNode value) {
    std::vector<ConfigNode::Entry> e;
    e.emplace_back(key, std::move(value));
    return validate_config(section(std::move(e)), keys);
  };
  EXPECT_TRUE(one("i", scalar("3")).ok());
  EXPECT_EQ(one("i", scalar("x")).message(), "t.yaml:3:7: k: expected an integer, got 'x'");
  EXPECT_TRUE(one("n", scalar("2.5")).ok());
  EXPECT_FALSE(one("n", scalar("two")).ok());
  EXPECT_TRUE(one("b", scalar("on")).ok());
  EXPECT_FALSE(one("b", scalar("2")).ok());
  EXPECT_TRUE(one("s", scalar("1GiB")).ok());
  EXPECT_FALSE(one("s", scalar("1GiG")).ok());
  EXPECT_TRUE(one("l", ConfigNode::make_sequence({}, at(1, 1), "l")).ok());
  EXPECT_EQ(one("l", scalar("x")).message(), "t.yaml:3:7: k: expected a list, got a scalar");
  EXPECT_TRUE(one("m", ConfigNode::make_map({}, at(1, 1), "m")).ok());
  EXPECT_FALSE(one("m", scalar("x")).ok());
  EXPECT_TRUE(one("t", scalar("123")).ok());
  EXPECT_FALSE(one("t", ConfigNode::make_map({}, at(1, 1), "m")).ok());
  EXPECT_TRUE(one("a", ConfigNode::make_map({}, at(1, 1), "m")).ok());
  EXPECT_TRUE(one("i", ConfigNode::make_null(at(1, 1), "i")).ok());  // null = default
}

// A missing required key is reported at the section; a null section counts as empty.
TEST(ValidateConfigTest, RequiredAndNullSection) {
  const std::vector<ConfigKeySpec> keys = {
      {"peer", ConfigType::kString, /*required=*/true, "", ""}};
  EXPECT_EQ(validate_config(section({}), keys).message(),
            "t.yaml:1:1: plugins[0].config: missing required key 'peer'");
  EXPECT_TRUE(validate_config(ConfigNode::make_null(at(1, 1), "c"), kPeerpingKeys).ok());
  EXPECT_EQ(validate_config(scalar("x"), kPeerpingKeys).message(),
            "t.yaml:3:7: k: expected a map, got a scalar");
}

// A key's value at t.yaml:LINE:3 under "plugins[0].config.KEY".
ConfigNode value_at(const std::string& key, const std::string& text, int line = 2) {
  return ConfigNode::make_scalar(text, at(line, 3), "plugins[0].config." + key);
}

// A list under "plugins[0].config.KEY" whose i-th element sits at line 3 + i, column 5.
ConfigNode list_of(const std::string& key, const std::vector<std::string>& items) {
  std::vector<ConfigNode> nodes;
  for (size_t i = 0; i < items.size(); ++i) {
    nodes.push_back(
        ConfigNode::make_scalar(items[i], at(3 + static_cast<int>(i), 5),
                                "plugins[0].config." + key + "[" + std::to_string(i) + "]"));
  }
  return ConfigNode::make_sequence(std::move(nodes), at(2, 3), "plugins[0].config." + key);
}

Status validate_one(const ConfigKeySpec& spec, ConfigNode value) {
  std::vector<ConfigNode::Entry> e;
  e.emplace_back(spec.name, std::move(value));
  return validate_config(section(std::move(e)), {spec});
}

// as_duration and get_duration read 250ms, 10s, 2m, 1h and refuse a bare number or another
// unit, naming the value.
TEST(ConfigNodeTest, AsDuration) {
  using std::chrono::milliseconds;
  EXPECT_EQ(*scalar("250ms").as_duration(), milliseconds(250));
  EXPECT_EQ(*scalar("10s").as_duration(), std::chrono::seconds(10));
  EXPECT_EQ(*scalar("2m").as_duration(), std::chrono::minutes(2));
  EXPECT_EQ(*scalar("1h").as_duration(), std::chrono::hours(1));
  EXPECT_EQ(*scalar("0ms").as_duration(), Duration(0));
  EXPECT_EQ(scalar("250").as_duration().status().message(),
            "t.yaml:3:7: k: expected a duration such as 250ms, 10s, 2m or 1h, got '250'");
  EXPECT_FALSE(scalar("1.5s").as_duration().ok());
  EXPECT_FALSE(scalar("-1s").as_duration().ok());
  EXPECT_FALSE(scalar("5d").as_duration().ok());
  EXPECT_FALSE(scalar("99999999999999999h").as_duration().ok());  // overflows nanoseconds
  EXPECT_EQ(sample_map().as_duration().status().message(),
            "t.yaml:1:1: p: expected a duration, got a map");
  std::vector<ConfigNode::Entry> e;
  e.emplace_back("timeout", value_at("timeout", "2s"));
  const ConfigNode m = section(std::move(e));
  EXPECT_EQ(*m.get_duration("timeout", milliseconds(1)), std::chrono::seconds(2));
  EXPECT_EQ(*m.get_duration("absent", milliseconds(7)), milliseconds(7));
}

// get_list<T> converts every element; an element of another type is named by its index, and
// an absent key gives the fallback.
TEST(ConfigNodeTest, GetList) {
  std::vector<ConfigNode::Entry> e;
  e.emplace_back("ints", list_of("ints", {"1", "-2", "30"}));
  e.emplace_back("names", list_of("names", {"a", "b"}));
  e.emplace_back("waits", list_of("waits", {"10ms", "1s"}));
  e.emplace_back("flags", list_of("flags", {"yes", "off"}));
  e.emplace_back("bad", list_of("bad", {"1", "2", "x"}));
  e.emplace_back("scalar", value_at("scalar", "5"));
  e.emplace_back("empty", ConfigNode::make_null(at(9, 3), "plugins[0].config.empty"));
  const ConfigNode m = section(std::move(e));
  EXPECT_THAT(*m.get_list<int64_t>("ints"), ::testing::ElementsAre(1, -2, 30));
  EXPECT_THAT(*m.get_list<std::string>("names"), ::testing::ElementsAre("a", "b"));
  EXPECT_THAT(*m.get_list<Duration>("waits"),
              ::testing::ElementsAre(std::chrono::milliseconds(10), std::chrono::seconds(1)));
  EXPECT_THAT(*m.get_list<bool>("flags"), ::testing::ElementsAre(true, false));
  EXPECT_THAT(*m.get_list<double>("ints"), ::testing::ElementsAre(1.0, -2.0, 30.0));
  EXPECT_EQ(m.get_list<int64_t>("bad").status().message(),
            "t.yaml:5:5: plugins[0].config.bad[2]: expected an integer, got 'x'");
  EXPECT_EQ(m.get_list<int64_t>("scalar").status().message(),
            "t.yaml:2:3: plugins[0].config.scalar: expected a list, got a scalar");
  EXPECT_THAT(*m.get_list<int64_t>("absent", {7, 8}), ::testing::ElementsAre(7, 8));
  EXPECT_THAT(*m.get_list<int64_t>("empty", {9}), ::testing::ElementsAre(9));
  EXPECT_TRUE(m.get_list<std::string>("absent")->empty());
  EXPECT_FALSE(scalar("1").get_list<int64_t>("x").ok());  // not a map
}

// An integer range: both bounds, only a minimum, only a maximum; the error names the key's
// position and says what was accepted and what was given.
TEST(ValidateConfigTest, IntegerRange) {
  const auto spec = ConfigKeySpec{"workers", ConfigType::kInteger, false, "4", ""}.between(1, 64);
  EXPECT_TRUE(validate_one(spec, value_at("workers", "1")).ok());
  EXPECT_TRUE(validate_one(spec, value_at("workers", "64")).ok());
  EXPECT_EQ(validate_one(spec, value_at("workers", "0")).message(),
            "t.yaml:2:3: plugins[0].config.workers: must be between 1 and 64, got 0");
  EXPECT_EQ(validate_one(spec, value_at("workers", "65")).message(),
            "t.yaml:2:3: plugins[0].config.workers: must be between 1 and 64, got 65");
  EXPECT_EQ(validate_one(spec, value_at("workers", "x")).message(),
            "t.yaml:2:3: plugins[0].config.workers: expected an integer, got 'x'");
  EXPECT_TRUE(validate_one(spec, ConfigNode::make_null(at(2, 3), "w")).ok());  // the default
  const auto floor = ConfigKeySpec{"n", ConfigType::kInteger, false, "", ""}.at_least(0);
  EXPECT_TRUE(validate_one(floor, value_at("n", "9223372036854775807")).ok());
  EXPECT_EQ(validate_one(floor, value_at("n", "-1")).message(),
            "t.yaml:2:3: plugins[0].config.n: must be at least 0, got -1");
  const auto ceiling = ConfigKeySpec{"n", ConfigType::kInteger, false, "", ""}.at_most(10);
  EXPECT_TRUE(validate_one(ceiling, value_at("n", "-5")).ok());
  EXPECT_EQ(validate_one(ceiling, value_at("n", "11")).message(),
            "t.yaml:2:3: plugins[0].config.n: must be at most 10, got 11");
}

// A duration key: its type, and its range with bounds written as an operator would.
TEST(ValidateConfigTest, DurationRange) {
  const auto spec = ConfigKeySpec{"timeout", ConfigType::kDuration, false, "5s", ""}.between(
      std::chrono::milliseconds(10), std::chrono::hours(1));
  EXPECT_TRUE(validate_one(spec, value_at("timeout", "10ms")).ok());
  EXPECT_TRUE(validate_one(spec, value_at("timeout", "60m")).ok());
  EXPECT_EQ(validate_one(spec, value_at("timeout", "5ms")).message(),
            "t.yaml:2:3: plugins[0].config.timeout: must be between 10ms and 1h, got 5ms");
  EXPECT_EQ(validate_one(spec, value_at("timeout", "61m")).message(),
            "t.yaml:2:3: plugins[0].config.timeout: must be between 10ms and 1h, got 61m");
  EXPECT_EQ(validate_one(spec, value_at("timeout", "5")).message(),
            "t.yaml:2:3: plugins[0].config.timeout: expected a duration such as 250ms, 10s, 2m "
            "or 1h, got '5'");
  const auto floor =
      ConfigKeySpec{"t", ConfigType::kDuration, false, "", ""}.at_least(std::chrono::seconds(90));
  EXPECT_EQ(validate_one(floor, value_at("t", "1m")).message(),
            "t.yaml:2:3: plugins[0].config.t: must be at least 90s, got 1m");
}

// An enum: only the listed strings, and the error lists them in the declared order.
TEST(ValidateConfigTest, AllowedValues) {
  const auto spec =
      ConfigKeySpec{"mode", ConfigType::kString, false, "a", ""}.one_of({"a", "b", "c"});
  EXPECT_TRUE(validate_one(spec, value_at("mode", "b")).ok());
  EXPECT_EQ(validate_one(spec, value_at("mode", "d")).message(),
            "t.yaml:2:3: plugins[0].config.mode: must be one of a, b, c, got 'd'");
  EXPECT_FALSE(validate_one(spec, value_at("mode", "A")).ok());  // exact match only
  EXPECT_EQ(validate_one(spec, list_of("mode", {"a"})).message(),
            "t.yaml:2:3: plugins[0].config.mode: expected a string, got a list");
}

// A list with an element type: every element is checked, and the constraints apply to each;
// the error names the element's position and index.
TEST(ValidateConfigTest, ListElements) {
  const auto ints = ConfigKeySpec{"ports", ConfigType::kList, false, "[]", ""}
                        .list_of(ConfigType::kInteger)
                        .between(1, 65535);
  EXPECT_TRUE(validate_one(ints, list_of("ports", {"80", "443"})).ok());
  EXPECT_TRUE(validate_one(ints, list_of("ports", {})).ok());
  EXPECT_EQ(validate_one(ints, list_of("ports", {"80", "443", "http"})).message(),
            "t.yaml:5:5: plugins[0].config.ports[2]: expected an integer, got 'http'");
  EXPECT_EQ(validate_one(ints, list_of("ports", {"0"})).message(),
            "t.yaml:3:5: plugins[0].config.ports[0]: must be between 1 and 65535, got 0");
  EXPECT_EQ(validate_one(ints, value_at("ports", "80")).message(),
            "t.yaml:2:3: plugins[0].config.ports: expected a list, got a scalar");
  std::vector<ConfigNode> with_null = {
      ConfigNode::make_null(at(3, 5), "plugins[0].config.ports[0]")};
  EXPECT_EQ(validate_one(ints, ConfigNode::make_sequence(std::move(with_null), at(2, 3),
                                                         "plugins[0].config.ports"))
                .message(),
            "t.yaml:3:5: plugins[0].config.ports[0]: expected an integer, got null");
  const auto modes = ConfigKeySpec{"modes", ConfigType::kList, false, "[]", ""}
                         .list_of(ConfigType::kString)
                         .one_of({"x", "y"});
  EXPECT_EQ(validate_one(modes, list_of("modes", {"y", "z"})).message(),
            "t.yaml:4:5: plugins[0].config.modes[1]: must be one of x, y, got 'z'");
  // A list without an element type takes anything, as before.
  const ConfigKeySpec any{"l", ConfigType::kList, false, "", ""};
  EXPECT_TRUE(validate_one(any, list_of("l", {"1", "x"})).ok());
}

// Declared constraints that do not fit their key are refused, naming the key.
TEST(CheckConfigKeysTest, RefusesMismatchedConstraints) {
  using T = ConfigType;
  EXPECT_TRUE(check_config_keys({ConfigKeySpec{"a", T::kInteger, false, "", ""}.between(1, 2),
                                 ConfigKeySpec{"b", T::kString, false, "", ""}.one_of({"x"}),
                                 ConfigKeySpec{"c", T::kList, false, "", ""}
                                     .list_of(T::kDuration)
                                     .at_least(std::chrono::seconds(1))})
                  .ok());
  EXPECT_EQ(
      check_config_keys({ConfigKeySpec{"a", T::kString, false, "", ""}.between(1, 2)}).message(),
      "config key 'a': a range applies to an integer or a duration only, not string");
  EXPECT_EQ(
      check_config_keys({ConfigKeySpec{"a", T::kInteger, false, "", ""}.one_of({"x"})}).message(),
      "config key 'a': allowed values apply to a string only, not integer");
  EXPECT_EQ(
      check_config_keys({ConfigKeySpec{"a", T::kInteger, false, "", ""}.between(5, 1)}).message(),
      "config key 'a': min 5 is above max 1");
  EXPECT_EQ(check_config_keys({ConfigKeySpec{"a", T::kString, false, "", ""}.list_of(T::kInteger)})
                .message(),
            "config key 'a': an element type applies to a list only");
  EXPECT_EQ(
      check_config_keys({ConfigKeySpec{"a", T::kList, false, "", ""}.between(1, 2)}).message(),
      "config key 'a': a range applies to an integer or a duration only, not any");
  EXPECT_EQ(check_config_keys({{"a", T::kInteger, false, "", ""}, {"a", T::kString, false, "", ""}})
                .message(),
            "config key 'a' is declared twice");
}

// The labels and constraint texts that `plugins inspect` and the catalogue print.
TEST(ConfigKeySpecTest, LabelsAndConstraintText) {
  using T = ConfigType;
  const auto list = ConfigKeySpec{"l", T::kList, false, "", ""}.list_of(T::kInteger).between(0, 6);
  EXPECT_EQ(config_type_label(list), "list of integer");
  EXPECT_EQ(config_constraints_text(list), "between 0 and 6");
  EXPECT_EQ(config_type_label(ConfigKeySpec{"l", T::kList, false, "", ""}), "list");
  EXPECT_EQ(config_constraints_text(ConfigKeySpec{"l", T::kList, false, "", ""}), "");
  EXPECT_EQ(config_constraints_text(
                ConfigKeySpec{"s", T::kString, false, "", ""}.one_of({"read_index", "lease"})),
            "one of read_index, lease");
  EXPECT_EQ(config_constraints_text(ConfigKeySpec{"d", T::kDuration, false, "", ""}.between(
                std::chrono::milliseconds(1500), std::chrono::minutes(2))),
            "between 1500ms and 2m");
  EXPECT_EQ(config_constraints_text(ConfigKeySpec{"i", T::kInteger, false, "", ""}.at_most(3)),
            "at most 3");
  EXPECT_EQ(config_type_name(T::kDuration), "duration");
}

}  // namespace
}  // namespace nodus
