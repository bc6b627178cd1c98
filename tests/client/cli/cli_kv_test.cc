// `cairn` key-value subcommands against a real cairnd: put, get/mget, del,
// del-range, scan, merge, snapshots; exit codes, text and --json output,
// binary keys and values through --hex/--base64/--escaped and back.
#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli_test_util.h"

namespace cairn::test {
namespace {

class CliKvTest : public CliTest {
 protected:
  // ServerArgs: a tiny scan chunk, so that scans cross chunk boundaries.
  std::vector<std::string> ServerArgs() const override {
    return {"--durability=async", "--scan_chunk_keys=3"};
  }
};

std::string Base64Field(const Struct& s, const std::string& field) {
  std::string out;
  EXPECT_TRUE(absl::Base64Unescape(Str(s, field + "_base64"), &out)) << field;
  return out;
}

TEST_F(CliKvTest, PutThenGetTextAndJson) {
  EXPECT_EQ(Expect(0, {"put", "greeting", "hello world"}), "OK seq=1\n");
  EXPECT_EQ(Expect(0, {"get", "greeting"}), "hello world\n");

  Struct put = ExpectJson(0, {"put", "greeting", "again"});
  EXPECT_EQ(Num(put, "seq"), 2);
  Struct get = ExpectJson(0, {"get", "greeting"});
  EXPECT_EQ(Str(get, "key"), "greeting");
  EXPECT_TRUE(Bool(get, "found"));
  EXPECT_EQ(Str(get, "value"), "again");
  EXPECT_EQ(Num(get, "revision"), 2);
  EXPECT_EQ(Num(get, "expires_at_unix_micros"), 0);
  EXPECT_EQ(Num(get, "read_seq"), 2);

  std::string verbose = Expect(0, {"get", "--verbose", "greeting"});
  EXPECT_NE(verbose.find("revision:  2\n"), std::string::npos) << verbose;
  EXPECT_NE(verbose.find("expires:   never\n"), std::string::npos) << verbose;
}

TEST_F(CliKvTest, GetOfAbsentKeyExitsOne) {
  CliResult r = Cairn({"get", "missing"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "cairn get: missing: not found\n");

  Struct j = ExpectJson(1, {"get", "missing"});
  EXPECT_FALSE(Bool(j, "found"));
  EXPECT_FALSE(Has(j, "value"));
  EXPECT_TRUE(Has(j, "read_seq"));
}

TEST_F(CliKvTest, MultiGetReadsAtOneSequence) {
  Expect(0, {"put", "a", "1"});
  Expect(0, {"put", "b", "2"});
  EXPECT_EQ(Expect(0, {"get", "a", "b"}), "a\t1\nb\t2\n");
  EXPECT_EQ(Expect(1, {"mget", "a", "nope", "b"}),
            "a\t1\nnope\t(not found)\nb\t2\n");
  Struct j = ExpectJson(1, {"mget", "a", "nope"});
  EXPECT_EQ(Num(j, "read_seq"), 2);
  const auto& results = Field(j, "results").list_value();
  ASSERT_EQ(results.values_size(), 2);
  const Struct& a = results.values(0).struct_value();
  EXPECT_EQ(Str(a, "key"), "a");
  EXPECT_EQ(Str(a, "value"), "1");
  EXPECT_EQ(Num(a, "revision"), 1);
  EXPECT_FALSE(Bool(results.values(1).struct_value(), "found"));
  EXPECT_EQ(Json(Expect(0, {"get", "a", "b", "--json"})).fields().size(), 2u);
}

TEST_F(CliKvTest, BinaryKeysAndValuesRoundTrip) {
  const std::string key("\x00k\xff", 3);
  const std::string value("v\x01\n\xfe", 4);
  // Written as hex, read back through every form.
  Expect(0, {"put", "--hex", "006bff", "76010afe"});
  Struct j = ExpectJson(0, {"get", "--base64", absl::Base64Escape(key)});
  EXPECT_EQ(Base64Field(j, "key"), key);
  EXPECT_EQ(Base64Field(j, "value"), value);
  EXPECT_FALSE(Has(j, "key"));

  // Text output quotes with escapes; the quoted form is accepted back.
  EXPECT_EQ(Expect(0, {"get", "--hex", "006bff"}), "\"v\\x01\\n\\xfe\"\n");
  std::string listing = Expect(0, {"scan"});
  EXPECT_EQ(listing, "\"\\x00k\\xff\"\t\"v\\x01\\n\\xfe\"\n");
  EXPECT_EQ(Expect(0, {"get", "--escaped", "\"\\x00k\\xff\""}),
            "\"v\\x01\\n\\xfe\"\n");
  EXPECT_EQ(Expect(0, {"get", "--escaped", "\\x00k\\xff"}),
            "\"v\\x01\\n\\xfe\"\n");
  // --raw: the bytes as stored.
  EXPECT_EQ(Expect(0, {"get", "--raw", "--hex", "006bff"}), value);

  // JSON of scan and of a text key with a control character.
  Expect(0, {"put", "--escaped", "tab\\there", "x"});
  std::vector<Struct> rows = JsonLines(Expect(0, {"scan", "--json"}));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(Base64Field(rows[0], "key"), key);
  EXPECT_EQ(Str(rows[1], "key"), "tab\there");

  // Undecodable arguments are usage errors naming the argument.
  CliResult bad = Cairn({"get", "--hex", "zz"});
  EXPECT_EQ(bad.exit_code, 2) << bad;
  EXPECT_NE(bad.err.find("KEY: not hex"), std::string::npos) << bad;
  EXPECT_EQ(Cairn({"get", "--base64", "!!"}).exit_code, 2);
  EXPECT_EQ(Cairn({"get", "--escaped", "a\\q"}).exit_code, 2);
  EXPECT_EQ(Cairn({"get", "--hex", "--base64", "00"}).exit_code, 2);
  EXPECT_EQ(Cairn({"put", "", "v"}).exit_code, 2);
}

TEST_F(CliKvTest, ValueFromStdinAndFile) {
  const std::string blob("line1\nline2\x00\xff", 13);
  CliOptions in;
  in.stdin_data = blob;
  CliResult r = Cairn({"put", "blob"}, in);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(Expect(0, {"get", "--raw", "blob"}), blob);

  const std::string path = TempDir() + "/value.bin";
  WriteFile(path, "from a file");
  Expect(0, {"put", "--value-file", path, "f"});
  EXPECT_EQ(Expect(0, {"get", "f"}), "from a file\n");
  EXPECT_EQ(Cairn({"put", "--value-file", path, "f", "both"}).exit_code, 2);
  EXPECT_EQ(Cairn({"put", "--value-file", path + ".missing", "f"}).exit_code,
            2);
}

TEST_F(CliKvTest, PutWithTtlAndDurability) {
  const double now = static_cast<double>(absl::ToUnixMicros(absl::Now()));
  Expect(0, {"put", "--ttl", "1h", "--durability", "sync", "s", "v"});
  Struct j = ExpectJson(0, {"get", "s"});
  EXPECT_GT(Num(j, "expires_at_unix_micros"), now + 3500e6);
  EXPECT_LT(Num(j, "expires_at_unix_micros"), now + 3700e6);

  Expect(0, {"put", "--expires-at", "2100-01-01T00:00:00Z", "abs", "v"});
  EXPECT_EQ(Num(ExpectJson(0, {"get", "abs"}), "expires_at_unix_micros"),
            4102444800e6);

  Expect(0, {"put", "--durability=async", "a", "v"});
  Expect(0, {"del", "--durability", "sync", "a"});
  EXPECT_EQ(Cairn({"put", "--durability", "fast", "a", "v"}).exit_code, 2);
  EXPECT_EQ(Cairn({"put", "--ttl", "soon", "a", "v"}).exit_code, 2);
  EXPECT_EQ(Cairn({"put", "--ttl", "1s", "--expires-at", "2100-01-01T00:00:00Z",
                   "a", "v"})
                .exit_code,
            2);
  EXPECT_EQ(Cairn({"put", "--expires-at", "tomorrow", "a", "v"}).exit_code, 2);

  // A TTL that passes: the key is gone.
  Expect(0, {"put", "--ttl", "200ms", "short", "v"});
  absl::SleepFor(absl::Milliseconds(400));
  Expect(1, {"get", "short"});
}

TEST_F(CliKvTest, DeleteAndDeleteRange) {
  for (const char* k : {"a", "b", "c", "p/1", "p/2", "q"}) {
    Expect(0, {"put", k, "v"});
  }
  Struct d = ExpectJson(0, {"del", "a"});
  EXPECT_EQ(Num(d, "seq"), 7);
  Expect(1, {"get", "a"});
  Expect(0, {"del", "b", "c", "never-existed"});  // one atomic batch
  Expect(1, {"get", "b"});
  Expect(1, {"get", "c"});

  Expect(0, {"del-range", "--prefix", "p/"});
  EXPECT_EQ(Expect(0, {"scan", "--keys-only"}), "q\n");
  Expect(0, {"put", "r", "v"});
  Expect(0, {"del-range", "q", "r"});  // END excluded
  EXPECT_EQ(Expect(0, {"scan", "--keys-only"}), "r\n");

  EXPECT_EQ(Cairn({"del-range", "z", "a"}).exit_code, 2);
  EXPECT_EQ(Cairn({"del-range", "a"}).exit_code, 2);
  EXPECT_EQ(Cairn({"del-range", "--prefix", "p", "a", "b"}).exit_code, 2);
  EXPECT_EQ(Cairn({"del"}).exit_code, 2);
}

TEST_F(CliKvTest, ScanOptions) {
  for (int i = 0; i < 10; ++i) {
    Expect(0, {"put", absl::StrCat("k", i), absl::StrCat("v", i)});
  }
  Expect(0, {"put", "other", "x"});
  std::vector<std::string> all = Lines(Expect(0, {"scan", "--prefix", "k"}));
  ASSERT_EQ(all.size(), 10u);  // across chunks of 3
  EXPECT_EQ(all[0], "k0\tv0");
  EXPECT_EQ(all[9], "k9\tv9");

  EXPECT_EQ(Expect(0, {"scan", "--start", "k3", "--end", "k6", "--keys-only"}),
            "k3\nk4\nk5\n");
  EXPECT_EQ(Expect(0, {"scan", "--prefix", "k", "--reverse", "--limit", "4",
                       "--keys-only"}),
            "k9\nk8\nk7\nk6\n");
  EXPECT_EQ(Expect(0, {"scan", "--start", "k8"}), "k8\tv8\nk9\tv9\nother\tx\n");
  EXPECT_EQ(Expect(0, {"scan", "--prefix", "k", "--count"}), "10\n");
  Struct count = ExpectJson(0, {"scan", "--count"});
  EXPECT_EQ(Num(count, "count"), 11);
  EXPECT_EQ(Num(count, "read_seq"), 11);

  std::vector<Struct> rows =
      JsonLines(Expect(0, {"scan", "--json", "--prefix", "k", "--limit", "2"}));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(Str(rows[1], "key"), "k1");
  EXPECT_EQ(Str(rows[1], "value"), "v1");
  EXPECT_EQ(Num(rows[1], "revision"), 2);
  std::vector<Struct> keys =
      JsonLines(Expect(0, {"scan", "--json", "--keys-only", "--prefix", "k"}));
  ASSERT_EQ(keys.size(), 10u);
  EXPECT_FALSE(Has(keys[0], "value"));

  EXPECT_EQ(Expect(0, {"scan", "--prefix", "nothing"}), "");
  EXPECT_EQ(Cairn({"scan", "--prefix", "k", "--start", "a"}).exit_code, 2);
  EXPECT_EQ(Cairn({"scan", "--start", "b", "--end", "a"}).exit_code, 2);
  EXPECT_EQ(Cairn({"scan", "--limit", "-1"}).exit_code, 2);
  EXPECT_EQ(Cairn({"scan", "extra"}).exit_code, 2);
}

TEST_F(CliKvTest, MergeOperators) {
  Expect(0, {"merge", "n", "add", "10"});
  Expect(0, {"merge", "n", "add", "-3"});
  EXPECT_EQ(Expect(0, {"get", "n"}), "7\n");
  Expect(0, {"merge", "m", "max", "5"});
  Expect(0, {"merge", "m", "max", "2"});
  EXPECT_EQ(Expect(0, {"get", "m"}), "5\n");
  Expect(0, {"merge", "tags", "append", "red", ","});
  Struct j = ExpectJson(0, {"merge", "tags", "append", "blue", ","});
  EXPECT_EQ(Num(j, "seq"), 6);
  EXPECT_EQ(Expect(0, {"get", "tags"}), "red,blue\n");

  CliResult bad = Cairn({"merge", "n", "sum", "1"});
  EXPECT_EQ(bad.exit_code, 3) << bad;
  EXPECT_EQ(bad.err.rfind("cairn: INVALID_ARGUMENT: ", 0), 0u) << bad;
  EXPECT_EQ(Cairn({"merge", "n", "add"}).exit_code, 2);
}

TEST_F(CliKvTest, SnapshotReads) {
  Expect(0, {"put", "k", "old"});
  Expect(0, {"put", "j", "old"});
  std::string seq = Lines(Expect(0, {"snapshot", "acquire", "--ttl", "1m"}))[0];
  EXPECT_EQ(seq, "2");
  Expect(0, {"put", "k", "new"});
  EXPECT_EQ(Expect(0, {"get", "--snapshot", seq, "k"}), "old\n");
  EXPECT_EQ(Expect(0, {"get", "k"}), "new\n");
  EXPECT_EQ(Expect(0, {"mget", "--snapshot", seq, "j", "k"}),
            "j\told\nk\told\n");
  EXPECT_EQ(Expect(0, {"scan", "--snapshot", seq}), "j\told\nk\told\n");

  Struct acquired = ExpectJson(0, {"snapshot", "acquire"});
  EXPECT_EQ(Num(acquired, "seq"), 3);
  EXPECT_GT(Num(acquired, "expires_at_unix_micros"), 0);

  EXPECT_EQ(Expect(0, {"snapshot", "release", seq}), "OK\n");
  CliResult gone = Cairn({"get", "--snapshot", seq, "k"});
  EXPECT_EQ(gone.exit_code, 3) << gone;
  EXPECT_EQ(gone.err.rfind("cairn: FAILED_PRECONDITION: ", 0), 0u) << gone;
  EXPECT_EQ(Cairn({"snapshot", "release", "12345"}).exit_code, 1);
  EXPECT_EQ(Cairn({"snapshot", "release", "x"}).exit_code, 2);
  EXPECT_EQ(Cairn({"snapshot", "frob"}).exit_code, 2);
  EXPECT_EQ(Cairn({"get", "--snapshot", "-1", "k"}).exit_code, 2);
}

}  // namespace
}  // namespace cairn::test
