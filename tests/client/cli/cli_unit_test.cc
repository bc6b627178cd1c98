// Unit tests of the `cairn` CLI's pure pieces: byte escaping and its
// inverse, hex/base64, the script lexer and statement parser, and the JSON
// writer (checked by parsing its output with protobuf's JSON parser).
#include <random>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "cairn/v1/admin.pb.h"
#include "escaping.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "json_writer.h"
#include "script.h"
#include "script_lexer.h"

namespace cairn::cli {
namespace {

using google::protobuf::Struct;

TEST(CliEscaping, PrintableTextIsShownBare) {
  EXPECT_EQ(DisplayBytes("hello"), "hello");
  EXPECT_EQ(DisplayBytes("hello world"), "hello world");
  EXPECT_EQ(DisplayBytes("C:\\dir"), "C:\\dir");  // bare: taken literally
  EXPECT_EQ(DisplayBytes("caf\xC3\xA9 \xE2\x82\xAC"),
            "caf\xC3\xA9 \xE2\x82\xAC");
  EXPECT_EQ(DisplayBytes("a\"b"), "a\"b");  // a quote inside is fine
}

TEST(CliEscaping, AmbiguousOrBinaryBytesAreQuoted) {
  EXPECT_EQ(DisplayBytes(""), "\"\"");
  EXPECT_EQ(DisplayBytes(" lead"), "\" lead\"");
  EXPECT_EQ(DisplayBytes("trail "), "\"trail \"");
  EXPECT_EQ(DisplayBytes("\"q"), "\"\\\"q\"");
  EXPECT_EQ(DisplayBytes("a\tb\nc\r"), "\"a\\tb\\nc\\r\"");
  EXPECT_EQ(DisplayBytes(std::string("\x00\xff", 2)), "\"\\x00\\xff\"");
  EXPECT_EQ(DisplayBytes("\x7f"), "\"\\x7f\"");
  EXPECT_EQ(DisplayBytes("\xC2\x85"), "\"\\xc2\\x85\"");  // C1 control U+0085
  EXPECT_EQ(DisplayBytes("ok\xC3"), "\"ok\\xc3\"");       // truncated UTF-8
  EXPECT_EQ(DisplayBytes("\xED\xA0\x80"), "\"\\xed\\xa0\\x80\"");  // surrogate
  EXPECT_EQ(DisplayBytes("x\\y\x01"), "\"x\\\\y\\x01\"");
}

TEST(CliEscaping, QuoteRoundTripsEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  absl::StatusOr<std::string> back = Unquote(Quote(all));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, all);

  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 12, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    absl::StatusOr<std::string> b = Unquote(DisplayBytes(s));
    if (!NeedsQuoting(s)) {
      EXPECT_EQ(DisplayBytes(s), s);
    } else {
      ASSERT_TRUE(b.ok()) << b.status();
      EXPECT_EQ(*b, s);
    }
  }
}

TEST(CliEscaping, UnquoteRejectsMalformedStrings) {
  EXPECT_FALSE(Unquote("abc").ok());
  EXPECT_FALSE(Unquote("\"abc").ok());
  EXPECT_FALSE(Unquote("\"a\\q\"").ok());
  EXPECT_FALSE(Unquote("\"\\x4\"").ok());
  EXPECT_FALSE(Unquote("\"a\" b").ok());
  EXPECT_EQ(*Unquote("\"\\0\\x41\\\"\""), std::string("\0A\"", 3));
}

TEST(CliEscaping, HexAndBase64) {
  const std::string bytes("\x00\x01\xfe\xff hi", 7);
  EXPECT_EQ(HexEncode(bytes), "0001feff206869");
  EXPECT_EQ(*HexDecode("0001FEFF206869"), bytes);
  EXPECT_FALSE(HexDecode("abc").ok());
  EXPECT_FALSE(HexDecode("zz").ok());
  EXPECT_EQ(*Base64Decode(Base64Encode(bytes)), bytes);
  EXPECT_EQ(*Base64Decode("_-8"), "\xff\xef");  // URL-safe, no padding
  EXPECT_FALSE(Base64Decode("a*b=").ok());
}

