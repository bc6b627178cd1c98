// JsonWriter: builds the one-line JSON documents `cairn --json` prints.
// Field names are snake_case and stable (docs/cli.md lists them); integers
// are JSON numbers; byte strings go through AddBytes, which keeps them
// round-trippable: a JSON string under `name` when the bytes are valid UTF-8
// without a NUL byte, else their base64 under `name`_base64 (exactly one of
// the two is present).
//
//   JsonWriter j;
//   j.AddBytes("key", kv.key).AddUint("revision", kv.revision);
//   out->Line(j.Finish());   // {"key":"a","revision":3}
//
// Arrays: BeginArray(name), then AddElement(json) per element, EndArray().
// Not thread-safe.
#ifndef CAIRN_CLIENT_CLI_JSON_WRITER_H_
#define CAIRN_CLIENT_CLI_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace cairn::cli {

class JsonWriter {
 public:
  JsonWriter& AddUint(std::string_view name, uint64_t value);
  JsonWriter& AddInt(std::string_view name, int64_t value);
  JsonWriter& AddDouble(std::string_view name, double value);
  JsonWriter& AddBool(std::string_view name, bool value);
  // `text` must be UTF-8 (names, status strings); use AddBytes for data.
  JsonWriter& AddString(std::string_view name, std::string_view text);
  JsonWriter& AddBytes(std::string_view name, std::string_view bytes);
  // `json` is an already encoded JSON value.
  JsonWriter& AddRaw(std::string_view name, std::string_view json);

  JsonWriter& BeginArray(std::string_view name);
  JsonWriter& AddElement(std::string_view json);
  JsonWriter& EndArray();

  // The object, e.g. {"a":1}. The writer is empty afterwards.
  std::string Finish();

 private:
  void Name(std::string_view name);
  std::string out_ = "{";
  bool first_ = true;
  bool first_element_ = true;
};

// `text` as a JSON string literal, quotes included. Bytes that are not valid
// UTF-8 are replaced by U+FFFD; callers with binary data use AddBytes.
std::string JsonQuote(std::string_view text);

// Whether AddBytes writes `bytes` as a plain JSON string.
bool IsJsonText(std::string_view bytes);

// A protobuf message as one JSON object with the .proto field names,
// every field present (defaults too), 64-bit integers as numbers (unlike
// the proto3 JSON mapping, which quotes them), enums by name, bytes as in
// AddBytes.
std::string MessageToJson(const google::protobuf::Message& message);

}  // namespace cairn::cli

#endif  // CAIRN_CLIENT_CLI_JSON_WRITER_H_
