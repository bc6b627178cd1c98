// The bad-input matrix of cairnd, part 5: clients that misbehave on streams.
// Scan, Tail and Txn streams abandoned mid-way (the client cancels, drops its
// connection, or lets the deadline pass) and clients that open a big Scan or
// a Tail under a fast writer and never read. Each case checks that the server
// lets go of what the stream held (cairn_server_streams_open back to 0,
// Stats.snapshots back to its value before, a transaction rolled back), that
// its anonymous memory stays bounded while the clients do not read, that
// other clients keep being served meanwhile, and that nothing changed (a full
// scan and Stats.last_seq compared before and after). Part 6 checks messages
// at the largest sizes the limits allow. See bad_input_test.cc.
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cairn/v1/admin.grpc.pb.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "cairn/v1/replication.grpc.pb.h"
#include "gtest/gtest.h"
#include "server_test_util.h"
#include "txn_stream.h"

namespace cairn::test {
namespace {

using grpc::StatusCode;

// RssAnon of a process, in bytes (0 if unreadable).
uint64_t AnonRss(pid_t pid) {
  std::ifstream f(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("RssAnon:", 0) != 0) continue;
    std::string digits;
    for (char c : line) {
      if (c >= '0' && c <= '9') digits.push_back(c);
    }
    uint64_t kb = 0;
    if (absl::SimpleAtoi(digits, &kb)) return kb << 10;
  }
  return 0;
}

// A channel with a TCP connection of its own (no subchannel sharing), so
// that destroying it closes the connection, and no receive-size limit. With
// `small_window`, HTTP/2 flow control lets at most about 64 KiB of a stream
// the client does not read reach it (no BDP probing to grow the window), so
// that a scan over a few MiB is still open on the server after one chunk.
std::shared_ptr<grpc::Channel> OwnChannel(const std::string& address,
                                          bool small_window = false) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(-1);
  if (small_window) {
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 << 10);
  }
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

// How a client abandons a stream.
enum class Abandon { kCancel, kDropConnection, kDeadline };
const char* Name(Abandon a) {
  switch (a) {
    case Abandon::kCancel:
      return "cancel";
    case Abandon::kDropConnection:
      return "drop connection";
    case Abandon::kDeadline:
      return "deadline";
  }
  return "?";
}

class AbandonTest : public CairndSuite {
 protected:
  static void SetUpTestSuite() {
    // Under AddressSanitizer, freed memory waits in a quarantine (256 MiB by
    // default) before reuse, which would count as growth: keep it small for
    // the server (cairnd inherits the environment; a cairnd without ASan
    // ignores it).
    const char* asan = std::getenv("ASAN_OPTIONS");
    setenv("ASAN_OPTIONS",
           absl::StrCat(asan != nullptr ? asan : "",
                        asan != nullptr && *asan != '\0' ? ":" : "",
                        "quarantine_size_mb=8")
               .c_str(),
           1);
    CairndOptions o;
    // Small memtables and block cache: the memory a misbehaving client could
    // make the server hold stands out against them.
    o.args = {"--durability=async", "--write_buffer_bytes=8MiB",
              "--block_cache_bytes=4MiB", "--tail_progress_interval=100ms"};
    StartSuiteServer(std::move(o));
  }
  void SetUp() override {
    CairndSuite::SetUp();
    if (HasFatalFailure()) return;
    channel_ = server_->Channel();
    kv_ = v1::KV::NewStub(channel_);
    admin_ = v1::Admin::NewStub(channel_);
    repl_ = v1::Replication::NewStub(channel_);
  }

  v1::StatsResponse Stats() {
    v1::StatsResponse st;
    grpc::Status s = admin_->Stats(Ctx().get(), v1::StatsRequest(), &st);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return st;
  }

  // cairn_server_streams_open{kind="<kind>"} from /metrics (-1 if absent).
  int OpenStreams(const std::string& kind) {
    return static_cast<int>(MetricValue(
        *server_,
        absl::StrCat("cairn_server_streams_open{kind=\"", kind, "\"}")));
  }

