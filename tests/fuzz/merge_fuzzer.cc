// libFuzzer target for merge operands and the built-in merge operators (add,
// append, max, min): operand decoding, write-time validation, full merges
// (MergeRegistry::Fold over a base and a stack of operands) and partial
// merges (MergeRegistry::PartialMerge, as compaction uses them).
//
// Every result is checked against a reference model written here from the
// documented rules (merge_operator.h, docs/architecture.md "Merge
// operators"): add/max/min take canonical decimal int64 text ("-?(0|[1-9]
// [0-9]*)", no "-0"), add wraps on overflow (two's complement), absence is
// the identity; append inserts its argument between a present value and the
// operand. A mismatch, a crash or a sanitizer report is a finding.
//
// Input: byte 0 holds flags:
//   bit 0  the key has a base value (the first field below)
//   bit 1  typed operands (else raw encoded operands)
//   bit 2  engine mode (below)
// followed by fields, each one length byte and that many bytes:
//   raw:   base?, then encoded operands (merge_operand.h), as stored
//   typed: base?, then per operand: op index (0 add, 1 append, 2 max, 3 min,
//          4 an unregistered name), a spelling byte, 8 bytes of int64
//          (little-endian) and the rest as append's argument; the spelling
//          byte picks canonical text or a near miss ("+1", "01", "-0", " 1",
//          one past the int64 range).
// The last field (or the whole input, if it has no fields) is also used as
// the name of an extra operator registered next to the built-ins.
//
// Engine mode runs the same rules through a real DB (in a temporary
// directory, all keys deleted at the start of each input): each field is one
// operation, [kind, key index, payload...] on keys k0..k3: put, delete (or
// delete-range with a payload), merge of a raw encoded operand, merge of a
// typed operand, flush, compact everything, close and reopen (WAL replay), hold
// or release a snapshot. After flushes, compactions, reopens and at the end,
// every key (and every key at each held snapshot) must read as the reference
// fold says: value and revision, NotFound, or FailedPrecondition. This covers
// operands in the memtable, in SSTables, folded or partially merged by
// compaction (around snapshots) and replayed from the WAL.
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cairn/storage/db.h"
#include "cairn/storage/merge_operator.h"
#include "cairn/storage/options.h"
#include "fuzz_support.h"
#include "merge_operand.h"
#include "merge_registry.h"

namespace cairn::storage {
namespace {

[[noreturn]] void Fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "merge_fuzzer: %s %.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void Check(bool ok, const char* what, std::string_view detail = {}) {
  if (!ok) Fail(what, detail);
}

// --- The reference model ---------------------------------------------------

// Canonical decimal int64, by a route independent of the operators' parser:
// accumulate in 128 bits, then demand that printing the number gives back
// exactly the text.
std::optional<int64_t> RefParse(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  size_t i = 0;
  const bool negative = s[0] == '-';
  if (negative) i = 1;
  if (i == s.size()) return std::nullopt;
  __int128 v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  if (negative) v = -v;
  if (v < std::numeric_limits<int64_t>::min() ||
      v > std::numeric_limits<int64_t>::max()) {
    return std::nullopt;
  }
  const int64_t r = static_cast<int64_t>(v);
  if (std::to_string(r) != s) return std::nullopt;  // "01", "-0"
  return r;
}

enum class RefOp { kAdd, kAppend, kMax, kMin, kUnknown };

RefOp RefFind(std::string_view name) {
  if (name == "add") return RefOp::kAdd;
  if (name == "append") return RefOp::kAppend;
  if (name == "max") return RefOp::kMax;
  if (name == "min") return RefOp::kMin;
  return RefOp::kUnknown;
}

int64_t RefCombine(RefOp op, int64_t older, int64_t newer) {
  switch (op) {
    case RefOp::kAdd:
      return static_cast<int64_t>(static_cast<uint64_t>(older) +
                                  static_cast<uint64_t>(newer));
    case RefOp::kMax:
      return older > newer ? older : newer;
    case RefOp::kMin:
      return older < newer ? older : newer;
    default:
      Fail("RefCombine of a non-integer operator");
  }
}

struct RefOperand {
  bool decodable = false;
  std::string op, argument, operand;
};

// The documented encoding: varint32 name_len, name, varint32 arg_len,
// argument, operand. Decoded here byte by byte (a varint32 has at most 5
// bytes and must fit 32 bits).
bool RefVarint32(std::string_view* in, uint32_t* out) {
  uint64_t v = 0;
  for (int i = 0; i < 5; ++i) {
    if (in->empty()) return false;
    const uint8_t b = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      if (v > std::numeric_limits<uint32_t>::max()) return false;
      *out = static_cast<uint32_t>(v);
      return true;
    }
  }
  return false;
}

