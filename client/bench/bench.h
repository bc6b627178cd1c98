// `cairn bench`: the load generator. BenchMain runs one benchmark as
// described by its command-line arguments (everything after "bench") and
// returns the process exit code: 0 on success, 2 on a usage error, 1 when the
// run failed or saw errors.
#ifndef CAIRN_CLIENT_BENCH_BENCH_H_
#define CAIRN_CLIENT_BENCH_BENCH_H_

#include <string>
#include <vector>

namespace cairn::bench {

int BenchMain(const std::vector<std::string>& args);

}  // namespace cairn::bench

#endif  // CAIRN_CLIENT_BENCH_BENCH_H_
