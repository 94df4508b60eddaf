#include "nodus/json.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <limits>
#include <string>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

namespace nodus {
namespace {

// Parses `json` with protobuf's JSON parser (an independent implementation) as one string
// value; fails the test when it is not valid JSON.
std::string parse_json_string(const std::string& json) {
  google::protobuf::Value value;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &value);
  EXPECT_TRUE(status.ok()) << json << ": " << status.ToString();
  EXPECT_EQ(value.kind_case(), google::protobuf::Value::kStringValue) << json;
  return value.string_value();
}

// Goal: quotes and backslashes are escaped and the common controls use their short forms.
TEST(JsonTest, EscapesQuotesBackslashesAndShortForms) {
  EXPECT_EQ(json_quote("a\"b\\c\nd\re\tf"), R"("a\"b\\c\nd\re\tf")");
  EXPECT_EQ(json_quote(""), R"("")");
}

// Goal: every other control character, and DEL, becomes \u00XX, never a raw byte.
TEST(JsonTest, EscapesEveryControlCharacter) {
  for (int c = 0; c < 0x20; ++c) {
    if (c == '\n' || c == '\r' || c == '\t') continue;
    const std::string in(1, static_cast<char>(c));
    char expected[16];
    std::snprintf(expected, sizeof(expected), "\"\\u%04x\"", c);
    EXPECT_EQ(json_quote(in), expected) << "byte " << c;
  }
  EXPECT_EQ(json_quote("\x7f"), R"("\u007f")");
  EXPECT_EQ(json_quote(std::string("a\0b", 3)), R"("a\u0000b")");
}

// Goal: well-formed UTF-8 of every length is copied unchanged.
TEST(JsonTest, CopiesWellFormedUtf8) {
  const std::string text = "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf";
  EXPECT_EQ(json_quote(text), "\"" + text + "\"");
  EXPECT_EQ(parse_json_string(json_quote(text)), text);
}

// Goal: each byte that does not start a well-formed sequence becomes U+FFFD (the documented
// policy), covering stray continuation bytes, overlong forms, surrogates, code points past
// U+10FFFF and a sequence cut off by the end of the input.
TEST(JsonTest, ReplacesInvalidUtf8BytePerByte) {
  EXPECT_EQ(json_quote("\xff"), R"("\ufffd")");
  EXPECT_EQ(json_quote("a\x80z"), R"("a\ufffdz")");
  EXPECT_EQ(json_quote("\xc0\xaf"), R"("\ufffd\ufffd")");                      // overlong '/'
  EXPECT_EQ(json_quote("\xe0\x80\xaf"), R"("\ufffd\ufffd\ufffd")");            // overlong, 3 bytes
  EXPECT_EQ(json_quote("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");            // UTF-16 surrogate
  EXPECT_EQ(json_quote("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");  // > U+10FFFF
  EXPECT_EQ(json_quote("x\xe2\x82"), R"("x\ufffd\ufffd")");  // truncated at the end
  // A bad lead byte does not swallow the valid character after it.
  EXPECT_EQ(json_quote("\xc3\xc3\xa9"), "\"\\ufffd\xc3\xa9\"");
}

// Goal: whatever the input bytes, the output parses as JSON; printable ASCII reads back as
// itself.
TEST(JsonTest, EveryByteGivesValidJson) {
  for (int c = 0; c < 256; ++c) {
    const std::string in = std::string("<") + static_cast<char>(c) + ">";
    const std::string parsed = parse_json_string(json_quote(in));
    // Below 0x80 the escapes read back as the byte itself; above, a lone byte is never
    // well-formed UTF-8 and reads back as U+FFFD.
    EXPECT_EQ(parsed, c < 0x80 ? in : "<\xef\xbf\xbd>") << "byte " << c;
  }
}

// Goal: the append forms write into an existing buffer, with and without quotes.
TEST(JsonTest, AppendForms) {
  std::string out = "k=";
  append_json_quoted(out, "v\"");
  out += ' ';
  append_json_escaped(out, "w\n");
  EXPECT_EQ(out, "k=\"v\\\"\" w\\n");
}

}  // namespace
// Goal: nested objects and arrays get commas in the right places and every value type renders.
TEST(JsonWriterTest, WritesNestedDocument) {
  JsonWriter w;
  w.begin_object().key("a").value(1).key("b").begin_array().value("x").value(true).null();
  w.end_array().key("c").begin_object().key("d").value(2.5).end_object().end_object();
  EXPECT_EQ(w.str(), R"({"a":1,"b":["x",true,null],"c":{"d":2.5}})");
}

// Goal: keys and values are escaped (by nodus/json.h) so the document stays valid JSON,
// invalid UTF-8 included.
TEST(JsonWriterTest, EscapesStrings) {
  JsonWriter w;
  w.begin_object().key("k\"").value("q\"b\\n\nt\t\x01 \xc3\xa9 \xff").end_object();
  EXPECT_EQ(w.str(), "{\"k\\\"\":\"q\\\"b\\\\n\\nt\\t\\u0001 \xc3\xa9 \\ufffd\"}");
}

// Goal: non-finite numbers become null rather than invalid JSON.
TEST(JsonWriterTest, NonFiniteIsNull) {
  JsonWriter w;
  w.begin_array().value(std::numeric_limits<double>::infinity()).end_array();
  EXPECT_EQ(w.str(), "[null]");
}

// Goal: raw() splices ready-made JSON as one value, with the commas around it.
TEST(JsonWriterTest, RawIsOneValue) {
  JsonWriter w;
  w.begin_array().value(1).raw(R"({"a":[2]})").value(3).end_array();
  EXPECT_EQ(w.str(), R"([1,{"a":[2]},3])");
}

// Goal: a writer used wrongly stops loudly instead of emitting broken JSON.
TEST(JsonWriterDeathTest, UnbalancedEndIsFatal) {
  EXPECT_DEATH(JsonWriter().end_object(), "end_object");
}

}  // namespace nodus
