// A randomized test of the whole WAL against a model: random appends (sizes,
// sequence counts, durable or not), syncs, lookups, readers, retention,
// truncation, clean reopens, process crashes and power losses (unsynced data
// dropped, or torn at a sector), with small segments so that rotation, spare
// segments and deferred seals happen all the time. After every operation the
// log must agree with the model; after a power loss it must hold a gap-free
// prefix of the model that contains every record acknowledged as durable.
//
// Each seed prints itself on failure. CAIRN_WAL_MODEL_OPS sets the number of
// operations per seed (default 1500) and CAIRN_WAL_MODEL_SEEDS the number of
// seeds (default 6), for longer runs.
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cairn/util/fault_injection_file_system.h"
#include "gtest/gtest.h"
#include "wal_test_util.h"

namespace cairn::wal {
namespace {

using test_util::OwnedRecord;
using test_util::ReadAll;
using test_util::ReadLog;
using test_util::ReadResult;
using test_util::SameRecords;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::atoi(v) : fallback;
}

class ModelTest : public test_util::WalTest {
 protected:
  // Everything a seed decides once.
  struct Config {
    SyncMode mode;
    uint64_t segment_size;
    bool spares;
  };

  Config Choose(uint32_t seed) {
    std::mt19937 rng(seed);
    const SyncMode modes[] = {SyncMode::kNone, SyncMode::kEveryCommit,
                              SyncMode::kPeriodic, SyncMode::kBytes};
    Config c;
    c.mode = modes[rng() % 4];
    c.segment_size = uint64_t{16} << 10 << (rng() % 3);  // 16, 32, 64 KiB
    c.spares = rng() % 4 != 0;
    return c;
  }

  Options MakeOptions(const Config& c) {
    Options o = SmallOptions(c.segment_size, c.mode);
    o.fs = &fs_;
    o.sync_interval = absl::Milliseconds(2);
    o.bytes_per_sync = 8 << 10;
    o.prepare_next_segment = c.spares;
    o.prefault_bytes = 16 << 10;
    return o;
  }

  // The model's records from the log's first sequence on.
  std::vector<OwnedRecord> Live() const {
    std::vector<OwnedRecord> live;
    for (const OwnedRecord& r : model_) {
      if (r.first_seq >= first_seq_) live.push_back(r);
    }
    return live;
  }

  uint64_t ModelLast() const {
    return model_.empty()
               ? first_seq_ - 1
               : model_.back().first_seq + model_.back().seq_count - 1;
  }

  // Retention may go on in the background (a segment sealed after the
  // owner's call goes then), up to the watermark: follow the log's first
  // sequence within those bounds.
  void FollowFirstSequence(const Log& log) {
    const uint64_t first = log.FirstSequence();
    ASSERT_GE(first, first_seq_);
    ASSERT_LE(first, std::max(first_seq_, watermark_));
    first_seq_ = first;
  }

  void ExpectLogMatchesModel(const Log& log) {
    FollowFirstSequence(log);
    ASSERT_EQ(log.LastSequence(), ModelLast());
    ReadResult r = ReadLog(log);
    ASSERT_TRUE(absl::IsDeadlineExceeded(r.status)) << r.status;
    ASSERT_TRUE(SameRecords(r.records, Live()));
  }

