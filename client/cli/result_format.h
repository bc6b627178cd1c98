// How `cairn` prints the results of the client library, in its two output
// modes (docs/cli.md, "Output"):
//
//   text: one record per line, fields separated by a TAB; keys and values
//         through DisplayBytes (escaping.h), so a TAB or newline inside data
//         is always escaped and never splits a record.
//   JSON: one object per record, field names as below; bytes through
//         JsonWriter::AddBytes (a string, or `<field>_base64`).
//
// Pure functions; thread-safe.
#ifndef CAIRN_CLIENT_CLI_RESULT_FORMAT_H_
#define CAIRN_CLIENT_CLI_RESULT_FORMAT_H_

#include <string>

#include "cairn/client/tail_consumer.h"
#include "cairn/client/types.h"
#include "json_writer.h"

namespace cairn::cli {

// Printed as the value of an absent key in text mode.
inline constexpr char kNotFoundText[] = "(not found)";

// "KEY<TAB>VALUE", or "KEY" when keys_only.
std::string KeyValueText(const client::KeyValue& kv, bool keys_only);
// {"key","value","revision","expires_at_unix_micros"} (no value when
// keys_only).
std::string KeyValueJson(const client::KeyValue& kv, bool keys_only);

// Adds the fields of KeyValueJson / GetResultJson (without read_seq) to `j`.
void AddKeyValueFields(const client::KeyValue& kv, bool keys_only,
                       JsonWriter* j);
void AddGetResultFields(const std::string& key, const client::GetResult& r,
                        JsonWriter* j);

// "KEY<TAB>VALUE" or "KEY<TAB>(not found)".
std::string GetResultText(const std::string& key, const client::GetResult& r);
// {"key","found"} plus, when found, "value", "revision",
// "expires_at_unix_micros"; plus "read_seq" when with_read_seq.
std::string GetResultJson(const std::string& key, const client::GetResult& r,
                          bool with_read_seq);
// The block of `cairn get --verbose`: "key: ...", "value: ...", ...
std::string GetResultVerbose(const std::string& key,
                             const client::GetResult& r);

// "SEQ<TAB>OP<TAB>KEY..." with the op's fields (see docs/cli.md, "tail").
std::string ChangeEventText(const client::ChangeEvent& e, bool keys_only);
// {"seq","op","key",...,"commit_time_unix_micros","group_first_seq",
//  "group_size"}.
std::string ChangeEventJson(const client::ChangeEvent& e, bool keys_only);

// "never" for 0, else RFC 3339 UTC.
std::string ExpiryText(uint64_t expires_at_unix_micros);

}  // namespace cairn::cli

#endif  // CAIRN_CLIENT_CLI_RESULT_FORMAT_H_