RefOperand RefDecode(std::string_view in) {
  RefOperand r;
  uint32_t n = 0;
  if (!RefVarint32(&in, &n) || n > in.size()) return r;
  r.op.assign(in.substr(0, n));
  in.remove_prefix(n);
  if (!RefVarint32(&in, &n) || n > in.size()) return r;
  r.argument.assign(in.substr(0, n));
  in.remove_prefix(n);
  r.operand.assign(in);
  r.decodable = true;
  return r;
}

absl::StatusCode RefValidate(const RefOperand& m) {
  if (!m.decodable) return absl::StatusCode::kInvalidArgument;
  switch (RefFind(m.op)) {
    case RefOp::kUnknown:
      return absl::StatusCode::kInvalidArgument;
    case RefOp::kAppend:
      return absl::StatusCode::kOk;
    default:
      return m.argument.empty() && RefParse(m.operand).has_value()
                 ? absl::StatusCode::kOk
                 : absl::StatusCode::kInvalidArgument;
  }
}

struct RefResult {
  absl::StatusCode code = absl::StatusCode::kOk;
  std::string value;
};

RefResult RefFold(const std::string* base,
                  const std::vector<std::string>& operands) {
  std::optional<std::string> value;
  if (base != nullptr) value = *base;
  for (const std::string& encoded : operands) {
    const RefOperand m = RefDecode(encoded);
    if (!m.decodable) return {absl::StatusCode::kDataLoss, {}};
    const RefOp op = RefFind(m.op);
    if (op == RefOp::kUnknown) return {absl::StatusCode::kFailedPrecondition};
    if (op == RefOp::kAppend) {
      value = value.has_value() ? *value + m.argument + m.operand : m.operand;
      continue;
    }
    // add/max/min ignore the argument (validation refuses one).
    std::optional<int64_t> old;
    if (value.has_value()) {
      old = RefParse(*value);
      if (!old.has_value()) return {absl::StatusCode::kFailedPrecondition};
    }
    const std::optional<int64_t> delta = RefParse(m.operand);
    if (!delta.has_value()) return {absl::StatusCode::kFailedPrecondition};
    value =
        std::to_string(old.has_value() ? RefCombine(op, *old, *delta) : *delta);
  }
  return {absl::StatusCode::kOk, value.value_or("")};
}

// What PartialMerge must produce, or nullopt where it must refuse.
std::optional<std::string> RefPartial(const std::string& older,
                                      const std::string& newer) {
  const RefOperand a = RefDecode(older), b = RefDecode(newer);
  if (!a.decodable || !b.decodable) return std::nullopt;
  if (a.op != b.op || a.argument != b.argument) return std::nullopt;
  const RefOp op = RefFind(a.op);
  std::string operand;
  switch (op) {
    case RefOp::kUnknown:
      return std::nullopt;
    case RefOp::kAppend:
      operand = a.operand + a.argument + b.operand;
      break;
    default: {
      const auto x = RefParse(a.operand), y = RefParse(b.operand);
      if (!x.has_value() || !y.has_value()) return std::nullopt;
      operand = std::to_string(RefCombine(op, *x, *y));
    }
  }
  std::string out;
  EncodeMergeOperand(&out, a.op, a.argument, operand);
  return out;
}

