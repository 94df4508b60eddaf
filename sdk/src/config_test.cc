// Unit tests of nodus/config.h: ConfigNode conversions, errors, rendering and validate_config.
#include "nodus/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace nodus
