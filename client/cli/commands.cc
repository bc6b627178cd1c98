#include "commands.h"

#include "bench.h"

namespace cairn::cli {
namespace {

int RunBench(const Args& args) { return bench::BenchMain(args); }

}  // namespace

const std::vector<Subcommand>& Subcommands() {
  static const std::vector<Subcommand> subcommands = {
      {"get", "read keys (several: one consistent MultiGet)", "Keys", RunGet},
      {"mget", "same as get", "Keys", RunGet},
      {"put", "set a key (--ttl, value from stdin or --value-file)", "Keys",
       RunPut},
      {"del", "delete keys (several: atomically)", "Keys", RunDelete},
      {"del-range", "delete [START, END) or a --prefix", "Keys",
       RunDeleteRange},
      {"scan", "list keys: --prefix, --start/--end, --limit, --reverse", "Keys",
       RunScan},
      {"merge", "add a merge operand (add, append, max, min)", "Keys",
       RunMerge},
      {"batch", "apply a script of writes atomically, if its conditions hold",
       "Atomic changes", RunBatch},
      {"txn", "run a transaction script, or an interactive transaction",
       "Atomic changes", RunTxn},
      {"tail", "follow committed changes (filters, named consumers)",
       "Change feed", RunTail},
      {"consumers", "list the named tail consumers and their lag",
       "Change feed", RunConsumers},
      {"ack", "acknowledge a consumer's progress", "Change feed", RunAck},
      {"drop-consumer", "forget a named consumer", "Change feed",
       RunDropConsumer},
      {"health", "is the server serving? (--wait for start scripts)",
       "Operations", RunHealth},
      {"stats", "engine state: sequences, levels, stalls, cache", "Operations",
       RunStats},
      {"flush", "write the memtable to an SSTable", "Operations", RunFlush},
      {"compact", "compact a key range (everything by default)", "Operations",
       RunCompact},
      {"checkpoint", "write a consistent copy of the database to DIR",
       "Operations", RunCheckpoint},
      {"snapshot", "acquire or release a snapshot for consistent reads",
       "Operations", RunSnapshot},
      {"bench", "load generator (cairn bench --help)", "Operations", RunBench},
  };
  return subcommands;
}

}  // namespace cairn::cli