// --- Input parsing ---------------------------------------------------------

std::vector<std::string_view> Fields(std::string_view in) {
  std::vector<std::string_view> out;
  while (!in.empty()) {
    const size_t n = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    out.push_back(in.substr(0, n));
    in.remove_prefix(std::min(n, in.size()));
  }
  return out;
}

// Integer text for a typed operand: canonical, or a near miss.
std::string Spell(uint8_t how, int64_t v) {
  const std::string s = std::to_string(v);
  switch (how % 8) {
    case 1:
      return v >= 0 ? "+" + s : s;
    case 2:
      return v >= 0 ? "0" + s : "-0" + s.substr(1);
    case 3:
      return v == 0 ? "-0" : s;
    case 4:
      return " " + s;
    case 5:  // one past the range, or a digit appended
      return v == std::numeric_limits<int64_t>::max()   ? "9223372036854775808"
             : v == std::numeric_limits<int64_t>::min() ? "-9223372036854775809"
                                                        : s + "0";
    case 6:
      return s + "x";
    default:
      return s;
  }
}

std::string TypedOperand(std::string_view field) {
  static constexpr std::string_view kNames[] = {"add", "append", "max", "min",
                                                "nosuchop"};
  const std::string_view name =
      kNames[field.empty() ? 0 : static_cast<uint8_t>(field[0]) % 5];
  const uint8_t how = field.size() > 1 ? static_cast<uint8_t>(field[1]) : 0;
  uint64_t bits = 0;
  for (size_t i = 0; i < 8 && i + 2 < field.size(); ++i) {
    bits |= static_cast<uint64_t>(static_cast<uint8_t>(field[i + 2]))
            << (8 * i);
  }
  const std::string_view argument =
      field.size() > 10 ? field.substr(10) : std::string_view();
  std::string out;
  EncodeMergeOperand(&out, name, name == "append" ? argument : "",
                     Spell(how, static_cast<int64_t>(bits)));
  return out;
}

// --- The checks ------------------------------------------------------------

const MergeRegistry& Registry() {
  static const std::shared_ptr<const MergeRegistry> r = [] {
    auto c = MergeRegistry::Create({});
    if (!c.ok()) Fail("MergeRegistry::Create failed");
    return *c;
  }();
  return *r;
}

// Decoding agrees with the reference, and re-encoding what was decoded
// decodes to the same parts.
void CheckDecode(const std::string& encoded) {
  MergeOperand m;
  const bool ok = DecodeMergeOperand(encoded, &m);
  const RefOperand ref = RefDecode(encoded);
  Check(ok == ref.decodable, "DecodeMergeOperand disagrees", encoded);
  if (ok) {
    Check(m.op == ref.op && m.argument == ref.argument &&
              m.operand == ref.operand,
          "decoded parts differ", encoded);
    std::string again;
    EncodeMergeOperand(&again, m.op, m.argument, m.operand);
    MergeOperand m2;
    Check(DecodeMergeOperand(again, &m2) && m2.op == m.op &&
              m2.argument == m.argument && m2.operand == m.operand,
          "encode/decode round trip");
  }
  std::string_view value;
  uint64_t expiry = 0;
  const bool has_expiry = DecodeValueWithExpiry(encoded, &value, &expiry);
  Check(has_expiry == (encoded.size() >= kExpirySize), "DecodeValueWithExpiry");
  if (has_expiry) {
    std::string again;
    EncodeValueWithExpiry(&again, value, expiry);
    Check(again == encoded, "expiry round trip");
  }

  const absl::Status v = Registry().Validate(encoded);
  Check(v.code() == RefValidate(ref), "Validate disagrees", v.ToString());
  if (!v.ok()) Check(!v.message().empty(), "Validate error without message");
}

