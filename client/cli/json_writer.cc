#include "json_writer.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "escaping.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace cairn::cli {
namespace {

std::string FormatDouble(double value) {
  if (!std::isfinite(value)) return "null";
  return absl::StrFormat("%.15g", value);
}

}  // namespace

bool IsJsonText(std::string_view bytes) {
  return bytes.find('\0') == std::string_view::npos && IsValidUtf8(bytes);
}

std::string JsonQuote(std::string_view text) {
  std::string safe;
  if (!IsValidUtf8(text)) {
    // Keep the valid sequences, replace each bad byte by U+FFFD.
    for (size_t i = 0; i < text.size(); ++i) {
      size_t len = 1;
      while (len <= 4 && i + len <= text.size() &&
             !IsValidUtf8(text.substr(i, len))) {
        ++len;
      }
      if (len <= 4 && i + len <= text.size()) {
        safe.append(text.substr(i, len));
        i += len - 1;
      } else {
        safe.append("\xEF\xBF\xBD");
      }
    }
    text = safe;
  }
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned char>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out += '"';
  return out;
}

void JsonWriter::Name(std::string_view name) {
  if (!first_) out_ += ',';
  first_ = false;
  absl::StrAppend(&out_, JsonQuote(name), ":");
}

JsonWriter& JsonWriter::AddUint(std::string_view name, uint64_t value) {
  Name(name);
  absl::StrAppend(&out_, value);
  return *this;
}

JsonWriter& JsonWriter::AddInt(std::string_view name, int64_t value) {
  Name(name);
  absl::StrAppend(&out_, value);
  return *this;
}

JsonWriter& JsonWriter::AddDouble(std::string_view name, double value) {
  Name(name);
  out_ += FormatDouble(value);
  return *this;
}

JsonWriter& JsonWriter::AddBool(std::string_view name, bool value) {
  Name(name);
  out_ += value ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::AddString(std::string_view name,
                                  std::string_view text) {
  Name(name);
  out_ += JsonQuote(text);
  return *this;
}

JsonWriter& JsonWriter::AddBytes(std::string_view name,
                                 std::string_view bytes) {
  if (IsJsonText(bytes)) return AddString(name, bytes);
  Name(absl::StrCat(std::string(name), "_base64"));
  absl::StrAppend(&out_, "\"", Base64Encode(bytes), "\"");
  return *this;
}

JsonWriter& JsonWriter::AddRaw(std::string_view name, std::string_view json) {
  Name(name);
  out_.append(json);
  return *this;
}

JsonWriter& JsonWriter::BeginArray(std::string_view name) {
  Name(name);
  out_ += '[';
  first_element_ = true;
  return *this;
}

JsonWriter& JsonWriter::AddElement(std::string_view json) {
  if (!first_element_) out_ += ',';
  first_element_ = false;
  out_.append(json);
  return *this;
}

JsonWriter& JsonWriter::EndArray() {
  out_ += ']';
  return *this;
}

std::string JsonWriter::Finish() {
  out_ += '}';
  std::string result;
  result.swap(out_);
  out_.push_back('{');
  first_ = true;
  return result;
}

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// One value of `field` (element `index` when repeated, else -1) as JSON.
std::string FieldValueToJson(const Message& m, const FieldDescriptor* f,
                             int index) {
  const Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(rep ? r->GetRepeatedInt32(m, f, index)
                              : r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(rep ? r->GetRepeatedInt64(m, f, index)
                              : r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(rep ? r->GetRepeatedUInt32(m, f, index)
                              : r->GetUInt32(m, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(rep ? r->GetRepeatedUInt64(m, f, index)
                              : r->GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return FormatDouble(rep ? r->GetRepeatedDouble(m, f, index)
                              : r->GetDouble(m, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return FormatDouble(rep ? r->GetRepeatedFloat(m, f, index)
                              : r->GetFloat(m, f));
    case FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f))
                 ? "true"
                 : "false";
    case FieldDescriptor::CPPTYPE_ENUM:
      return JsonQuote(
          (rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f))->name());
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string s =
          rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
      return f->type() == FieldDescriptor::TYPE_BYTES && !IsJsonText(s)
                 ? JsonQuote(Base64Encode(s))
                 : JsonQuote(s);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return MessageToJson(rep ? r->GetRepeatedMessage(m, f, index)
                               : r->GetMessage(m, f));
  }
  return "null";
}

}  // namespace

std::string MessageToJson(const Message& message) {
  const google::protobuf::Descriptor* d = message.GetDescriptor();
  const Reflection* r = message.GetReflection();
  JsonWriter j;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_repeated()) {
      j.BeginArray(f->name());
      for (int k = 0; k < r->FieldSize(message, f); ++k) {
        j.AddElement(FieldValueToJson(message, f, k));
      }
      j.EndArray();
    } else if (f->type() == FieldDescriptor::TYPE_BYTES &&
               !IsJsonText(r->GetString(message, f))) {
      j.AddRaw(absl::StrCat(f->name(), "_base64"),
               FieldValueToJson(message, f, -1));
    } else {
      j.AddRaw(f->name(), FieldValueToJson(message, f, -1));
    }
  }
  return j.Finish();
}

}  // namespace cairn::cli
