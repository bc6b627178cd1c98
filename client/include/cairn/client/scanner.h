// Scanner: the keys of one KV.Scan, read as a stream. The server sends
// chunks of bounded size and the scanner holds one chunk at a time, so a
// scan of any range costs bounded memory on both sides. Every key is read at
// one sequence (read_seq()).
//
//   std::unique_ptr<Scanner> s = client->Scan({.prefix = "user/"});
//   KeyValue kv;
//   while (s->Next(&kv)) { ... }
//   if (!s->status().ok()) { ... }
//
// If the call fails before the first key arrives and the failure is
// retryable (UNAVAILABLE), the scan is started again within its deadline;
// after a key was delivered an error ends the scan (status() says why).
// Destroying a scanner before the end cancels the stream.
//
// Not thread-safe.
#ifndef CAIRN_CLIENT_SCANNER_H_
#define CAIRN_CLIENT_SCANNER_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "cairn/client/types.h"

namespace cairn::client {

class Scanner {
 public:
  class Impl;
  explicit Scanner(std::unique_ptr<Impl> impl);
  ~Scanner();
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  // Stores the next key in *kv and returns true; false at the end of the
  // scan or on an error (see status()).
  bool Next(KeyValue* kv);
  // OK while scanning and after a complete scan.
  const absl::Status& status() const;
  // The sequence every key is read at; 0 until the first chunk arrived.
  uint64_t read_seq() const;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_SCANNER_H_
