// WritePool: threads for handler work that blocks on the disk and has no
// asynchronous engine call: a transaction's sync commit and a durable
// record of a Tail consumer's progress.
//
// gRPC runs callback handlers on very few threads (two on a 2-core
// machine). Such a call blocks its thread until a WAL sync completes, so run
// inline at most two would be in the engine at once and the group commit
// could not gather a group. On this pool as many wait together as there are
// pool threads, and they share one fdatasync. Plain sync writes (Put,
// Delete, DeleteRange, Merge, Batch) do not come here: they use
// DB::WriteAsync, which waits without a thread (service_env.h).
//
// Thread-safe. Stop() runs what is queued, then joins the threads.
#ifndef CAIRN_SERVER_WRITE_POOL_H_
#define CAIRN_SERVER_WRITE_POOL_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cairn::server {

class WritePool {
 public:
  explicit WritePool(int threads);
  ~WritePool();  // Stop()

  WritePool(const WritePool&) = delete;
  WritePool& operator=(const WritePool&) = delete;

  // Runs `task` on a pool thread. After Stop, runs it inline.
  void Submit(std::function<void()> task);
  void Stop();

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace cairn::server

#endif  // CAIRN_SERVER_WRITE_POOL_H_