absl::Status Fold(const std::string* base,
                  const std::vector<std::string>& operands, std::string* out) {
  std::vector<std::string_view> views(operands.begin(), operands.end());
  return Registry().Fold("key", base, views, out);
}

void CheckFold(const std::string* base,
               const std::vector<std::string>& operands) {
  std::string got = "garbage";
  const absl::Status s = Fold(base, operands, &got);
  const RefResult want = RefFold(base, operands);
  Check(s.code() == want.code, "Fold status disagrees", s.ToString());
  if (s.ok()) {
    Check(got == want.value, "Fold value disagrees", got);
  } else {
    const std::string message(s.message());
    Check(message.find("key 'key'") != std::string::npos,
          "Fold error does not name the key", message);
  }

  // Each adjacent pair: PartialMerge as the reference says, and folding the
  // combined operand has the effect of folding the pair.
  for (size_t i = 0; i + 1 < operands.size(); ++i) {
    std::string combined = "garbage";
    const bool merged =
        Registry().PartialMerge(operands[i], operands[i + 1], &combined);
    const std::optional<std::string> want_combined =
        RefPartial(operands[i], operands[i + 1]);
    Check(merged == want_combined.has_value(), "PartialMerge disagrees");
    if (!merged) continue;
    Check(combined == *want_combined, "PartialMerge result", combined);
    std::string pair_value, one_value;
    const absl::Status pair =
        Fold(base, {operands[i], operands[i + 1]}, &pair_value);
    const absl::Status one = Fold(base, {combined}, &one_value);
    Check(pair.ok() == one.ok(), "partial merge changed a fold's outcome");
    if (pair.ok())
      Check(pair_value == one_value, "partial merge changed value");
  }

  // Compaction's view: shrink the stack with partial merges (no base seen),
  // then fold; the outcome must be that of the whole stack.
  std::vector<std::string> reduced;
  for (const std::string& op : operands) {
    std::string combined;
    if (!reduced.empty() &&
        Registry().PartialMerge(reduced.back(), op, &combined)) {
      reduced.back() = std::move(combined);
    } else {
      reduced.push_back(op);
    }
  }
  std::string reduced_value;
  const absl::Status r = Fold(base, reduced, &reduced_value);
  Check(r.ok() == s.ok(), "reduced stack changed the fold's outcome",
        r.ToString());
  if (s.ok()) Check(reduced_value == got, "reduced stack changed the value");
}

// A custom operator whose name comes from the input.
class NamedOperator final : public MergeOperator {
 public:
  explicit NamedOperator(std::string name) : name_(std::move(name)) {}
  std::string_view Name() const override { return name_; }
  absl::Status ValidateOperand(std::string_view,
                               std::string_view) const override {
    return absl::OkStatus();
  }
  absl::Status Apply(const std::string*, std::string_view,
                     std::string_view operand,
                     std::string* result) const override {
    result->assign(operand);
    return absl::OkStatus();
  }

 private:
  std::string name_;
};

void CheckRegistration(std::string_view name) {
  auto r = MergeRegistry::Create(
      {std::make_shared<NamedOperator>(std::string(name))});
  const bool want_ok =
      !name.empty() && name.size() <= 255 && RefFind(name) == RefOp::kUnknown;
  Check(r.ok() == want_ok, "Create with an extra operator",
        r.status().ToString());
  if (!r.ok()) {
    Check(r.status().code() == absl::StatusCode::kInvalidArgument,
          "Create error code");
    return;
  }
  const MergeOperator* op = (*r)->Find(name);
  Check(op != nullptr && op->Name() == name, "Find of the extra operator");
  std::string encoded, out;
  EncodeMergeOperand(&encoded, name, "", "v");
  Check((*r)->Validate(encoded).ok(), "Validate of the extra operator");
  std::vector<std::string_view> ops = {encoded};
  Check((*r)->Fold("k", nullptr, ops, &out).ok() && out == "v",
        "Fold with the extra operator");
}

// --- Engine mode -----------------------------------------------------------