  // Waits (at most 20 s) until no stream of any kind is open and the engine
  // holds `snapshots` snapshots; true if that happened.
  bool EverythingReleased(int snapshots = 0) {
    const absl::Time until = absl::Now() + absl::Seconds(20);
    while (true) {
      const bool done = OpenStreams("scan") == 0 && OpenStreams("txn") == 0 &&
                        OpenStreams("tail") == 0 &&
                        Stats().snapshots() == snapshots;
      if (done) return true;
      if (absl::Now() > until) {
        ADD_FAILURE() << "streams open: scan " << OpenStreams("scan") << " txn "
                      << OpenStreams("txn") << " tail " << OpenStreams("tail")
                      << "; snapshots " << Stats().snapshots() << " (want "
                      << snapshots << ")";
        return false;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  }

  // Half of the readers (each with its own channel, context and reader) go
  // away without a word, the others cancel: the server must release every
  // stream, and each cancelled call ends CANCELLED.
  template <typename Response, typename Reader>
  void AbandonHalf(std::vector<Reader>& readers) {
    for (size_t i = 0; i < readers.size(); ++i) {
      if (i % 2 == 0) {
        readers[i] = Reader();
      } else {
        readers[i].ctx->TryCancel();
      }
    }
    EXPECT_TRUE(EverythingReleased());
    for (Reader& r : readers) {
      if (r.reader == nullptr) continue;
      Response response;
      while (r.reader->Read(&response)) {
      }
      EXPECT_EQ(r.reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
    }
  }

  // Waits (at most 20 s) until `n` streams of `kind` are open.
  bool StreamsOpen(const std::string& kind, int n) {
    const absl::Time until = absl::Now() + absl::Seconds(20);
    while (OpenStreams(kind) != n) {
      if (absl::Now() > until) return false;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return true;
  }

  // Every key and value under `prefix`, as one string, with the read's
  // status checked.
  std::string Dump(const std::string& prefix) {
    v1::ScanRequest req;
    req.set_prefix(prefix);
    auto ctx = Ctx();
    auto reader = kv_->Scan(ctx.get(), req);
    v1::ScanResponse chunk;
    std::string out;
    while (reader->Read(&chunk)) {
      for (const auto& kv : chunk.kvs()) {
        absl::StrAppend(&out, kv.key().size(), ":", kv.key(), "=",
                        kv.value().size(), ":", kv.value(), "@", kv.revision(),
                        ";");
      }
    }
    grpc::Status s = reader->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  // Writes `count` values of `bytes` bytes under `prefix` in Batches of 16.
  void Fill(const std::string& prefix, int count, size_t bytes) {
    const std::string value(bytes, 'v');
    for (int i = 0; i < count; i += 16) {
      v1::BatchRequest b;
      for (int j = i; j < std::min(count, i + 16); ++j) {
        auto* p = b.add_ops()->mutable_put();
        p->set_key(absl::StrCat(prefix, absl::Dec(j, absl::kZeroPad6)));
        p->set_value(value);
      }
      v1::BatchResponse r;
      grpc::Status s = kv_->Batch(Ctx().get(), b, &r);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
  }

  // A Get, a Put and a small Scan on a fresh connection, each within 5 s:
  // the server still serves other clients.
  void ExpectOthersServed(const std::string& key) {
    auto channel = OwnChannel(server_->address());
    auto kv = v1::KV::NewStub(channel);
    v1::PutRequest p;
    p.set_key(key);
    p.set_value("served");
    v1::PutResponse pr;
    grpc::Status s = kv->Put(Ctx(absl::Seconds(5)).get(), p, &pr);
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::GetRequest g;
    g.set_key(key);
    v1::GetResponse gr;
    s = kv->Get(Ctx(absl::Seconds(5)).get(), g, &gr);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(gr.value(), "served");
    v1::ScanRequest sr;
    sr.set_prefix(key);
    auto ctx = Ctx(absl::Seconds(5));
    auto reader = kv->Scan(ctx.get(), sr);
    v1::ScanResponse chunk;
    int keys = 0;
    while (reader->Read(&chunk)) keys += chunk.kvs_size();
    s = reader->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(keys, 1);
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::KV::Stub> kv_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::unique_ptr<v1::Replication::Stub> repl_;
};

TEST_F(AbandonTest, ScanAbandonedMidStream) {
  // 4 MiB in 64 KiB values: a scan of it takes several 1 MiB chunks.
  Fill("scan/", 64, 64 << 10);
  ASSERT_TRUE(EverythingReleased());
  const std::string before = Dump("scan/");
  const uint64_t last = Stats().last_seq();
  for (Abandon how :
       {Abandon::kCancel, Abandon::kDropConnection, Abandon::kDeadline}) {
    SCOPED_TRACE(Name(how));
    auto channel = OwnChannel(server_->address(), /*small_window=*/true);
    auto kv = v1::KV::NewStub(channel);
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(absl::ToChronoTime(
        absl::Now() +
        (how == Abandon::kDeadline ? absl::Seconds(2) : absl::Seconds(60))));
    v1::ScanRequest req;
    req.set_prefix("scan/");
    auto reader = kv->Scan(ctx.get(), req);
    v1::ScanResponse chunk;
    ASSERT_TRUE(reader->Read(&chunk));  // mid-way: one chunk of several
    ASSERT_GT(chunk.kvs_size(), 0);
    ASSERT_LT(chunk.kvs_size(), 64);
    ASSERT_TRUE(StreamsOpen("scan", 1));
    switch (how) {
      case Abandon::kCancel:
        ctx->TryCancel();
        while (reader->Read(&chunk)) {
        }
        EXPECT_EQ(reader->Finish().error_code(), StatusCode::CANCELLED);
        break;
      case Abandon::kDropConnection:
        // The client goes away without a word: its connection closes.
        reader.reset();
        ctx.reset();
        kv.reset();
        channel.reset();
        break;
      case Abandon::kDeadline:
        // The client stops reading until its deadline has passed.
        ASSERT_TRUE(EverythingReleased());
        break;
    }
    EXPECT_TRUE(EverythingReleased());
    if (reader != nullptr && how == Abandon::kDeadline) {
      while (reader->Read(&chunk)) {
      }
      EXPECT_EQ(reader->Finish().error_code(), StatusCode::DEADLINE_EXCEEDED);
    }
  }
  EXPECT_EQ(Dump("scan/"), before);
  EXPECT_EQ(Stats().last_seq(), last);
}

TEST_F(AbandonTest, TxnAbandonedMidStreamIsRolledBack) {
  Fill("txn/", 4, 10);
  ASSERT_TRUE(EverythingReleased());
  const std::string before = Dump("txn/");
  const uint64_t last = Stats().last_seq();
  for (Abandon how :
       {Abandon::kCancel, Abandon::kDropConnection, Abandon::kDeadline}) {
    SCOPED_TRACE(Name(how));
    auto channel = OwnChannel(server_->address());
    auto kv = v1::KV::NewStub(channel);
    // (A scan's read view is not an engine snapshot; a transaction's is.)
    auto t = std::make_unique<TxnStream>(kv.get(), how == Abandon::kDeadline
                                                       ? absl::Seconds(2)
                                                       : absl::Seconds(60));
    // Reads, a scan and buffered writes, then the client vanishes.
    ASSERT_TRUE(t->Send(TBegin()));
    ASSERT_TRUE(t->Send(TGet("txn/000000")));
    v1::TxnRequest scan;
    scan.mutable_scan()->set_prefix("txn/");
    ASSERT_TRUE(t->Send(scan));
    ASSERT_TRUE(t->Send(TPut("txn/000000", "abandoned")));
    ASSERT_TRUE(t->Send(TPut("txn/new", "abandoned")));
    ASSERT_TRUE(StreamsOpen("txn", 1));
    EXPECT_EQ(Stats().snapshots(), 1);  // the transaction's snapshot
    switch (how) {
      case Abandon::kCancel:
        t->context()->TryCancel();
        EXPECT_EQ(t->Finish().error_code(), StatusCode::CANCELLED);
        break;
      case Abandon::kDropConnection:
        // No WritesDone, no cancel from the application: the connection
        // closes under the open stream.
        t.reset();
        channel.reset();
        break;
      case Abandon::kDeadline:
        ASSERT_TRUE(EverythingReleased());
        EXPECT_EQ(t->Finish().error_code(), StatusCode::DEADLINE_EXCEEDED);
        break;
    }
    EXPECT_TRUE(EverythingReleased());
    // Rolled back, and no trace of it stands in another transaction's way.
    EXPECT_EQ(Dump("txn/"), before);
    EXPECT_EQ(Stats().last_seq(), last);
  }
  TxnStream t(kv_.get());
  ASSERT_TRUE(t.Send(TBegin()));
  ASSERT_TRUE(t.Send(TGet("txn/000000")));
  ASSERT_TRUE(t.Send(TPut("txn/000000", "committed")));
  v1::TxnResponse committed;
  ASSERT_TRUE(t.Send(TCommit(), &committed));
  EXPECT_TRUE(committed.has_committed());
  EXPECT_TRUE(t.Finish().ok());
  EXPECT_EQ(Stats().last_seq(), last + 1);
}

TEST_F(AbandonTest, TailAbandonedMidStreamKeepsTheConsumersAck) {
  // A named consumer acknowledges half of what it read, then the client
  // vanishes: the server keeps exactly the acknowledged position.
  const uint64_t start = Stats().last_seq() + 1;
  Fill("tail/", 64, 1000);  // 4 batches of 16
  const uint64_t last = Stats().last_seq();
  for (Abandon how :
       {Abandon::kCancel, Abandon::kDropConnection, Abandon::kDeadline}) {
    SCOPED_TRACE(Name(how));
    const std::string consumer = absl::StrCat(
        "abandon-", how == Abandon::kCancel           ? "cancel"
                    : how == Abandon::kDropConnection ? "drop"
                                                      : "deadline");
    auto channel = OwnChannel(server_->address());
    auto repl = v1::Replication::NewStub(channel);
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(absl::ToChronoTime(
        absl::Now() +
        (how == Abandon::kDeadline ? absl::Seconds(2) : absl::Seconds(60))));
    v1::TailRequest req;
    req.set_from_seq(start);
    req.set_consumer(consumer);
    auto reader = repl->Tail(ctx.get(), req);
    v1::TailResponse r;
    uint64_t seen = 0;
    while (seen < start + 20 && reader->Read(&r)) {
      for (const auto& e : r.events()) {
        EXPECT_EQ(e.seq(), seen == 0 ? start : seen + 1);
        seen = e.seq();
      }
    }
    ASSERT_GE(seen, start + 20);
    const uint64_t acked = start + 10;
    v1::AckRequest ack;
    ack.set_consumer(consumer);
    ack.set_seq(acked);
    v1::AckResponse ar;
    ASSERT_TRUE(repl_->Ack(Ctx().get(), ack, &ar).ok());
    ASSERT_TRUE(StreamsOpen("tail", 1));
    switch (how) {
      case Abandon::kCancel:
        ctx->TryCancel();
        while (reader->Read(&r)) {
        }
        EXPECT_EQ(reader->Finish().error_code(), StatusCode::CANCELLED);
        break;
      case Abandon::kDropConnection:
        reader.reset();
        ctx.reset();
        repl.reset();
        channel.reset();
        break;
      case Abandon::kDeadline:
        // Stops reading; the deadline ends the stream.
        ASSERT_TRUE(EverythingReleased());
        while (reader->Read(&r)) {
        }
        EXPECT_EQ(reader->Finish().error_code(), StatusCode::DEADLINE_EXCEEDED);
        break;
    }
    EXPECT_TRUE(EverythingReleased());
    v1::ListConsumersResponse lr;
    ASSERT_TRUE(
        repl_->ListConsumers(Ctx().get(), v1::ListConsumersRequest(), &lr)
            .ok());
    bool found = false;
    for (const auto& c : lr.consumers()) {
      if (c.name() != consumer) continue;
      found = true;
      EXPECT_EQ(c.acked_seq(), acked);
      EXPECT_EQ(c.lag_seqs(), last - acked);
    }
    EXPECT_TRUE(found);
    // Resuming delivers from the acknowledged position on, without a gap.
    grpc::ClientContext rctx;
    rctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::TailRequest resume;
    resume.set_consumer(consumer);
    auto again = repl_->Tail(&rctx, resume);
    uint64_t next = acked + 1;
    while (next <= last && again->Read(&r)) {
      for (const auto& e : r.events()) {
        EXPECT_EQ(e.seq(), next);
        next = e.seq() + 1;
      }
    }
    EXPECT_EQ(next, last + 1);
    rctx.TryCancel();
    while (again->Read(&r)) {
    }
    again->Finish().IgnoreError();
    v1::DropConsumerRequest drop;
    drop.set_consumer(consumer);
    v1::DropConsumerResponse dr;
    EXPECT_TRUE(repl_->DropConsumer(Ctx().get(), drop, &dr).ok());
  }
  EXPECT_TRUE(EverythingReleased());
  EXPECT_EQ(Stats().last_seq(), last);
}

// Clients that open a stream over far more data than fits in flight and
// never read it. While they hold the streams the server's anonymous memory
// stays within kMemoryBound of what it was before (had it buffered the data
// the streams cover, it would grow by kReaders x the data), other clients are
// served, and when the clients go away every stream and snapshot is released.
constexpr int kReaders = 6;
constexpr uint64_t kMemoryBound = 96ull << 20;

TEST_F(AbandonTest, ScanClientsThatNeverRead) {
  // 48 MiB: kReaders of them buffered would be 288 MiB.
  Fill("big/", 768, 64 << 10);
  ASSERT_TRUE(EverythingReleased());
  const uint64_t last = Stats().last_seq();
  const uint64_t rss_before = AnonRss(server_->pid());
  ASSERT_GT(rss_before, 0u);

  struct Reader {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::KV::Stub> kv;
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientReader<v1::ScanResponse>> reader;
  };
  std::vector<Reader> readers(kReaders);
  for (int i = 0; i < kReaders; ++i) {
    Reader& r = readers[i];
    r.channel = OwnChannel(server_->address());
    r.kv = v1::KV::NewStub(r.channel);
    r.ctx = Ctx(absl::Seconds(120));
    v1::ScanRequest req;
    req.set_prefix("big/");
    req.set_reverse(i % 2 == 1);
    r.reader = r.kv->Scan(r.ctx.get(), req);
    v1::ScanResponse chunk;
    ASSERT_TRUE(r.reader->Read(&chunk));  // started; then never read again
  }
  ASSERT_TRUE(StreamsOpen("scan", kReaders));
  // For two seconds, while they do not read: memory sampled, others served.
  uint64_t peak = 0;
  for (absl::Time until = absl::Now() + absl::Seconds(2); absl::Now() < until;
       absl::SleepFor(absl::Milliseconds(100))) {
    peak = std::max(peak, AnonRss(server_->pid()));
  }
  ExpectOthersServed("big-other");
  peak = std::max(peak, AnonRss(server_->pid()));
  printf(
      "server RssAnon %.1f MiB before, peak %.1f MiB with %d scans not "
      "read\n",
      rss_before / 1048576.0, peak / 1048576.0, kReaders);
  EXPECT_LT(peak, rss_before + kMemoryBound);
  // Still held, not failed. The other client's Scan is counted until its
  // reactor's OnDone, which may run just after that client saw Finish: wait
  // for it to leave rather than read the gauge once.
  EXPECT_TRUE(StreamsOpen("scan", kReaders))
      << "scan streams open: " << OpenStreams("scan");

  AbandonHalf<v1::ScanResponse>(readers);
  EXPECT_EQ(Stats().last_seq(), last + 1);  // ExpectOthersServed's put
}

TEST_F(AbandonTest, TailClientsThatNeverReadUnderAFastWriter) {
  ASSERT_TRUE(EverythingReleased());
  const uint64_t rss_before = AnonRss(server_->pid());
  struct Reader {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::Replication::Stub> repl;
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientReader<v1::TailResponse>> reader;
  };
  std::vector<Reader> readers(kReaders);
  for (Reader& r : readers) {
    r.channel = OwnChannel(server_->address());
    r.repl = v1::Replication::NewStub(r.channel);
    r.ctx = Ctx(absl::Seconds(120));
    v1::TailRequest req;
    req.set_from_now(true);
    r.reader = r.repl->Tail(r.ctx.get(), req);
    v1::TailResponse first;
    ASSERT_TRUE(r.reader->Read(&first));  // the first progress message
  }
  ASSERT_TRUE(StreamsOpen("tail", kReaders));
  // The writer: 48 MiB in Batches of 16 x 64 KiB; every write must succeed.
  uint64_t peak = 0;
  std::atomic<bool> writing{true};
  std::thread sampler([&] {
    while (writing.load()) {
      peak = std::max(peak, AnonRss(server_->pid()));
      absl::SleepFor(absl::Milliseconds(50));
    }
  });
  const absl::Time start = absl::Now();
  Fill("tailbig/", 768, 64 << 10);
  const absl::Duration took = absl::Now() - start;
  ExpectOthersServed("tail-other");
  writing.store(false);
  sampler.join();
  printf(
      "server RssAnon %.1f MiB before, peak %.1f MiB with %d Tail streams "
      "not read; 48 MiB written in %s\n",
      rss_before / 1048576.0, peak / 1048576.0, kReaders,
      absl::FormatDuration(took).c_str());
  EXPECT_LT(peak, rss_before + kMemoryBound);
  EXPECT_TRUE(StreamsOpen("tail", kReaders))
      << "tail streams open: " << OpenStreams("tail");
  AbandonHalf<v1::TailResponse>(readers);
}

// Part 6: messages at the largest sizes the limits allow. Values of up to
// --max_value_bytes (60 KiB) with --scan_chunk_bytes at its largest (half of
// --max_message_bytes = 64 KiB): every response must still fit in a message.
class LargestMessagesTest : public CairndSuite {
 protected:
  static void SetUpTestSuite() {
    CairndOptions o;
    o.args = {"--durability=async",       "--max_message_bytes=64KiB",
              "--scan_chunk_bytes=32KiB", "--max_value_bytes=60KiB",
              "--max_key_bytes=1KiB",     "--tail_chunk_bytes=32KiB"};
    StartSuiteServer(std::move(o));
  }
};

TEST_F(LargestMessagesTest, ChunksNeverExceedTheMessageLimit) {
  auto channel = OwnChannel(server_->address());
  auto kv = v1::KV::NewStub(channel);
  auto repl = v1::Replication::NewStub(channel);
  // A value just under the chunk size, then one at the value limit.
  const uint64_t first =
      Put(kv.get(), "m/a", std::string((32 << 10) - 100, 'a'));
  Put(kv.get(), "m/b", std::string(60 << 10, 'b'));
  Put(kv.get(), "m/c", std::string(60 << 10, 'c'));
  for (bool reverse : {false, true}) {
    SCOPED_TRACE(reverse);
    v1::ScanRequest req;
    req.set_prefix("m/");
    req.set_reverse(reverse);
    auto ctx = Ctx();
    auto reader = kv->Scan(ctx.get(), req);
    v1::ScanResponse chunk;
    int keys = 0;
    while (reader->Read(&chunk)) {
      EXPECT_LE(chunk.ByteSizeLong(), 64u << 10);
      keys += chunk.kvs_size();
    }
    grpc::Status s = reader->Finish();
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    EXPECT_EQ(keys, 3);
  }
  {
    TxnStream t(kv.get());
    ASSERT_TRUE(t.Send(TBegin()));
    v1::TxnRequest scan;
    scan.mutable_scan()->set_prefix("m/");
    v1::TxnResponse resp;
    EXPECT_TRUE(t.Send(scan, &resp));
    EXPECT_LE(resp.ByteSizeLong(), 64u << 10);
    EXPECT_EQ(resp.scan().kvs_size(), 1);  // the second key would not fit
    EXPECT_TRUE(resp.scan().more());
    grpc::Status s = t.Finish();
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  }
  // MultiGet has no chunks: a response over --max_message_bytes (two
  // values of 60 and 32 KiB here) fails as gRPC refuses to send it,
  // RESOURCE_EXHAUSTED. The keys alone fit.
  {
    v1::MultiGetRequest mg;
    mg.add_keys("m/a");
    mg.add_keys("m/b");
    v1::MultiGetResponse mgr;
    EXPECT_TRUE(IsError(kv->MultiGet(Ctx().get(), mg, &mgr),
                        StatusCode::RESOURCE_EXHAUSTED, ""));
    mg.clear_keys();
    mg.add_keys("m/b");
    EXPECT_TRUE(kv->MultiGet(Ctx().get(), mg, &mgr).ok());
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::TailRequest req;
    req.set_from_seq(first);
    auto reader = repl->Tail(&ctx, req);
    v1::TailResponse r;
    int events = 0;
    while (events < 3 && reader->Read(&r)) events += r.events_size();
    EXPECT_EQ(events, 3);
    ctx.TryCancel();
    while (reader->Read(&r)) {
    }
    reader->Finish().IgnoreError();
  }
}

}  // namespace
}  // namespace cairn::test