TEST(CliScriptLexer, SplitsQuotesAndComments) {
  auto t = TokenizeLine("put  \"a b\"\tv\\x41  # comment \"x");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ((*t)[0].text, "put");
  EXPECT_EQ((*t)[1].text, "a b");
  EXPECT_TRUE((*t)[1].quoted);
  EXPECT_EQ((*t)[1].column, 6);
  EXPECT_EQ((*t)[2].text, "v\\x41");  // bare: no escapes
  EXPECT_FALSE((*t)[2].quoted);

  auto q = TokenizeLine("a#b \"\\x00\\n\" \"\"\r");
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_EQ(q->size(), 3u);
  EXPECT_EQ((*q)[0].text, "a#b");
  EXPECT_EQ((*q)[1].text, std::string("\0\n", 2));
  EXPECT_EQ((*q)[2].text, "");
  EXPECT_TRUE(TokenizeLine("   # only a comment")->empty());
}

TEST(CliScriptLexer, ErrorsNameTheColumn) {
  auto unterminated = TokenizeLine("put k \"abc");
  ASSERT_FALSE(unterminated.ok());
  EXPECT_EQ(unterminated.status().message(),
            "column 7: unterminated string (missing closing '\"')");
  auto escape = TokenizeLine("put \"a\\qb\" v");
  ASSERT_FALSE(escape.ok());
  EXPECT_TRUE(absl::StartsWith(escape.status().message(),
                               "column 7: unknown escape '\\q'"))
      << escape.status();
  auto glued = TokenizeLine("put \"a\"b v");
  ASSERT_FALSE(glued.ok());
  EXPECT_TRUE(absl::StartsWith(glued.status().message(), "column 8:"))
      << glued.status();
  auto inner = TokenizeLine("put a\"b v");
  ASSERT_FALSE(inner.ok());
  EXPECT_TRUE(absl::StartsWith(inner.status().message(), "column 6:"))
      << inner.status();
}

TEST(CliScript, ParsesEveryBatchStatement) {
  auto s = ParseScript(
      "# header\n"
      "put k v ttl 30s\n"
      "\n"
      "del k2\n"
      "delete k3\n"
      "del-range a b\n"
      "merge n add 5\n"
      "merge l append x \",\"\n"
      "if-exists e\n"
      "if-absent \"a b\"\n"
      "if-revision r 42\n"
      "if-value v \"\\x00\"\n",
      ScriptKind::kBatch);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), 10u);
  const auto& v = *s;
  EXPECT_EQ(v[0].kind, StatementKind::kPut);
  EXPECT_EQ(v[0].line, 2);
  EXPECT_EQ(v[0].ttl, absl::Seconds(30));
  EXPECT_EQ(v[0].source, "put k v ttl 30s");
  EXPECT_EQ(v[1].kind, StatementKind::kDelete);
  EXPECT_EQ(v[1].line, 4);
  EXPECT_EQ(v[2].kind, StatementKind::kDelete);
  EXPECT_EQ(v[3].kind, StatementKind::kDeleteRange);
  EXPECT_EQ(v[3].key, "a");
  EXPECT_EQ(v[3].value, "b");
  EXPECT_EQ(v[4].merge_operator, "add");
  EXPECT_EQ(v[4].value, "5");
  EXPECT_EQ(v[5].merge_argument, ",");
  EXPECT_EQ(v[6].kind, StatementKind::kIfExists);
  EXPECT_EQ(v[7].key, "a b");
  EXPECT_EQ(v[8].revision, 42u);
  EXPECT_EQ(v[9].value, std::string("\0", 1));
  EXPECT_TRUE(v[9].is_condition());
}

TEST(CliScript, ParsesTxnStatements) {
  auto s = ParseScript(
      "get k\n"
      "scan\n"
      "scan prefix p limit 5 reverse\n"
      "scan a z keys-only\n"
      "scan \"limit\"\n"
      "put k v\n"
      "commit\n",
      ScriptKind::kTxn);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), 7u);
  EXPECT_EQ((*s)[1].scan.start, "");
  EXPECT_EQ((*s)[2].scan.prefix, "p");
  EXPECT_EQ((*s)[2].scan.limit, 5u);
  EXPECT_TRUE((*s)[2].scan.reverse);
  EXPECT_EQ((*s)[3].scan.start, "a");
  EXPECT_EQ((*s)[3].scan.end, "z");
  EXPECT_TRUE((*s)[3].scan.keys_only);
  EXPECT_EQ((*s)[4].scan.start, "limit");  // quoted: a key, not a keyword
  EXPECT_EQ((*s)[6].kind, StatementKind::kCommit);
}