  void Run(uint32_t seed, int ops) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const Config config = Choose(seed);
    const Options options = MakeOptions(config);
    std::mt19937_64 rng(seed * 7919ull + 1);
    auto chance = [&](int percent) {
      return static_cast<int>(rng() % 100) < percent;
    };
    model_.clear();
    first_seq_ = 1;
    watermark_ = 0;
    size_t durable = 0;  // records [0, durable) of model_ are durable

    ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, dir_));
    for (int op = 0; op < ops; ++op) {
      SCOPED_TRACE("op " + std::to_string(op));
      const int kind = static_cast<int>(rng() % 1000);
      if (std::getenv("CAIRN_WAL_MODEL_TRACE") != nullptr) {
        fprintf(stderr, "op %d kind %d model %zu durable %zu first %lu\n", op,
                kind, model_.size(), durable, first_seq_);
      }
      if (kind < 800) {
        // Append: mostly small, sometimes large records.
        size_t size = rng() % 200;
        if (chance(10)) size = rng() % (config.segment_size / 3);
        const uint32_t count = 1 + static_cast<uint32_t>(rng() % 4);
        AppendOptions ao;
        ao.sync = chance(5);
        std::string payload = test_util::Payload(ModelLast() + 1, size);
        ASSERT_OK_AND_ASSIGN(AppendResult r, log->Append(payload, count, ao));
        ASSERT_EQ(r.first_seq, ModelLast() + 1);
        model_.push_back(
            OwnedRecord{r.first_seq, count, std::move(payload), r.position});
        if (ao.sync || config.mode == SyncMode::kEveryCommit) {
          durable = model_.size();
        }
      } else if (kind < 840) {
        ASSERT_OK(log->Sync());
        durable = model_.size();
      } else if (kind < 880) {
        // A lookup and a reader from a random live sequence.
        const uint64_t last = ModelLast();
        if (last < first_seq_) continue;
        const uint64_t seq = first_seq_ + rng() % (last - first_seq_ + 1);
        ASSERT_OK_AND_ASSIGN(Position p, log->Find(seq));
        size_t i = 0;
        while (model_[i].first_seq + model_[i].seq_count <= seq) ++i;
        ASSERT_EQ(p, model_[i].position) << "seq " << seq;
        ASSERT_OK_AND_ASSIGN(auto reader, log->NewReader(seq));
        ReadResult got = ReadAll(reader.get());
        ASSERT_TRUE(absl::IsDeadlineExceeded(got.status)) << got.status;
        ASSERT_TRUE(SameRecords(
            got.records,
            std::vector<OwnedRecord>(model_.begin() + i, model_.end())));
      } else if (kind < 910) {
        // Retention up to a random sequence.
        const uint64_t below =
            first_seq_ + rng() % (ModelLast() + 2 - first_seq_);
        log->SetDeletableBelow(below);
        watermark_ = std::max(watermark_, below);
        ASSERT_OK(log->EnforceRetention());
        FollowFirstSequence(*log);
      } else if (kind < 930) {
        // Truncate at a random record boundary (maybe emptying the log).
        size_t keep = model_.size();
        while (keep > 0 && model_[keep - 1].first_seq >= first_seq_ &&
               chance(70)) {
          --keep;
        }
        const uint64_t seq =
            keep == 0 || model_[keep - 1].first_seq < first_seq_
                ? first_seq_ - 1
                : model_[keep - 1].first_seq + model_[keep - 1].seq_count - 1;
        if (seq + 1 < first_seq_) continue;
        ASSERT_OK(log->TruncateAfter(seq));
        if (seq == ModelLast()) continue;  // a no-op: nothing cut or synced
        while (!model_.empty() && model_.back().first_seq > seq) {
          model_.pop_back();
        }
        watermark_ = std::min(watermark_, seq + 1);
        durable = model_.size();  // truncation syncs what it keeps
      } else if (kind < 950) {
        ASSERT_OK(log->Close());
        log.reset();
        ASSERT_OK_AND_ASSIGN(log, Log::Open(options, dir_));
        durable = model_.size();
      } else if (kind < 970) {
        // A process crash: the page cache keeps everything.
        log->SimulateCrashForTesting();
        log.reset();
        ASSERT_OK_AND_ASSIGN(log, Log::Open(options, dir_));
        durable = model_.size();  // recovery syncs what it found
      } else {
        // A power loss.
        fs_.SetActive(false);
        log->SimulateCrashForTesting();
        log.reset();
        const PowerLossMode mode = chance(50) ? PowerLossMode::kDropAll
                                              : PowerLossMode::kKeepTornPrefix;
        ASSERT_OK(fs_.DropUnsyncedData(mode, static_cast<uint32_t>(rng())));
        fs_.SetActive(true);
        ASSERT_OK_AND_ASSIGN(log, Log::Open(options, dir_));
        FollowFirstSequence(*log);
        ReadResult got = ReadLog(*log);
        ASSERT_TRUE(absl::IsDeadlineExceeded(got.status)) << got.status;
        std::vector<OwnedRecord> live = Live();
        ASSERT_LE(got.records.size(), live.size());
        // Every durable record survived, and nothing but a prefix did.
        // (Records below the first sequence were sealed, hence durable,
        // before retention deleted them, whatever `durable` says.)
        const size_t dead = model_.size() - live.size();
        const size_t durable_live = durable > dead ? durable - dead : 0;
        ASSERT_GE(got.records.size(), durable_live);
        live.resize(got.records.size());
        ASSERT_TRUE(SameRecords(got.records, live));
        model_.resize(model_.size() - (Live().size() - got.records.size()));
        durable = model_.size();
      }
      ExpectLogMatchesModel(*log);
      if (HasFatalFailure()) return;
    }
    ASSERT_OK(log->Close());
  }

  FaultInjectionFileSystem fs_{FileSystem::Default()};
  std::vector<OwnedRecord> model_;
  uint64_t first_seq_ = 1;
  uint64_t watermark_ = 0;  // the highest SetDeletableBelow still in force
};

TEST_F(ModelTest, RandomOperationsAgreeWithTheModel) {
  const int ops = EnvInt("CAIRN_WAL_MODEL_OPS", 1500);
  const int seeds = EnvInt("CAIRN_WAL_MODEL_SEEDS", 6);
  const uint32_t base =
      static_cast<uint32_t>(EnvInt("CAIRN_WAL_MODEL_SEED", 1));
  for (int i = 0; i < seeds && !HasFatalFailure(); ++i) {
    std::filesystem::remove_all(dir_);
    Run(base + static_cast<uint32_t>(i), ops);
  }
}

}  // namespace
}  // namespace cairn::wal
