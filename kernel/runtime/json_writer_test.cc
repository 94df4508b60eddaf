#include "kernel/runtime/json_writer.h"

#include <gtest/gtest.h>

#include <limits>

namespace nodus::kernel {
namespace {

// Goal: nested objects and arrays get commas in the right places and every value type renders.
TEST(JsonWriter, WritesNestedDocument) {
  JsonWriter w;
  w.begin_object().key("a").value(1).key("b").begin_array().value("x").value(true).null();
  w.end_array().key("c").begin_object().key("d").value(2.5).end_object().end_object();
  EXPECT_EQ(w.str(), R"({"a":1,"b":["x",true,null],"c":{"d":2.5}})");
}

// Goal: keys and values are escaped (by nodus/json.h) so the document stays valid JSON,
// invalid UTF-8 included.
TEST(JsonWriter, EscapesStrings) {
  JsonWriter w;
  w.begin_object().key("k\"").value("q\"b\\n\nt\t\x01 \xc3\xa9 \xff").end_object();
  EXPECT_EQ(w.str(), "{\"k\\\"\":\"q\\\"b\\\\n\\nt\\t\\u0001 \xc3\xa9 \\ufffd\"}");
}

// Goal: non-finite numbers become null rather than invalid JSON.
TEST(JsonWriter, NonFiniteIsNull) {
  JsonWriter w;
  w.begin_array().value(std::numeric_limits<double>::infinity()).end_array();
  EXPECT_EQ(w.str(), "[null]");
}

}  // namespace
}  // namespace nodus::kernel
