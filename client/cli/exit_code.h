// The exit codes of `cairn` (every subcommand except `bench`, which has its
// own). Scripts rely on them; docs/cli.md and `cairn --help` list them.
#ifndef CAIRN_CLIENT_CLI_EXIT_CODE_H_
#define CAIRN_CLIENT_CLI_EXIT_CODE_H_

namespace cairn::cli {

enum ExitCode : int {
  kExitOk = 0,
  // What was asked for does not exist: a get of an absent key (any of them,
  // for several keys), an unknown consumer or snapshot, a health check of an
  // unknown service; any call the server answers with NOT_FOUND. Also
  // `tail --count N --for D` that saw fewer than N events.
  kExitNotFound = 1,
  // Bad command line or script: unknown subcommand or flag, bad flag value,
  // wrong number of arguments, undecodable --hex/--base64 argument, script
  // syntax error, unreadable input file, bad TLS/token options.
  kExitUsage = 2,
  // The server or the connection failed: any other gRPC error (printed as
  // "cairn: <CODE>: <message>"), or `health` answering other than SERVING.
  kExitServer = 3,
  // Nothing was applied by design: a batch condition failed, a txn script's
  // condition failed, a transaction still ABORTED (conflict) after its
  // retries.
  kExitNotApplied = 4,
};

}  // namespace cairn::cli

#endif  // CAIRN_CLIENT_CLI_EXIT_CODE_H_
