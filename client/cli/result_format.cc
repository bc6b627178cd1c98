#include "result_format.h"

#include "absl/strings/str_cat.h"
#include "command.h"
#include "escaping.h"
#include "json_writer.h"

namespace cairn::cli {

std::string ExpiryText(uint64_t expires_at_unix_micros) {
  return expires_at_unix_micros == 0 ? "never"
                                     : FormatUnixMicros(expires_at_unix_micros);
}

std::string KeyValueText(const client::KeyValue& kv, bool keys_only) {
  if (keys_only) return DisplayBytes(kv.key);
  return absl::StrCat(DisplayBytes(kv.key), "\t", DisplayBytes(kv.value));
}

void AddKeyValueFields(const client::KeyValue& kv, bool keys_only,
                       JsonWriter* j) {
  j->AddBytes("key", kv.key);
  if (!keys_only) j->AddBytes("value", kv.value);
  j->AddUint("revision", kv.revision);
  j->AddUint("expires_at_unix_micros", kv.expires_at_unix_micros);
}

std::string KeyValueJson(const client::KeyValue& kv, bool keys_only) {
  JsonWriter j;
  AddKeyValueFields(kv, keys_only, &j);
  return j.Finish();
}

std::string GetResultText(const std::string& key, const client::GetResult& r) {
  return absl::StrCat(DisplayBytes(key), "\t",
                      r.found ? DisplayBytes(r.value) : kNotFoundText);
}

void AddGetResultFields(const std::string& key, const client::GetResult& r,
                        JsonWriter* j) {
  j->AddBytes("key", key).AddBool("found", r.found);
  if (r.found) {
    j->AddBytes("value", r.value)
        .AddUint("revision", r.revision)
        .AddUint("expires_at_unix_micros", r.expires_at_unix_micros);
  }
}

std::string GetResultJson(const std::string& key, const client::GetResult& r,
                          bool with_read_seq) {
  JsonWriter j;
  AddGetResultFields(key, r, &j);
  if (with_read_seq) j.AddUint("read_seq", r.read_seq);
  return j.Finish();
}

std::string GetResultVerbose(const std::string& key,
                             const client::GetResult& r) {
  std::string out = absl::StrCat("key:       ", DisplayBytes(key), "\n");
  if (!r.found) {
    absl::StrAppend(&out, "value:     ", kNotFoundText, "\n");
  } else {
    absl::StrAppend(&out, "value:     ", DisplayBytes(r.value), "\n",
                    "size:      ", r.value.size(),
                    r.value.size() == 1 ? " byte\n" : " bytes\n",
                    "revision:  ", r.revision, "\n",
                    "expires:   ", ExpiryText(r.expires_at_unix_micros), "\n");
  }
  absl::StrAppend(&out, "read_seq:  ", r.read_seq);
  return out;
}

std::string ChangeEventText(const client::ChangeEvent& e, bool keys_only) {
  std::string out = absl::StrCat(e.seq, "\t", client::ChangeOpName(e.op), "\t",
                                 DisplayBytes(e.key));
  switch (e.op) {
    case client::ChangeOp::kPut:
      if (!keys_only) absl::StrAppend(&out, "\t", DisplayBytes(e.value));
      if (e.expires_at_unix_micros != 0) {
        absl::StrAppend(
            &out, "\texpires=", FormatUnixMicros(e.expires_at_unix_micros));
      }
      break;
    case client::ChangeOp::kDelete:
      break;
    case client::ChangeOp::kDeleteRange:
      absl::StrAppend(&out, "\t", DisplayBytes(e.range_end));
      break;
    case client::ChangeOp::kMerge:
      absl::StrAppend(&out, "\t", e.merge_operator);
      if (!keys_only) {
        absl::StrAppend(&out, "\t", DisplayBytes(e.value));
        if (!e.merge_argument.empty()) {
          absl::StrAppend(&out, "\t", DisplayBytes(e.merge_argument));
        }
      }
      break;
  }
  return out;
}

std::string ChangeEventJson(const client::ChangeEvent& e, bool keys_only) {
  JsonWriter j;
  j.AddUint("seq", e.seq)
      .AddString("op", client::ChangeOpName(e.op))
      .AddBytes("key", e.key);
  switch (e.op) {
    case client::ChangeOp::kPut:
      if (!keys_only) j.AddBytes("value", e.value);
      j.AddUint("expires_at_unix_micros", e.expires_at_unix_micros);
      break;
    case client::ChangeOp::kDelete:
      break;
    case client::ChangeOp::kDeleteRange:
      j.AddBytes("range_end", e.range_end);
      break;
    case client::ChangeOp::kMerge:
      j.AddString("merge_operator", e.merge_operator);
      if (!keys_only) j.AddBytes("value", e.value);
      j.AddBytes("merge_argument", e.merge_argument);
      break;
  }
  j.AddUint("commit_time_unix_micros", e.commit_time_unix_micros)
      .AddUint("group_first_seq", e.group_first_seq)
      .AddUint("group_size", e.group_size);
  return j.Finish();
}

}  // namespace cairn::cli
