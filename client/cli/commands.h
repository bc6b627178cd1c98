// The subcommands of `cairn`: each takes its arguments (after the
// subcommand's name) and returns the process exit code (exit_code.h).
// Subcommands() is the table main.cc dispatches on and `cairn help` lists.
#ifndef CAIRN_CLIENT_CLI_COMMANDS_H_
#define CAIRN_CLIENT_CLI_COMMANDS_H_

#include <string>
#include <vector>

namespace cairn::cli {

using Args = std::vector<std::string>;

// kv_commands.cc
int RunPut(const Args& args);
int RunGet(const Args& args);
int RunDelete(const Args& args);
int RunDeleteRange(const Args& args);
int RunScan(const Args& args);
int RunMerge(const Args& args);
// batch_command.cc
int RunBatch(const Args& args);
// txn_command.cc
int RunTxn(const Args& args);
// tail_commands.cc
int RunTail(const Args& args);
int RunConsumers(const Args& args);
int RunAck(const Args& args);
int RunDropConsumer(const Args& args);
// admin_commands.cc
int RunStats(const Args& args);
int RunFlush(const Args& args);
int RunCompact(const Args& args);
int RunCheckpoint(const Args& args);
int RunHealth(const Args& args);
int RunSnapshot(const Args& args);

struct Subcommand {
  const char* name;
  const char* summary;  // one line for `cairn help`
  const char* group;    // heading it is listed under
  int (*run)(const Args& args);
};

// In the order `cairn help` lists them; includes aliases (mget, delete, ...)
// with a summary that names what they alias, and `bench`.
const std::vector<Subcommand>& Subcommands();

}  // namespace cairn::cli

#endif  // CAIRN_CLIENT_CLI_COMMANDS_H_