// A key as the reference sees it: the base below its operands (a Put's
// value, or absent), the operands since, and the revision a read reports.
struct RefKey {
  std::optional<std::string> base;
  std::vector<std::string> operands;
  uint64_t seq = 0;
};
using RefState = std::array<RefKey, 4>;

std::string EngineKey(size_t i) { return "k" + std::to_string(i); }

void CheckRead(DB* db, const Snapshot* snapshot, const RefState& state) {
  ReadOptions ro;
  ro.snapshot = snapshot;
  for (size_t i = 0; i < state.size(); ++i) {
    const RefKey& k = state[i];
    absl::StatusOr<GetResult> got = db->Get(ro, EngineKey(i));
    if (!k.base.has_value() && k.operands.empty()) {
      Check(absl::IsNotFound(got.status()), "engine: deleted key readable",
            got.status().ToString());
      continue;
    }
    const RefResult want = RefFold(k.base ? &*k.base : nullptr, k.operands);
    Check(got.status().code() == want.code, "engine: read status disagrees",
          got.status().ToString());
    if (got.ok()) {
      Check(got->value == want.value, "engine: read value disagrees",
            got->value);
      Check(got->seq == k.seq, "engine: read revision disagrees");
    }
  }
}

class Engine {
 public:
  // The fuzzer's directory for databases.
  static const std::string& Root() {
    // Never destroyed: RemoveEngine uses it at exit.
    static const std::string* root =
        new std::string(fuzz::MakeFuzzTempDir("cairn-merge-fuzz"));
    return *root;
  }

