// WritePool: threads that run durable (sync) writes for the unary handlers.
//
// gRPC runs callback handlers on very few threads (two on a 2-core
// machine). A sync write blocks its thread until the WAL group commit has
// synced, so run inline at most two writes would be in the engine at once
// and the group commit could not gather a group. Handing sync writes to this
// pool lets as many wait together as there are pool threads, and they share
// one fdatasync. Async writes and reads stay inline: they do not block, and
// the hand-off would only add latency.
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
