#include "bench_config.h"

namespace cairn::bench {

const char* WorkloadName(Workload w) {
  switch (w) {
    case Workload::kNoop:
      return "noop";
    case Workload::kPut:
      return "put";
    case Workload::kGet:
      return "get";
    case Workload::kMixed:
      return "mixed";
    case Workload::kBatch:
      return "batch";
    case Workload::kScan:
      return "scan";
    case Workload::kMerge:
      return "merge";
    case Workload::kTail:
      return "tail";
  }
  return "?";
}

const char* DistributionName(Distribution d) {
  return d == Distribution::kZipfian ? "zipfian" : "uniform";
}

const char* DurabilityName(v1::Durability d) {
  switch (d) {
    case v1::DURABILITY_SYNC:
      return "sync";
    case v1::DURABILITY_ASYNC:
      return "async";
    default:
      return "default";
  }
}

bool Writes(Workload w) {
  switch (w) {
    case Workload::kPut:
    case Workload::kMixed:
    case Workload::kBatch:
    case Workload::kMerge:
    case Workload::kTail:
      return true;
    case Workload::kNoop:
    case Workload::kGet:
    case Workload::kScan:
      return false;
  }
  return false;
}

std::string ReportedDurability(const BenchConfig& c) {
  return Writes(c.workload) ? DurabilityName(c.durability) : "-";
}

}  // namespace cairn::bench