  Engine() {
    static int n = 0;
    dir_ = absl::StrCat(Root(), "/db", n++);
    options_.write_buffer_size = 64 << 10;
    options_.level0_file_num_compaction_trigger = 2;
    options_.wal.segment_size = 256 << 10;
    options_.block_cache_bytes = 256 << 10;
    Open();
  }
  ~Engine() {
    ReleaseAll();
    if (db_ != nullptr) db_->Close().IgnoreError();
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void Run(std::string_view field) {
    const uint8_t kind = field.empty() ? 0 : static_cast<uint8_t>(field[0]);
    const size_t key =
        field.size() > 1 ? static_cast<uint8_t>(field[1]) % 4 : 0;
    const std::string_view payload =
        field.size() > 2 ? field.substr(2) : std::string_view();
    RefKey& ref = state_[key];
    WriteOptions wo;
    switch (kind % 8) {
      case 0: {
        auto s = db_->Put(wo, EngineKey(key), payload);
        Check(s.ok(), "engine: Put failed", s.status().ToString());
        ref = RefKey{std::string(payload), {}, *s};
        break;
      }
      case 1: {
        if (payload.empty()) {
          auto s = db_->Delete(wo, EngineKey(key));
          Check(s.ok(), "engine: Delete failed", s.status().ToString());
          ref = RefKey{};
          break;
        }
        const size_t end = key + 1 + static_cast<uint8_t>(payload[0]) % 4;
        auto s = db_->DeleteRange(wo, EngineKey(key), EngineKey(end));
        Check(s.ok(), "engine: DeleteRange failed", s.status().ToString());
        for (size_t i = key; i < end && i < state_.size(); ++i) {
          state_[i] = RefKey{};
        }
        break;
      }
      case 2:
      case 3: {
        const std::string encoded =
            kind % 8 == 2 ? std::string(payload) : TypedOperand(payload);
        const RefOperand m = RefDecode(encoded);
        if (!m.decodable) break;
        auto s = db_->Merge(wo, EngineKey(key), m.op, m.operand, m.argument);
        const absl::StatusCode want = RefValidate(m);
        Check(s.status().code() == want, "engine: Merge status disagrees",
              s.status().ToString());
        if (!s.ok()) break;
        std::string stored;
        EncodeMergeOperand(&stored, m.op, m.argument, m.operand);
        ref.operands.push_back(std::move(stored));
        ref.seq = *s;
        break;
      }
      case 4: {
        absl::Status s = db_->Flush();
        Check(s.ok(), "engine: Flush failed", s.ToString());
        CheckAll();
        break;
      }
      case 5: {
        absl::Status s = db_->CompactRange(nullptr, nullptr);
        Check(s.ok(), "engine: CompactRange failed", s.ToString());
        CheckAll();
        break;
      }
      case 6:
        ReleaseAll();
        Check(db_->Close().ok(), "engine: Close failed");
        db_.reset();
        Open();
        CheckAll();
        break;
      case 7:
        if (snapshots_.size() < 2) {
          snapshots_.push_back({db_->GetSnapshot(), state_});
        } else {
          db_->ReleaseSnapshot(snapshots_.front().first);
          snapshots_.erase(snapshots_.begin());
        }
        break;
    }
  }

  // Deletes every key (the reference state becomes all absent).
  void Reset() {
    auto s = db_->DeleteRange(WriteOptions(), "k", "l");
    Check(s.ok(), "engine: DeleteRange failed", s.status().ToString());
    state_ = RefState();
  }

  void ReleaseAll() {
    for (const auto& s : snapshots_) db_->ReleaseSnapshot(s.first);
    snapshots_.clear();
  }

  void CheckAll() {
    CheckRead(db_.get(), nullptr, state_);
    for (const auto& [snapshot, state] : snapshots_) {
      CheckRead(db_.get(), snapshot, state);
    }
  }

 private:
  void Open() {
    auto db = DB::Open(options_, dir_);
    if (!db.ok()) Fail("engine: Open failed", db.status().ToString());
    db_ = std::move(*db);
  }

  std::string dir_;
  Options options_;
  std::unique_ptr<DB> db_;
  RefState state_;
  std::vector<std::pair<const Snapshot*, RefState>> snapshots_;
};

// One DB serves many inputs (opening one per input would cost more than
// the input); each input starts by deleting k0..k3, and the DB is replaced
// by a fresh one every 2000 inputs to bound its files.
std::unique_ptr<Engine>& TheEngine() {
  static auto* engine = new std::unique_ptr<Engine>;
  return *engine;
}

void RemoveEngine() {
  TheEngine().reset();
  std::error_code ec;
  std::filesystem::remove_all(Engine::Root(), ec);
}

void RunEngine(const std::vector<std::string_view>& fields) {
  static int inputs = 0;
  std::unique_ptr<Engine>& engine = TheEngine();
  if (engine == nullptr) std::atexit(RemoveEngine);
  if (engine == nullptr || ++inputs % 2000 == 0) {
    engine.reset();
    engine = std::make_unique<Engine>();
  }
  engine->Reset();
  for (size_t i = 0; i < fields.size() && i < 32; ++i) engine->Run(fields[i]);
  engine->CheckAll();
  engine->ReleaseAll();
}

}  // namespace
}  // namespace cairn::storage

// Per-input leak checks race with the engine's background threads (see
// fuzz_support.h).
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  cairn::fuzz::DisablePerInputLeakCheck(argc, argv);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn::storage;
  if (size == 0 || size > 4096) return -1;
  const uint8_t flags = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1,
                              size - 1);
  std::vector<std::string_view> fields = Fields(rest);
  if ((flags & 4) != 0) {
    RunEngine(fields);
    return 0;
  }
  size_t next = 0;
  std::optional<std::string> base;
  if ((flags & 1) != 0 && next < fields.size()) base.emplace(fields[next++]);
  std::vector<std::string> operands;
  for (; next < fields.size() && operands.size() < 16; ++next) {
    operands.push_back((flags & 2) != 0 ? TypedOperand(fields[next])
                                        : std::string(fields[next]));
  }
  if (base.has_value()) CheckDecode(*base);
  for (const std::string& op : operands) CheckDecode(op);
  CheckFold(base.has_value() ? &*base : nullptr, operands);
  CheckRegistration(fields.empty() ? rest : fields.back());
  return 0;
}