TEST(CliScript, ErrorsNameTheLine) {
  struct Case {
    const char* script;
    ScriptKind kind;
    const char* error;
  } cases[] = {
      {"put a 1\nput b\n", ScriptKind::kBatch, "line 2: put: missing VALUE"},
      {"\n\nfrob x\n", ScriptKind::kBatch, "line 3: unknown statement 'frob'"},
      {"get a\n", ScriptKind::kBatch, "line 1: 'get' is only allowed in txn"},
      {"put \"\" v\n", ScriptKind::kBatch, "line 1: put: KEY is empty"},
      {"put k v ttl -1s\n", ScriptKind::kBatch, "line 1: put: ttl is not"},
      {"del-range b a\n", ScriptKind::kBatch, "line 1: del-range: START must"},
      {"if-revision k x\n", ScriptKind::kBatch,
       "line 1: if-revision: REVISION"},
      {"del a b\n", ScriptKind::kBatch, "line 1: column 7: del: unexpected"},
      {"", ScriptKind::kBatch, "the batch is empty"},
      {"put a 1\n", ScriptKind::kTxn, "line 1: the script ends without"},
      {"commit\nput a 1\n", ScriptKind::kTxn, "line 2: statement after commit"},
      {"scan limit\ncommit\n", ScriptKind::kTxn, "line 1: scan: missing"},
  };
  for (const Case& c : cases) {
    auto s = ParseScript(c.script, c.kind);
    ASSERT_FALSE(s.ok()) << c.script;
    EXPECT_TRUE(absl::StartsWith(s.status().message(), c.error))
        << "script '" << c.script << "': " << s.status();
  }
}

TEST(CliScript, PrefixEnd) {
  EXPECT_EQ(PrefixEnd("abc"), "abd");
  EXPECT_EQ(PrefixEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixEnd("\xff\xff"), "");
  EXPECT_EQ(PrefixEnd(""), "");
}

Struct ParseJson(const std::string& text) {
  Struct s;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &s).ok())
      << text;
  return s;
}

TEST(CliJsonWriter, BytesAreTextOrBase64) {
  const std::string binary("\x00\xff\x10", 3);
  std::string json = JsonWriter()
                         .AddBytes("key", "a\"b\\c\n\x01")
                         .AddBytes("value", binary)
                         .AddBytes("nul", std::string("a\0b", 3))
                         .AddUint("seq", 18446744073709551615ull)
                         .AddInt("neg", -1)
                         .AddBool("ok", true)
                         .AddDouble("lag", 0.5)
                         .BeginArray("list")
                         .AddElement("1")
                         .AddElement("{\"x\":2}")
                         .EndArray()
                         .Finish();
  EXPECT_TRUE(absl::StrContains(json, "\"seq\":18446744073709551615")) << json;
  Struct s = ParseJson(json);
  EXPECT_EQ(s.fields().at("key").string_value(), "a\"b\\c\n\x01");
  EXPECT_FALSE(s.fields().contains("value"));
  std::string decoded;
  ASSERT_TRUE(absl::Base64Unescape(s.fields().at("value_base64").string_value(),
                                   &decoded));
  EXPECT_EQ(decoded, binary);
  EXPECT_TRUE(s.fields().contains("nul_base64"));
  EXPECT_EQ(s.fields().at("neg").number_value(), -1);
  EXPECT_TRUE(s.fields().at("ok").bool_value());
  EXPECT_EQ(s.fields().at("lag").number_value(), 0.5);
  EXPECT_EQ(s.fields().at("list").list_value().values_size(), 2);
}

TEST(CliJsonWriter, MessageToJsonUsesProtoNamesAndNumbers) {
  v1::StatsResponse stats;
  stats.set_last_seq(9007199254740993ull);  // above 2^53: exact in the text
  stats.set_version("0.1.0");
  stats.set_write_amplification(1.5);
  stats.add_levels()->set_files(3);
  std::string json = MessageToJson(stats);
  EXPECT_TRUE(absl::StrContains(json, "\"last_seq\":9007199254740993")) << json;
  Struct s = ParseJson(json);
  EXPECT_EQ(s.fields().at("version").string_value(), "0.1.0");
  EXPECT_EQ(s.fields().at("write_amplification").number_value(), 1.5);
  EXPECT_EQ(s.fields().at("flushed_seq").number_value(), 0);  // defaults too
  EXPECT_FALSE(s.fields().at("write_stopped").bool_value());
  const auto& levels = s.fields().at("levels").list_value();
  ASSERT_EQ(levels.values_size(), 1);
  EXPECT_EQ(levels.values(0).struct_value().fields().at("files").number_value(),
            3);
}

}  // namespace
}  // namespace cairn::cli
