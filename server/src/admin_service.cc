#include "admin_service.h"

#include <algorithm>
#include <filesystem>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cairn/wal/log.h"
#include "replica_follower.h"
#include "status_map.h"
#include "version.h"

namespace cairn::server {
grpc::ServerUnaryReactor* AdminService::Flush(
    grpc::CallbackServerContext* context, const v1::FlushRequest* request,
    v1::FlushResponse* response) {
  return RunUnary(env_, context, Role::kAdmin, [&]() -> grpc::Status {
    storage::FlushOptions fo;
    fo.wait = !request->no_wait();
    absl::Status s = env_->db()->Flush(fo);
    if (!s.ok()) return ToGrpc(s);
    response->set_flushed_seq(env_->db()->GetStats().flushed_sequence);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* AdminService::Compact(
    grpc::CallbackServerContext* context, const v1::CompactRequest* request,
    v1::CompactResponse* response) {
  return RunUnary(env_, context, Role::kAdmin, [&]() -> grpc::Status {
    const std::string* begin =
        request->start().empty() ? nullptr : &request->start();
    const std::string* end = request->end().empty() ? nullptr : &request->end();
    if (begin != nullptr && end != nullptr && *begin >= *end) {
      return InvalidField("end", "must be > start");
    }
    return ToGrpc(env_->db()->CompactRange(begin, end));
  });
}

grpc::ServerUnaryReactor* AdminService::Stats(
    grpc::CallbackServerContext* context, const v1::StatsRequest* request,
    v1::StatsResponse* response) {
  return RunUnary(env_, context, Role::kRead, [&]() -> grpc::Status {
    storage::DBStats st = env_->db()->GetStats();
    response->set_last_seq(st.last_sequence);
    response->set_flushed_seq(st.flushed_sequence);
    for (size_t i = 0; i < st.levels.size(); ++i) {
      const storage::LevelStats& l = st.levels[i];
      v1::LevelInfo* info = response->add_levels();
      info->set_level(static_cast<int>(i));
      info->set_files(l.files);
      info->set_bytes(l.bytes);
      info->set_target_bytes(l.target_bytes);
      info->set_score(l.score);
      info->set_files_being_compacted(l.files_being_compacted);
    }
    response->set_memtable_bytes(st.memtable_bytes);
    response->set_immutable_memtables(st.immutable_memtables);
    response->set_immutable_bytes(st.immutable_bytes);
    response->set_pending_compaction_bytes(st.pending_compaction_bytes);
    response->set_running_flushes(st.running_flushes);
    response->set_running_compactions(st.running_compactions);
    response->set_snapshots(st.snapshots);
    response->set_write_slowdown(st.write_slowdown);
    response->set_write_stopped(st.write_stopped);
    if (st.stall_reason != storage::StallReason::kCount) {
      response->set_stall_reason(
          std::string(storage::StallReasonName(st.stall_reason)));
    }
    response->set_delayed_write_rate(st.delayed_write_rate);
    response->set_write_amplification(st.write_amplification);
    response->set_live_sst_bytes(st.live_sst_bytes);
    response->set_wal_bytes(st.wal_bytes);
    response->set_wal_first_seq(env_->db()->wal()->FirstSequence());
    if (const ReplicaFollower* replica = env_->replica(); replica != nullptr) {
      const ReplicaStatus rs = replica->Status();
      response->set_replica_of(replica->primary());
      response->set_replica_connected(rs.connected);
      response->set_replica_primary_seq(rs.primary_seq);
      response->set_replica_lag_seqs(rs.lag_seqs);
      response->set_replica_lag_seconds(rs.lag_seconds);
    }
    response->set_block_cache_usage(st.block_cache_usage);
    response->set_block_cache_capacity(st.block_cache_capacity);
    if (!st.background_error.ok()) {
      response->set_background_error(st.background_error.ToString());
    }
    response->set_uptime_seconds(
        static_cast<uint64_t>(absl::ToInt64Seconds(absl::Now() - started_)));
    response->set_version(kCairnVersion);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* AdminService::Checkpoint(
    grpc::CallbackServerContext* context, const v1::CheckpointRequest* request,
    v1::CheckpointResponse* response) {
  return RunUnary(env_, context, Role::kAdmin, [&]() -> grpc::Status {
    const std::string& dir = request->dir();
    if (dir.empty()) return InvalidField("dir", "empty");
    if (dir[0] != '/') return InvalidField("dir", "must be an absolute path");
    if (dir.find('\0') != std::string::npos) {
      return InvalidField("dir", "contains a NUL byte");
    }
    std::error_code ec;
    if (std::filesystem::exists(dir, ec)) {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                          absl::StrCat("dir: ", dir, " already exists"));
    }
    absl::StatusOr<uint64_t> seq = env_->db()->Checkpoint(dir);
    if (!seq.ok()) return ToGrpc(seq.status());
    response->set_dir(dir);
    response->set_seq(*seq);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* AdminService::AcquireSnapshot(
    grpc::CallbackServerContext* context,
    const v1::AcquireSnapshotRequest* request,
    v1::AcquireSnapshotResponse* response) {
  return RunUnary(env_, context, Role::kRead, [&]() -> grpc::Status {
    const Limits& l = env_->limits();
    // absl::Milliseconds takes an int64: a ttl_millis of 2^63 or more would
    // turn negative (a snapshot that expires before it is returned).
    const uint64_t millis = std::min<uint64_t>(
        request->ttl_millis(), std::numeric_limits<int64_t>::max());
    absl::Duration ttl =
        millis == 0 ? l.snapshot_default_ttl : absl::Milliseconds(millis);
    ttl = std::min(ttl, l.snapshot_max_ttl);
    absl::StatusOr<SnapshotRegistry::Acquired> a =
        env_->snapshots().Acquire(ttl);
    if (!a.ok()) return ToGrpc(a.status());
    response->set_seq(a->seq);
    response->set_expires_at_unix_micros(
        static_cast<uint64_t>(absl::ToUnixMicros(a->expires_at)));
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* AdminService::ReleaseSnapshot(
    grpc::CallbackServerContext* context,
    const v1::ReleaseSnapshotRequest* request,
    v1::ReleaseSnapshotResponse* response) {
  return RunUnary(env_, context, Role::kRead, [&]() -> grpc::Status {
    if (request->seq() == 0) return InvalidField("seq", "must be > 0");
    return ToGrpc(env_->snapshots().Release(request->seq()));
  });
}

}  // namespace cairn::server
