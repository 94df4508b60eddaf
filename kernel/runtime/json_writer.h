// runtime/json_writer.h: a minimal JSON writer for status documents (no parsing). Strings are
// escaped by nodus/json.h, the one JSON escaping of the project.
//
//   JsonWriter w;
//   w.begin_object().key("state").value("ready").key("pid").value(123).end_object();
//   std::string doc = w.str();  // {"state":"ready","pid":123}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nodus::kernel {

class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view k);
  JsonWriter& value(std::string_view v);
  JsonWriter& value(const char* v) { return value(std::string_view(v)); }
  JsonWriter& value(int64_t v);
  JsonWriter& value(uint64_t v);
  JsonWriter& value(int v) { return value(static_cast<int64_t>(v)); }
  JsonWriter& value(unsigned v) { return value(static_cast<uint64_t>(v)); }
  JsonWriter& value(double v);
  JsonWriter& value(bool v);
  JsonWriter& null();
  // Writes `json` as is: it must already be one valid JSON value (a plugin's status section,
  // which nodus/services/admin.h bounds and checks to be an object).
  JsonWriter& raw(std::string_view json);
  const std::string& str() const { return out_; }

 private:
  void separate();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

}  // namespace nodus::kernel
